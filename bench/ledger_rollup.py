"""What the ledger's roll-up (karma/ledger/rollup.py) saves and costs, on MariaDB (issue 26, item 4).

    python bench/ledger_rollup.py [--changes 1000000] [--days 180] [--detail-days 90] [--reasons 0.05]

Fills a database of its own on the MariaDB the tests use (TEST_MARIADB_URL's server and account;
created, then dropped) with `--changes` ledger rows spread evenly over `--days` days: 77 servers
(72 changes a server a day at a million over 180 days, docs/capacity.md's 1 message a minute with
5 % karma), `--names` names each (200) drawn by Zipf's law (s = 1.1: a few names get most of the karma),
400 givers each, `--reasons` of the changes with a reason. One name of the first server gets
100,000 of the changes (a tenth in a smaller run): its page is the chart's worst case. The rows are
inserted directly, in bulk, not through the write path: what is measured is their size and the
roll-up.

Reports, per million changes: the ledger's bytes (InnoDB's data_length + index_length after
ANALYZE TABLE), before the roll-up, right after it (the space InnoDB keeps for the next rows; the
file does not shrink) and after OPTIMIZE TABLE (what the rows need), for the whole ledger and for
its part older than the detail; the roll-up's time per million rows rolled up; and the public
page of the 100,000-change name (median of 20, Django's test client), before and after.
"""

import argparse
import os
import random
import statistics
import string
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVERS, GIVERS = 77, 400
HOT_CHANGES = 100_000
CHUNK = 5000  # rows per INSERT


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--detail-days", type=int, default=90)
    parser.add_argument("--reasons", type=float, default=0.05, help="the share of changes that give a reason")
    parser.add_argument("--names", type=int, default=200, help="names per server")
    parser.add_argument("--database", default="test_popple_r_rollup")
    args = parser.parse_args()
    server = urlsplit(os.environ.get("TEST_MARIADB_URL", "mysql://popple:popple@127.0.0.1:3306/popple"))
    os.environ["DATABASE_URL"] = server._replace(path=f"/{args.database}").geturl()
    os.environ["DJANGO_READ_DOT_ENV_FILE"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = "poppleproject.settings"
    os.environ["LEDGER_DETAIL_DAYS"] = str(args.detail_days)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-rollup-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    for variable in ("CELERY_BROKER_URL", "REDIS_URL"):  # the roll-up's mark in this process's memory
        os.environ.pop(variable, None)
    import MySQLdb

    admin = MySQLdb.connect(
        host=server.hostname, port=server.port or 3306, user=server.username, passwd=server.password
    )
    admin.cursor().execute(f"DROP DATABASE IF EXISTS `{args.database}`")
    admin.cursor().execute(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        rows = run(args)
    finally:
        admin.cursor().execute(f"DROP DATABASE `{args.database}`")
    from bench.report import markdown_table, report

    options = f"--changes {args.changes} --days {args.days} --detail-days {args.detail_days} "
    options += f"--reasons {args.reasons} --names {args.names}"
    run_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"Run: {run_at}, `{options}`\n\n" + markdown_table(["", "value"], rows)
    report("ledger_rollup", text)


def said(rng: random.Random) -> str:
    """A reason as varied as people's: 1 to 6 words of random letters, which compress no better
    than text (the roll-up's tables are compressed on MariaDB: the same words each time would flatter it)."""
    words = (rng.choices(string.ascii_lowercase, k=rng.randint(2, 9)) for _ in range(rng.randint(1, 6)))
    return " ".join("".join(word) for word in words)


def run(args):
    from django.db import connection
    from django.test import Client

    from karma.ledger import reads, rollup
    from karma.models import GuildSettings, Karma, LedgerEntry, LedgerReason, LedgerRollup

    now = datetime.now(UTC)
    start = now - timedelta(days=args.days)
    edge = rollup.cutoff(args.detail_days, now)
    rng = random.Random(2026)
    weights = [1 / (rank**1.1) for rank in range(1, args.names + 1)]
    totals: dict[tuple[int, str], int] = {}
    table = LedgerEntry._meta.db_table
    columns = "guild_id, channel_id, message_id, revision, author_id, author_name, subject, delta, total, version, source, reason, created_at"  # noqa: E501
    insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 13)})"  # noqa: S608 (fixed names)
    step = (now - start) / args.changes
    hot = min(HOT_CHANGES, args.changes // 10)  # a smaller run: a tenth of its changes
    hot_every = args.changes // hot
    old = 0
    fill = time.perf_counter()
    batch = []
    with connection.cursor() as cursor:
        for n in range(args.changes):
            at = start + step * n
            if n % hot_every == 0:
                guild, subject = 1, "hot"
            else:
                guild = 1 + rng.randrange(SERVERS)
                subject = f"name{rng.choices(range(args.names), weights)[0]}"
            delta = 1 if rng.random() < 0.85 else -1
            key = (guild, subject)
            totals[key] = totals.get(key, 0) + delta
            giver = rng.randrange(GIVERS)
            reason = said(rng) if rng.random() < args.reasons else ""
            batch.append(
                (guild, guild * 10, 10**15 + n, 0, 5000 + giver, f"person{giver}", subject, delta, totals[key],
                 totals[key], "chat", reason, at.replace(tzinfo=None))
            )  # fmt: skip
            old += at < edge
            if len(batch) == CHUNK:
                cursor.executemany(insert, batch)
                batch = []
        if batch:
            cursor.executemany(insert, batch)
    fill = time.perf_counter() - fill
    Karma.objects.bulk_create([Karma(guild_id=g, subject=s, karma=k) for (g, s), k in totals.items()])
    GuildSettings.objects.create(guild_id=1, name="bench", public=True)
    client = Client()

    def page_ms():
        timings = []
        for _ in range(20):
            began = time.perf_counter()
            response = client.get("/servers/1/hot/", secure=True)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.status_code
        return statistics.median(timings)

    def read_ms():
        """The page's two reads of the ledger: the chart's points, the last five reasons."""
        chart, why = [], []
        for _ in range(20):
            began = time.perf_counter()
            reads.history(1, "hot", 1000)
            chart.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            reads.reasons(1, "hot", 5)
            why.append((time.perf_counter() - began) * 1000)
        return statistics.median(chart), statistics.median(why)

    def size(model):
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE TABLE {model._meta.db_table}")
            cursor.fetchall()
            cursor.execute(
                "SELECT data_length + index_length FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name = %s",
                [model._meta.db_table],
            )
            return cursor.fetchone()[0]

    def optimize():
        with connection.cursor() as cursor:
            for model in (LedgerEntry, LedgerRollup, LedgerReason):
                cursor.execute(f"OPTIMIZE TABLE {model._meta.db_table}")
                cursor.fetchall()

    optimize()  # as freshly written as the roll-up's result will be
    before = size(LedgerEntry)
    page_before, reads_before = page_ms(), read_ms()
    began = time.perf_counter()
    rolled = rollup.roll_up(args.detail_days, now=now)
    took = time.perf_counter() - began
    right_after = size(LedgerEntry) + size(LedgerRollup) + size(LedgerReason)
    optimize()
    detail, days, why = size(LedgerEntry), size(LedgerRollup), size(LedgerReason)
    kept = LedgerEntry.objects.filter(created_at__lt=edge).count()
    day_rows, reasons = LedgerRollup.objects.count(), LedgerReason.objects.count()
    page_after, reads_after = page_ms(), read_ms()
    million = 1_000_000 / args.changes
    recent = args.changes - old
    # The part older than the detail, before: its share of the rows at the table's bytes per row.
    old_before = before * old / args.changes
    old_after = detail * kept / (recent + kept) + days + why
    return [
        ["changes (rows) inserted; of them older than the detail", f"{args.changes:,}; {old:,}"],
        ["time to insert them (bulk, not the write path)", f"{fill:.0f} s"],
        ["ledger bytes per million changes, before", f"{before * million / 1e6:,.1f} MB"],
        [
            "... right after the roll-up (InnoDB keeps the freed pages for new rows)",
            f"{right_after * million / 1e6:,.1f} MB",
        ],
        [
            "... after OPTIMIZE TABLE: detail + days + reasons kept",
            f"{(detail + days + why) * million / 1e6:,.1f} MB"
            f" ({detail / 1e6:,.1f} + {days / 1e6:,.1f} + {why / 1e6:,.1f})",
        ],
        ["whole ledger, after / before", f"{(detail + days + why) / before:.2f}"],
        [
            "part older than the detail, after / before: days + reasons kept (+ rows kept whole)",
            f"**{old_after / old_before:.3f}**: {days / old_before:.3f} + {why / old_before:.3f}"
            f" (+ {(old_after - days - why) / old_before:.3f})",
        ],
        [
            "rows rolled up; rows kept whole; day rows made; reasons kept",
            f"{rolled:,}; {kept:,}; {day_rows:,}; {reasons:,}",
        ],
        ["bytes per day row; per reason kept (index included)", f"{days / day_rows:.0f}; {why / max(reasons, 1):.0f}"],
        ["roll-up time", f"{took:.1f} s: {took * 1_000_000 / rolled:.0f} s per million rows rolled up"],
        [
            f"page of a name with {hot:,} changes (median of 20), before / after",
            f"{page_before:.1f} / {page_after:.1f} ms",
        ],
        [
            "... of which the chart's points (reads.history); the last reasons (reads.reasons), before / after",
            f"{reads_before[0]:.1f}; {reads_before[1]:.1f} / {reads_after[0]:.1f}; {reads_after[1]:.1f} ms",
        ],
    ]


if __name__ == "__main__":
    main()
