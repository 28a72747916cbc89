"""How many bytes a ledger row takes in MariaDB, its indexes included (docs/capacity.md).

    python bench/ledger.py [--messages 20000] [--database test_popple_ledger]

Applies that many one-name karma messages (50 servers, 400 people, 2,000 names) through
`karma.ledger.writes.apply_changes`, as a worker does, into a database of its own on the MariaDB the tests
use (TEST_MARIADB_URL's server and account; created, then dropped), then reads InnoDB's size of
the ledger table after ANALYZE TABLE.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--database", default="test_popple_ledger")
    args = parser.parse_args()
    server = urlsplit(os.environ.get("TEST_MARIADB_URL", "mysql://popple:popple@127.0.0.1:3306/popple"))
    os.environ["DATABASE_URL"] = server._replace(path=f"/{args.database}").geturl()
    os.environ["DJANGO_READ_DOT_ENV_FILE"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = "poppleproject.settings"
    import MySQLdb

    admin = MySQLdb.connect(
        host=server.hostname, port=server.port or 3306, user=server.username, passwd=server.password
    )
    admin.cursor().execute(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from bench.report import markdown_table, report
        from karma.ledger.writes import apply_changes
        from karma.message import IncomingMessage

        call_command("migrate", verbosity=0)
        rng = random.Random(2026)
        start = time.perf_counter()
        for n in range(args.messages):
            guild = 1000 + n % 50
            message = IncomingMessage(
                guild_id=guild,
                channel_id=guild * 10,
                message_id=10**12 + n,
                author_id=5000 + n % 400,
                author_name=f"person{n % 400}",
                author_global_name="",
                author_nick="",
                content="",
                bot_id=1,
                bot_name="Popple",
                mentions={},
                can_manage=False,
            )
            apply_changes(message, [(f"name{rng.randrange(2000)}", 1)])
        elapsed = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE TABLE karma_ledgerentry")
            cursor.fetchall()
            cursor.execute("SELECT COUNT(*) FROM karma_ledgerentry")
            [rows] = cursor.fetchone()
            cursor.execute(
                "SELECT data_length, index_length FROM information_schema.tables"
                " WHERE table_schema = DATABASE() AND table_name = 'karma_ledgerentry'"
            )
            data, index = cursor.fetchone()
        connection.close()
    finally:
        admin.cursor().execute(f"DROP DATABASE `{args.database}`")
    table = markdown_table(
        ["", "value"],
        [
            ["ledger rows", f"{rows:,}"],
            ["data, bytes", f"{data:,}"],
            ["indexes, bytes", f"{index:,}"],
            ["bytes per row, indexes included", f"{(data + index) / rows:.0f}"],
            ["messages/s applied (one connection, no rules)", f"{args.messages / elapsed:,.0f}"],
        ],
    )
    report("ledger", f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{table}")


if __name__ == "__main__":
    main()
