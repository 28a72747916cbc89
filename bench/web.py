"""How fast are the public pages of a big server: 100,000 subjects and 1,000,000 ledger rows?

    python bench/web.py

Target (issue 15): a board renders in under 100 ms on this machine. Fills a database of its own,
then renders each page through Django's whole request path in this process (Django's test client:
no network, no gunicorn), 30 times each, and reports the median and the slowest. The database is
the embedded default's SQLite, in var/bench/; BENCH_WEB_DATABASE_URL=mysql://... runs it on a
MariaDB database of that name instead (dropped and made again). Timings on a shared machine are
noisy.
"""

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE = ROOT / "var" / "bench" / "web.sqlite3"
DATABASE = os.environ.get("BENCH_WEB_DATABASE_URL", f"sqlite:///{SQLITE}")
os.environ.update(
    DJANGO_SETTINGS_MODULE="poppleproject.settings",
    DJANGO_READ_DOT_ENV_FILE="false",
    DATABASE_URL=DATABASE,
    DJANGO_ALLOWED_HOSTS="testserver",
    DJANGO_SECRET_KEY="bench-web-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
)
for variable in ("CELERY_BROKER_URL", "REDIS_URL"):
    os.environ.pop(variable, None)

from bench.pipeline import fresh_database  # noqa: E402
from bench.report import markdown_table, report  # noqa: E402
from testkit.processes import manage  # noqa: E402

GUILD = 424242
SUBJECTS = 100_000
LEDGER = 1_000_000
TARGET_MS = 100
RUNS = 30
BATCH = 5_000


def fill():
    """The big server: 100,000 subjects whose 1,000,000 changes follow a long tail (a few names get
    most of them), and a small server beside it."""
    from django.db import connection, transaction

    rng = random.Random(15)
    cursor = connection.cursor()
    names = [f"subject {n:06d} {rng.choice(['☕', 'build', 'ci/cd', 'שלום', ''])}".strip() for n in range(SUBJECTS)]
    # Each subject's number of changes: at least one, the rest by a power law.
    weights = [1 / (rank + 1) ** 0.8 for rank in range(SUBJECTS)]
    counts = [1] * SUBJECTS
    for index in rng.choices(range(SUBJECTS), weights=weights, k=LEDGER - SUBJECTS):
        counts[index] += 1
    start = 1_700_000_000
    totals, ledger = {}, []
    for index, name in enumerate(names):
        total = 0
        for change in range(counts[index]):
            delta = rng.choice([1, 1, 1, 2, -1])
            total += delta
            moment = datetime.fromtimestamp(start + index % 86400 * 300 + change * 60, UTC).replace(tzinfo=None)
            ledger.append((GUILD, name, delta, total, change + 1, "chat", moment, ""))
        totals[name] = (total, counts[index])
    cursor.executemany(
        "INSERT INTO karma_guildsettings (guild_id, name, icon, public, announce, allow_self_karma, cooldown, budget, "
        "max_change, ignored, reactions, thanks, thank_words, channels, points, log_refusals, language, locale, "
        "role_rewards, role_stack) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (guild, name, "", 1, 1, 0, 0, 0, 0, "[]", "[]", 0, '["thanks"]', "{}", "karma", 10, "", "", "[]", 0)
            for guild, name in [(GUILD, "The big server"), (GUILD + 1, "A small")]
        ],
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(GUILD, name, total, version, now) for name, (total, version) in totals.items()]
    for begin in range(0, len(rows), BATCH):
        cursor.executemany(
            "INSERT INTO karma_karma (guild_id, subject, karma, version, updated_at) VALUES (%s, %s, %s, %s, %s)",
            rows[begin : begin + BATCH],
        )
    for begin in range(0, len(ledger), BATCH):
        with transaction.atomic():
            cursor.executemany(
                "INSERT INTO karma_ledgerentry (guild_id, subject, delta, total, version, source, created_at, "
                "author_name, revision, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, '')",
                ledger[begin : begin + BATCH],
            )
    cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "ANALYZE TABLE karma_karma, karma_ledgerentry")
    busiest = max(totals, key=lambda name: totals[name][1])
    middle = sorted(totals, key=lambda name: totals[name][0])[SUBJECTS // 2]
    return busiest, totals[busiest][1], middle


def timed(client, url):
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        response = client.get(url, secure=True)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return statistics.median(times), max(times)


def fresh():
    """An empty, migrated database."""
    if DATABASE.startswith("sqlite"):
        SQLITE.parent.mkdir(parents=True, exist_ok=True)
        for path in SQLITE.parent.glob(SQLITE.name + "*"):
            path.unlink()
        result = manage("migrate", DATABASE_URL=DATABASE, timeout=300)
        if result.returncode:
            raise SystemExit(f"migrate failed: {result.stderr}")
    else:
        fresh_database(DATABASE)


def main():
    began = time.monotonic()
    fresh()
    import django

    django.setup()
    from urllib.parse import quote

    from django.db import connection

    busiest, changes, middle = fill()
    filled = time.monotonic() - began

    from django.test import Client

    client = Client()
    pages = [
        ("servers (/)", "/"),
        ("board, first pages", f"/servers/{GUILD}/"),
        ("board, top page 400 and bottom page 400", f"/servers/{GUILD}/?top=400&bottom=400"),
        ("board as JSON", f"/servers/{GUILD}.json"),
        (
            f"subject with the most changes ({changes:,}, chart of the last 1,000)",
            f"/servers/{GUILD}/{quote(busiest)}/",
        ),
        ("subject in the middle of the board", f"/servers/{GUILD}/{quote(middle)}/"),
    ]
    rows = []
    for label, url in pages:
        median, slowest = timed(client, url)
        rows.append([label, f"{median:.1f}", f"{slowest:.1f}", "met" if median < TARGET_MS else "not met"])
    text = "\n".join(
        [
            f"A server with {SUBJECTS:,} subjects and {LEDGER:,} ledger rows on {connection.vendor} "
            f"(filled in {filled:.0f} s); "
            f"each page rendered {RUNS} times through Django's request path in one process; "
            f"target: under {TARGET_MS} ms. A shared machine: figures are noisy.",
            "",
            markdown_table(["Page", "median ms", "slowest ms", f"< {TARGET_MS} ms (median)"], rows),
        ]
    )
    report("web", text)


if __name__ == "__main__":
    main()
