"""Reading and changing karma in the database.

Every function works on the database Django's routers pick for the karma models: the default one
in production (the tests route them to SQLite or MariaDB in turn, testkit/databases.py).
"""

import logging
from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet
from django.utils import timezone

from karma.message import IncomingMessage
from karma.models import GuildSettings, Karma, LedgerEntry

# MySQL picks a victim when two transactions wait on each other (1213) and gives up after
# innodb_lock_wait_timeout (1205); atomic() rolls back what is left, so running it again is safe.
_RETRYABLE_MYSQL_ERRORS = {1205, 1213}
_ATTEMPTS = 5

Changes = Sequence[tuple[str, int]]  # (subject, delta)
Totals = list[tuple[str, int]]  # (subject, karma)
Applied = list[tuple[str, int, int]]  # (subject, karma, version) right after a message's changes

logger = logging.getLogger(__name__)
_ANNOUNCE_DEFAULT = GuildSettings._meta.get_field("announce").default


def apply_changes(message: IncomingMessage, changes: Changes) -> tuple[Applied, bool]:
    """Apply a message's karma changes once, in one transaction.

    `changes` is [(subject, delta)]. Returns ([(subject, karma and version after the change)] in
    the same order, whether the server wants changes announced), the latter read in the same query.
    Applying the same Discord message again changes nothing and returns what the first
    application returned: the ledger's unique (message, subject) key refuses the second copy.
    """
    for _ in range(_ATTEMPTS - 1):
        try:
            return _apply_or_replay(message, changes)
        except OperationalError as exc:
            if exc.args[0] not in _RETRYABLE_MYSQL_ERRORS:
                raise
    return _apply_or_replay(message, changes)


def _apply_or_replay(message: IncomingMessage, changes: Changes) -> tuple[Applied, bool]:
    try:
        return _apply_once(message, changes)
    except IntegrityError:
        replay = _replay(message, changes)
        if replay is None:
            raise
        return replay, announce_enabled(message.guild_id)


def _apply_once(message: IncomingMessage, changes: Changes) -> tuple[Applied, bool]:
    using = router.db_for_write(Karma)
    connection = connections[using]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _add_karma(cursor, connection.vendor, message.guild_id, changes, now)
        totals, announce = _totals(cursor, message.guild_id, [subject for subject, _ in changes])
        _record(cursor, message, changes, totals, now)
    return [(subject, *totals[subject]) for subject, _ in changes], announce


# Applying a message is the hot path: three statements, written out rather than built by the ORM
# each time (building them cost more than running them: bench/README.md). Everything else uses
# the ORM. The syntax is common to SQLite and MySQL/MariaDB but for the upsert's conflict clause.
# (S608: what is formatted into them is table names from the models and "%s" placeholders; the
# values always travel as query parameters.)
_KARMA, _SETTINGS, _LEDGER = (model._meta.db_table for model in (Karma, GuildSettings, LedgerEntry))

# Adds in the database, creating missing rows. (Reading first, then inserting or updating, would
# deadlock between workers creating the same subject at once.) MySQL 8 deprecates VALUES() here
# for an alias that MariaDB does not know; both still run VALUES().
_UPSERT = f"INSERT INTO {_KARMA} (guild_id, subject, karma, version, updated_at) VALUES {{rows}} "  # noqa: S608
_UPSERT_CONFLICT = {
    "mysql": "ON DUPLICATE KEY UPDATE karma = karma + VALUES(karma), version = version + 1, "
    "updated_at = VALUES(updated_at)",
    "sqlite": "ON CONFLICT (guild_id, subject) DO UPDATE SET karma = karma + excluded.karma, "
    "version = version + 1, updated_at = excluded.updated_at",
}
_TOTALS = (
    f"SELECT subject, karma, version, (SELECT announce FROM {_SETTINGS} WHERE guild_id = %s) FROM {_KARMA} "  # noqa: S608
    "WHERE guild_id = %s AND subject IN ({subjects})"
)
_RECORD = (
    f"INSERT INTO {_LEDGER} (guild_id, channel_id, message_id, author_id, author_name, subject, delta, total, "  # noqa: S608
    "version, source, created_at) VALUES {rows}"
)


def _add_karma(cursor: CursorWrapper, vendor: str, guild_id: int, changes: Changes, now: datetime) -> None:
    rows = sorted(changes)  # every transaction locks rows in the same order: none waits on another
    cursor.execute(
        _UPSERT.format(rows=", ".join(["(%s, %s, %s, 1, %s)"] * len(rows))) + _UPSERT_CONFLICT[vendor],
        [value for subject, delta in rows for value in (guild_id, subject, delta, now)],
    )


def _totals(cursor: CursorWrapper, guild_id: int, subjects: list[str]) -> tuple[dict[str, tuple[int, int]], bool]:
    """Each subject's karma and version, and whether the server wants changes announced, in one query."""
    cursor.execute(_TOTALS.format(subjects=", ".join(["%s"] * len(subjects))), [guild_id, guild_id, *subjects])
    rows = cursor.fetchall()
    announce = rows[0][3]
    totals = {subject: (karma, version) for subject, karma, version, _ in rows}
    return totals, _ANNOUNCE_DEFAULT if announce is None else bool(announce)


def _record(
    cursor: CursorWrapper, message: IncomingMessage, changes: Changes, totals: dict[str, tuple[int, int]], now: datetime
) -> None:
    """The ledger rows; their unique (message, subject) key refuses a message applied before."""
    origin = (message.guild_id, message.channel_id, message.message_id, message.author_id, message.author_name)
    cursor.execute(
        _RECORD.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(changes))),
        [
            value
            for subject, delta in changes
            for value in (*origin, subject, delta, *totals[subject], LedgerEntry.Source.CHAT.value, now)
        ],
    )


def _replay(message: IncomingMessage, changes: Changes) -> Applied | None:
    rows = LedgerEntry.objects.filter(message_id=message.message_id, source=LedgerEntry.Source.CHAT)
    applied = {subject: (total, version) for subject, total, version in rows.values_list("subject", "total", "version")}
    if not applied:
        return None
    logger.info("message %s was applied before (redelivered); answering as the first time", message.message_id)
    return [(subject, *applied[subject]) for subject, _ in changes if subject in applied]


def karma_of(guild_id: int, names: Sequence[str]) -> Totals:
    """[(name, karma)] for each name, 0 for names never seen."""
    known = dict(Karma.objects.filter(guild_id=guild_id, subject__in=names).values_list("subject", "karma"))
    return [(name, known.get(name, 0)) for name in names]


def board(guild_id: int, size: int, highest: bool = True) -> Totals:
    """The `size` subjects with the most (or least) karma, ties by name; zeros are left out."""
    order = ("-karma" if highest else "karma", "subject")
    rows = Karma.objects.filter(guild_id=guild_id).exclude(karma=0).order_by(*order)
    return list(rows.values_list("subject", "karma")[:size])


def announce_enabled(guild_id: int) -> bool:
    settings = GuildSettings.objects.filter(guild_id=guild_id).first()
    return settings.announce if settings else _ANNOUNCE_DEFAULT


def set_announce(guild_id: int, announce: bool) -> None:
    GuildSettings.objects.update_or_create(guild_id=guild_id, defaults={"announce": announce})


def admin_set_karma(guild_id: int, subject: str, karma: int, user: AbstractBaseUser) -> Karma:
    """Set a subject's karma from the admin, recording who did it in the ledger."""
    with transaction.atomic(using=router.db_for_write(Karma)):
        # The row is locked, so the recorded delta is exact even while chat changes it.
        row, created = Karma.objects.select_for_update().get_or_create(
            guild_id=guild_id, subject=subject, defaults={"karma": karma, "version": 1}
        )
        delta = karma if created else karma - row.karma
        if delta and not created:
            row.version += 1
        row.karma = karma
        row.save()
        if delta:
            _admin_ledger(row, delta, user)
    return row


def admin_delete(rows: QuerySet[Karma], user: AbstractBaseUser) -> None:
    with transaction.atomic(using=router.db_for_write(Karma)):
        for row in rows.select_for_update():
            if row.karma:
                delta, row.karma = -row.karma, 0
                row.version += 1
                _admin_ledger(row, delta, user)
            row.delete()


def _admin_ledger(row: Karma, delta: int, user: AbstractBaseUser) -> None:
    """The ledger row of an admin's change, `row` being the subject right after it."""
    LedgerEntry.objects.create(
        guild_id=row.guild_id,
        subject=row.subject,
        delta=delta,
        total=row.karma,
        version=row.version,
        source=LedgerEntry.Source.ADMIN,
        admin_user=user,
    )
