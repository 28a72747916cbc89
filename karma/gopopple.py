"""Moving in from the Go Popple (connorkuehl/popple): its karma and announce settings, per server.

Two layouts, both with the tables `entities` (name, server_id, karma) and `configs` (server_id,
no_announce): the SQLite file of Popple's latest releases (internal/database/sqlite/migrations)
and the MySQL database of its 2022 `popplesvc` (migrations/). Older SQLite files made by GORM add
`id` and `deleted_at` columns: deleted rows are skipped.

Idempotent: every subject imported gets a ledger row with source "import", and a subject that has
one is never imported again. A server that already has karma is refused unless `merge` is given
(then Popple's karma is added to what it has).
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


def read(location: str) -> Source:
    """The rows of a Go Popple database: a SQLite file's path, or a mysql:// URL."""
    if location.startswith(("mysql://", "mariadb://")):
        return _read_mysql(location)
    return _read_sqlite(location)


def _read_sqlite(path: str) -> Source:
    try:
        db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True)
    except sqlite3.Error as problem:
        raise ValueError(f"cannot open {path}: {problem}") from None
    try:
        return _source(db)
    except sqlite3.DatabaseError as problem:
        raise ValueError(f"{path} is not a Popple database: {problem}") from None
    finally:
        db.close()


def _read_mysql(url: str) -> Source:
    import MySQLdb  # Django's MySQL driver

    parts = urllib.parse.urlsplit(url)
    try:
        db = MySQLdb.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 3306,
            user=urllib.parse.unquote(parts.username or ""),
            password=urllib.parse.unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
            charset="utf8mb4",
        )
    except MySQLdb.Error as problem:
        raise ValueError(f"cannot connect to {parts.hostname}: {problem.args[-1]}") from None
    try:
        return _source(db)
    except MySQLdb.Error as problem:
        raise ValueError(f"not a Popple database: {problem.args[-1]}") from None
    finally:
        db.close()


def _source(db) -> Source:
    """Both tables of an open Go Popple database (a DB-API connection: SQLite or MySQL alike)."""
    return Source(_rows(db, "entities", "server_id, name, karma"), _rows(db, "configs", "server_id, no_announce"))


def _rows(db, table: str, columns: str) -> list[tuple]:
    cursor = db.cursor()
    cursor.execute(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 (fixed names)
    present = {column[0] for column in cursor.description}
    deleted = " WHERE deleted_at IS NULL" if "deleted_at" in present else ""
    cursor.execute(f"SELECT {columns} FROM {table}{deleted}")  # noqa: S608 (fixed names)
    return list(cursor.fetchall())


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
