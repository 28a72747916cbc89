"""Moving in from the Go Popple (connorkuehl/popple): its karma and announce settings, per server.

Two layouts, both with the tables `entities` (name, server_id, karma) and `configs` (server_id,
no_announce): the SQLite file of Popple's latest releases (internal/database/sqlite/migrations)
and the MySQL database of its 2022 `popplesvc` (migrations/). Older SQLite files made by GORM add
`id` and `deleted_at` columns: deleted rows are skipped.

Idempotent: every subject imported gets a ledger row with source "import", and a subject that has
one is never imported again. A server that already has karma is refused unless `merge` is given
(then Popple's karma is added to what it has).

A SQLite file may come from anyone: what it holds is read, never run. Its schema calls no function
that is not harmless (trusted_schema off); both names must be plain tables, with no computed column
(a view or a computed column makes rows or values out of nothing); no value may exceed
MAX_VALUE_BYTES; and no table may hold more than `max_rows` rows: the rows are read with that limit,
so a bigger one is refused before it is held in memory. The MySQL password never comes in the URL:
a command line is readable by anyone on the machine.
"""

import sqlite3
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import router, transaction

from karma.models import MAX_NAME_LENGTH, GuildSettings, Karma, LedgerEntry, SettingChange
from karma.names import clean

CHANGED_BY = "import from Popple"
BATCH = 500  # subjects written per statement
TABLES = ("entities", "configs")
MAX_ROWS = 1_000_000  # rows per table, unless told otherwise
# No honest value comes near: a name is at most a Discord message (4,000 characters).
MAX_VALUE_BYTES = 65536


class TooBig(ValueError):
    """A table with more rows than the import takes."""


@dataclass
class Summary:
    servers: int = 0
    subjects: int = 0
    karma: int = 0
    settings: int = 0
    skipped: Counter = field(default_factory=Counter)  # why -> how many rows
    refused: list = field(default_factory=list)  # servers that have karma already

    def lines(self) -> list[str]:
        lines = [
            f"Imported {self.subjects} subjects with {self.karma} karma in total into {self.servers} servers; "
            f"{self.settings} announce settings."
        ]
        if self.refused:
            shown = ", ".join(map(str, self.refused[:5])) + (" and more" if len(self.refused) > 5 else "")
            lines.append(f"Refused {len(self.refused)} servers that have karma already ({shown}): --merge adds to it.")
        lines += [f"Skipped {count} rows: {why}." for why, count in sorted(self.skipped.items())]
        return lines


@dataclass(frozen=True)
class Source:
    entities: list  # (server_id, name, karma)
    configs: list  # (server_id, no_announce)


def read(location: str, password: Callable[[], str] | None = None, max_rows: int = MAX_ROWS) -> Source:
    """The rows of a Go Popple database: a SQLite file's path, or a mysql:// URL without its
    password (`password` gives it). ValueError says why they cannot be read; TooBig, that a table
    holds more than `max_rows` rows."""
    if location.startswith(("mysql://", "mariadb://")):
        return _read_mysql(location, password, max_rows)
    return _read_sqlite(location, max_rows)


def _read_sqlite(path: str, max_rows: int) -> Source:
    try:
        db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True)
    except sqlite3.Error as problem:
        raise ValueError(f"cannot open {path}: {problem}") from None
    try:
        db.execute("PRAGMA trusted_schema = OFF")
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        for table in TABLES:
            _plain_table(db, table)
        return _source(db, max_rows)
    except sqlite3.DataError:  # (SQLite's "string or blob too big")
        raise ValueError(f"{path} holds a value longer than {MAX_VALUE_BYTES} bytes: not a Popple database") from None
    except TooBig as problem:
        raise TooBig(f"{path}: {problem}") from None
    except (sqlite3.DatabaseError, ValueError) as problem:
        raise ValueError(f"{path} is not a Popple database: {problem}") from None
    finally:
        db.close()


def _plain_table(db: sqlite3.Connection, table: str) -> None:
    """ValueError unless `table` is missing (the query says so later) or a table of stored values."""
    found = db.execute("SELECT type, sql FROM sqlite_master WHERE name = ?", [table]).fetchone()
    if found is None:
        return
    kind, sql = found
    if kind != "table" or sql.upper().startswith("CREATE VIRTUAL"):
        raise ValueError(f"{table} is a {'virtual table' if kind == 'table' else kind}, not a table")
    for _, column, *_, hidden in db.execute(f"PRAGMA table_xinfo({table})"):
        if hidden:  # 2 and 3: generated columns
            raise ValueError(f"{table}.{column} is computed, not stored")


def _read_mysql(url: str, password: Callable[[], str] | None, max_rows: int) -> Source:
    import MySQLdb  # Django's MySQL driver

    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        raise ValueError(
            "the URL holds a password, which anyone on this machine can read in the command line: "
            "leave it out, and set MYSQL_PWD or type it when asked"
        )
    try:
        db = MySQLdb.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            user=urllib.parse.unquote(parts.username or ""),
            password=password() if password else "",
            database=parts.path.lstrip("/"),
            charset="utf8mb4",
        )
    except MySQLdb.Error as problem:
        raise ValueError(f"cannot connect to {parts.hostname}: {problem.args[-1]}") from None
    try:
        return _source(db, max_rows)
    except MySQLdb.Error as problem:
        raise ValueError(f"not a Popple database: {problem.args[-1]}") from None
    finally:
        db.close()


def _source(db, max_rows: int) -> Source:
    """Both tables of an open Go Popple database (a DB-API connection: SQLite or MySQL alike)."""
    return Source(
        _rows(db, "entities", "server_id, name, karma", max_rows),
        _rows(db, "configs", "server_id, no_announce", max_rows),
    )


def _rows(db, table: str, columns: str, max_rows: int) -> list[tuple]:
    cursor = db.cursor()
    cursor.execute(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 (fixed names)
    present = {column[0] for column in cursor.description}
    cursor.fetchall()
    deleted = " WHERE deleted_at IS NULL" if "deleted_at" in present else ""
    # One row past the limit says that there are more, without reading them.
    cursor.execute(f"SELECT {columns} FROM {table}{deleted} LIMIT {int(max_rows) + 1}")  # noqa: S608 (fixed names)
    rows = cursor.fetchall()
    if len(rows) > max_rows:
        raise TooBig(f"{table} has more than {max_rows} rows (--max-rows): nothing was imported")
    return list(rows)


def _server_id(value) -> int | None:
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**63 else None


def import_popple(source: Source, merge: bool = False, progress: Callable[[Iterable], Iterable] = iter) -> Summary:
    """Import `source` into Popple's database; what was done and what was skipped, and why.

    `progress` wraps the servers as they are imported (a progress bar).
    """
    summary = Summary()
    karma: dict[int, dict[str, int]] = defaultdict(dict)
    for server_id, name, value in source.entities:
        guild_id, subject = _server_id(server_id), clean(str(name))
        if guild_id is None:
            summary.skipped["the server id is not a Discord id"] += 1
        elif not subject:
            summary.skipped["the name is empty once invisible characters are removed"] += 1
        elif len(subject) > MAX_NAME_LENGTH:
            summary.skipped[f"the name is longer than {MAX_NAME_LENGTH} characters"] += 1
        elif not isinstance(value, int) or isinstance(value, bool):
            summary.skipped["the karma is not a number"] += 1
        elif not value:
            summary.skipped["no karma"] += 1
        else:
            # Names the Go Popple kept apart that are one name here (karma/names.py) add up.
            karma[guild_id][subject] = karma[guild_id].get(subject, 0) + value
    announce = {}
    for server_id, no_announce in source.configs:
        guild_id = _server_id(server_id)
        if guild_id is None:
            summary.skipped["the server id is not a Discord id"] += 1
        else:
            announce[guild_id] = not no_announce
    for guild_id in progress(sorted(set(karma) | set(announce))):
        _import_server(guild_id, karma.get(guild_id, {}), announce.get(guild_id), merge, summary)
    return summary


def _import_server(guild_id: int, subjects: dict[str, int], announce: bool | None, merge: bool, summary: Summary):
    with transaction.atomic(using=router.db_for_write(Karma)):
        imported = set(
            LedgerEntry.objects.filter(guild_id=guild_id, source=LedgerEntry.Source.IMPORT).values_list(
                "subject", flat=True
            )
        )
        todo = {subject: value for subject, value in subjects.items() if subject not in imported}
        if todo and not merge and Karma.objects.filter(guild_id=guild_id).exists():
            summary.refused.append(guild_id)
            return
        if announce is not None and _set_announce(guild_id, announce):
            summary.settings += 1
        if not todo:
            return
        names = sorted(todo)  # locked in name order, as chat locks them
        for start in range(0, len(names), BATCH):
            _add(guild_id, {name: todo[name] for name in names[start : start + BATCH]})
        summary.servers += 1
        summary.subjects += len(todo)
        summary.karma += sum(todo.values())


def _add(guild_id: int, batch: dict[str, int]) -> None:
    Karma.objects.bulk_create([Karma(guild_id=guild_id, subject=name) for name in batch], ignore_conflicts=True)
    rows = Karma.objects.select_for_update().filter(guild_id=guild_id, subject__in=batch).order_by("subject")
    entries = []
    for row in rows:
        row.karma += batch[row.subject]
        row.version += 1
        entries.append(
            LedgerEntry(
                guild_id=guild_id,
                subject=row.subject,
                delta=batch[row.subject],
                total=row.karma,
                version=row.version,
                source=LedgerEntry.Source.IMPORT,
            )
        )
        row.save(update_fields=["karma", "version", "updated_at"])
    LedgerEntry.objects.bulk_create(entries)


def _set_announce(guild_id: int, announce: bool) -> bool:
    settings, _ = GuildSettings.objects.select_for_update().get_or_create(guild_id=guild_id)
    if settings.announce == announce:
        return False
    settings.announce = announce
    settings.save(update_fields=["announce"])
    shown = {True: "on", False: "off"}
    SettingChange.objects.create(
        guild_id=guild_id, setting="announce", old=shown[not announce], new=shown[announce], changed_by=CHANGED_BY
    )
    return True
