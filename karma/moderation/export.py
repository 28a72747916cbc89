"""A server's karma and ledger as CSV or JSON, for the admin and `manage.py export_karma`.

Older than LEDGER_DETAIL_DAYS the ledger holds days, not changes (karma/ledger/rollup.py): the
`rollup` table lists them (one row per name and day: the net change, how many changes, the total
after the last), so an export says what was rolled up; JSON holds all three tables.

Made row by row, so that a server with millions of ledger rows is exported without holding
them in memory. In CSV, a text that a spreadsheet would run as a formula (a name such as
`=HYPERLINK(...)`, typed by anyone in chat) starts with `'`, which spreadsheets show and do not run.
"""

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from io import TextIOBase

from django.db.models import QuerySet

from karma.models import GuildSettings, Karma, LedgerEntry, LedgerRollup

KARMA_FIELDS = ["subject", "karma", "merged_into", "updated_at"]
LEDGER_FIELDS = [
    "id",
    "created_at",
    "subject",
    "delta",
    "total",
    "source",
    "author_id",
    "author_name",
    "admin_user",
    "message_id",
    "channel_id",
    "reverts",
]
ROLLUP_FIELDS = ["day", "subject", "delta", "changes", "total", "last_at"]
TABLES = {"karma": KARMA_FIELDS, "ledger": LEDGER_FIELDS, "rollup": ROLLUP_FIELDS}
CHUNK = 2000  # rows read from the database at a time
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula (OWASP)


def rows(guild_id: int, table: str) -> Iterator[dict]:
    """The server's rows of `table` ("karma", "ledger" or "rollup"), as plain values in TABLES' order."""
    query: QuerySet
    if table == "karma":
        query = Karma.objects.filter(guild_id=guild_id).order_by("-karma", "subject").values_list(*KARMA_FIELDS)
    elif table == "rollup":
        query = LedgerRollup.objects.filter(guild_id=guild_id).order_by("day", "subject").values_list(*ROLLUP_FIELDS)
    else:
        query = (
            LedgerEntry.objects.filter(guild_id=guild_id)
            .order_by("id")
            .values_list(*LEDGER_FIELDS[:8], "admin_user__username", *LEDGER_FIELDS[9:11], "reverts_id")
        )
    for values in query.iterator(chunk_size=CHUNK):
        yield {
            name: value.isoformat() if isinstance(value, datetime | date) else value
            for name, value in zip(TABLES[table], values, strict=True)
        }


class _Line:
    """csv's writer writes to a file: this one hands the line back."""

    def write(self, text: str) -> str:
        return text


def csv_pieces(guild_id: int, table: str) -> Iterator[str]:
    """The table as CSV, a line at a time."""
    writer = csv.writer(_Line())
    yield writer.writerow(TABLES[table])
    for row in rows(guild_id, table):
        yield writer.writerow(map(_inert, row.values()))


def _inert(value):
    """The value, a text that a spreadsheet would read as a formula made plain text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def json_pieces(guild_id: int) -> Iterator[str]:
    """{"server": {"id", "name"}, "karma": [...], "ledger": [...], "rollup": [...]}, a row at a time."""
    name = GuildSettings.objects.filter(guild_id=guild_id).values_list("name", flat=True).first() or ""
    yield '{"server": ' + json.dumps({"id": guild_id, "name": name}, ensure_ascii=False)
    for table in TABLES:
        yield f', "{table}": ['
        for index, row in enumerate(rows(guild_id, table)):
            yield (",\n" if index else "\n") + json.dumps(row, ensure_ascii=False)
        yield "]"
    yield "}\n"


def write(out: TextIOBase, pieces: Iterator[str]) -> None:
    for piece in pieces:
        out.write(piece)
