"""Reading and changing karma in the database.

Every function works on the database Django's routers pick for the karma models: the default one
in production (the tests route them to SQLite or MariaDB in turn, testkit/databases.py).
"""

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet
from django.utils import timezone

from karma.message import IncomingMessage
from karma.models import Giver, GuildSettings, Karma, LedgerEntry
from karma.rules import HOUR, Refusal, Rules, limit, screen
from monitoring import metrics

# MySQL picks a victim when two transactions wait on each other (1213) and gives up after
# innodb_lock_wait_timeout (1205); atomic() rolls back what is left, so running it again is safe.
_RETRYABLE_MYSQL_ERRORS = {1205, 1213}
_ATTEMPTS = 5
MAX_ALIAS_HOPS = 3  # merges are resolved to their end when made (karma/moderation.py); this is a guard

Changes = Sequence[tuple[str, int]]  # (subject, delta)
Totals = list[tuple[str, int]]  # (subject, karma)
Applied = list[tuple[str, int, int]]  # (subject, karma, version) right after a message's changes

logger = logging.getLogger(__name__)
_ANNOUNCE_DEFAULT = GuildSettings._meta.get_field("announce").default


@dataclass(frozen=True)
class Outcome:
    """What applying a message did."""

    applied: Applied  # in the order of the changes that counted
    announce: bool  # whether the server wants changes announced
    refusals: list[Refusal] = field(default_factory=list)  # what the server's rules refused


def apply_changes(message: IncomingMessage, changes: Changes) -> Outcome:
    """Apply a message's karma changes once, in one transaction, under the server's rules.

    `changes` is [(subject, delta)]. Applying the same Discord message again changes nothing and
    answers what the first application did: the ledger's unique (message, subject) key refuses
    the second copy.
    """
    for _ in range(_ATTEMPTS - 1):
        try:
            return _apply_or_replay(message, changes)
        except OperationalError as exc:
            if exc.args[0] not in _RETRYABLE_MYSQL_ERRORS:
                raise
    return _apply_or_replay(message, changes)


def _apply_or_replay(message: IncomingMessage, changes: Changes) -> Outcome:
    try:
        return _apply_once(message, changes)
    except IntegrityError:
        replay = _replay(message, changes)
        if replay is None:
            raise
        return Outcome(replay, announce_enabled(message.guild_id))


def _apply_once(message: IncomingMessage, changes: Changes) -> Outcome:
    using = router.db_for_write(Karma)
    connection = connections[using]
    now = timezone.now()
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(_RULES, [message.guild_id])
        row = cursor.fetchone()
        if row is None:  # a server that never changed a setting
            announce, rules = _ANNOUNCE_DEFAULT, Rules()
        else:
            announce, rules = bool(row[0]), Rules.of(*row[1:5], json.loads(row[5] or "[]"))
        kept, refusals = screen(changes, message, rules)
        if kept and rules.counts_givers:
            kept, more = _limit_giver(cursor, connection.vendor, message, kept, rules, now)
            # A message applied before (a redelivery) answers as the first time, even when later
            # changes of the same person would make the rules refuse it now.
            replay = _replay(message, changes) if more else None
            if replay is not None:
                return Outcome(replay, announce)
            refusals += more
        if not kept:
            return _counted(Outcome([], announce, refusals))
        stamp = connection.ops.adapt_datetimefield_value(now)
        _add_karma(cursor, connection.vendor, message.guild_id, kept, stamp)
        totals = _totals(cursor, message.guild_id, [subject for subject, _ in kept])
        kept, totals = _follow_merges(cursor, connection.vendor, message.guild_id, kept, totals, stamp)
        _record(cursor, message, kept, totals, stamp)
    return _counted(Outcome([(subject, *totals[subject][:2]) for subject, _ in kept], announce, refusals))


def _counted(outcome: Outcome) -> Outcome:
    """Count what a first application did (a replayed message is not counted again)."""
    metrics.KARMA_APPLIED.inc(len(outcome.applied))
    for refusal in outcome.refusals:
        metrics.KARMA_REFUSED.labels(refusal.rule).inc()
    return outcome


def _limit_giver(cursor: CursorWrapper, vendor: str, message: IncomingMessage, changes: Changes, rules: Rules,
                 now: datetime) -> tuple[Changes, list[Refusal]]:  # fmt: skip
    """The cooldown and the budget, from the person's changes in the ledger.

    Their Giver row is locked first (the upsert locks it until the transaction ends): two workers
    applying the same person's messages at once count them one after the other. A message
    applied before (a redelivery) does not stand in its own way.
    """
    cursor.execute(_TOUCH_GIVER[vendor], [message.guild_id, message.author_id])
    theirs = [message.guild_id, message.author_id, message.message_id]
    since_last = {}
    if rules.cooldown:
        subjects = [subject for subject, _ in changes]
        # A merged name's changes are recorded under the subject it was merged into: the cooldown
        # of either holds for both.
        cursor.execute(_ALIASES.format(subjects=", ".join(["%s"] * len(subjects))), [message.guild_id, *subjects])
        aliases = dict(cursor.fetchall())
        looked_up = [*subjects, *aliases.values()]
        since = _stamp(cursor, now - timedelta(seconds=rules.cooldown))
        cursor.execute(_LAST_CHANGES.format(subjects=", ".join(["%s"] * len(looked_up))), [*theirs, since, *looked_up])
        last = {subject: _moment(moment) for subject, moment in cursor.fetchall()}
        for subject in subjects:
            moments = [last[name] for name in (subject, aliases.get(subject)) if name in last]
            if moments:
                since_last[subject] = (now - max(moments)).total_seconds()
    used, hour_ago = 0, _stamp(cursor, now - timedelta(seconds=HOUR))
    if rules.budget:
        cursor.execute(_HOUR_COUNT, [*theirs, hour_ago])
        [(used,)] = cursor.fetchall()

    def age_of(oldest: int) -> float:
        """Seconds since the person's `oldest`-th change of the hour (0: the oldest of all)."""
        cursor.execute(_HOUR_CHANGE, [*theirs, hour_ago, oldest])
        [(moment,)] = cursor.fetchall()
        return (now - _moment(moment)).total_seconds()

    return limit(changes, since_last, used, age_of, rules)


def _stamp(cursor: CursorWrapper, moment: datetime) -> Any:
    return cursor.db.ops.adapt_datetimefield_value(moment)


def _moment(value: Any) -> datetime:
    """A datetime read by a raw query: SQLite gives its text, MariaDB a naive datetime (both UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Applying a message is the hot path: a few statements, written out rather than built by the ORM
# each time (building them cost more than running them: bench/README.md). Everything else uses
# the ORM, the rules that read the ledger included (they are off by default). The syntax is
# common to SQLite and MySQL/MariaDB but for the upsert's conflict clause. (S608: what is
# formatted into them is table names from the models and "%s" placeholders; the values always
# travel as query parameters.)
_KARMA, _SETTINGS, _LEDGER = (model._meta.db_table for model in (Karma, GuildSettings, LedgerEntry))

_GIVER = Giver._meta.db_table
# Creates the person's row or, when it exists, locks it until the transaction ends (the update
# changes nothing, but takes the row's lock). SQLite's transactions take turns anyway.
_TOUCH_GIVER = {
    "mysql": f"INSERT INTO {_GIVER} (guild_id, author_id) VALUES (%s, %s) "  # noqa: S608
    "ON DUPLICATE KEY UPDATE author_id = author_id",
    "sqlite": f"INSERT INTO {_GIVER} (guild_id, author_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",  # noqa: S608
}
_THEIRS = "guild_id = %s AND author_id = %s AND message_id <> %s AND source = 'chat' AND created_at > %s"
_LAST_CHANGES = (
    f"SELECT subject, MAX(created_at) FROM {_LEDGER} WHERE {_THEIRS} AND subject IN ({{subjects}}) "  # noqa: S608
    "GROUP BY subject"
)
_ALIASES = (
    f"SELECT subject, merged_into FROM {_KARMA} WHERE guild_id = %s AND subject IN ({{subjects}}) "  # noqa: S608
    "AND merged_into IS NOT NULL"
)
# (On the ledger's unique (message, subject) key.)
_APPLIED = f"SELECT subject, total, version FROM {_LEDGER} WHERE message_id = %s AND source = 'chat'"  # noqa: S608
_HOUR_COUNT = f"SELECT COUNT(*) FROM {_LEDGER} WHERE {_THEIRS}"  # noqa: S608
_HOUR_CHANGE = f"SELECT created_at FROM {_LEDGER} WHERE {_THEIRS} ORDER BY created_at LIMIT 1 OFFSET %s"  # noqa: S608

_RULES = (
    f"SELECT announce, allow_self_karma, cooldown, budget, max_change, ignored FROM {_SETTINGS} "  # noqa: S608
    "WHERE guild_id = %s"
)

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
_TOTALS = f"SELECT subject, karma, version, merged_into FROM {_KARMA} WHERE guild_id = %s AND subject IN ({{subjects}})"  # noqa: S608
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


def _totals(cursor: CursorWrapper, guild_id: int, subjects: list[str]) -> dict[str, tuple[int, int, str | None]]:
    """Each subject's karma, version, and the subject it was merged into (None: not merged)."""
    cursor.execute(_TOTALS.format(subjects=", ".join(["%s"] * len(subjects))), [guild_id, *subjects])
    return {subject: (karma, version, merged_into) for subject, karma, version, merged_into in cursor.fetchall()}


def _follow_merges(
    cursor: CursorWrapper, vendor: str, guild_id: int, changes: Changes, totals: dict, now: Any
) -> tuple[Changes, dict]:
    """The changes moved from merged subjects (aliases) to the subjects they were merged into.

    Found after adding, not looked up before: the hot path costs no extra query when no alias is
    involved, and a merge committed while this transaction waited for the alias's row lock is
    seen here (the row read back is the merged one), so no change lands on an alias.
    """
    for _ in range(MAX_ALIAS_HOPS):
        moved = {subject: totals[subject][2] for subject, _ in changes if totals[subject][2] is not None}
        if not moved:
            return changes, totals
        _add_karma(cursor, vendor, guild_id, [(subject, -delta) for subject, delta in changes if subject in moved], now)
        combined, redirected = defaultdict(int), defaultdict(int)
        for subject, delta in changes:
            target = moved.get(subject, subject)
            combined[target] += delta
            if subject in moved:
                redirected[target] += delta
        _add_karma(cursor, vendor, guild_id, list(redirected.items()), now)
        changes = list(combined.items())
        totals = _totals(cursor, guild_id, list(combined))
    raise OperationalError("a chain of merged subjects is too long")


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
            for value in (*origin, subject, delta, *totals[subject][:2], LedgerEntry.Source.CHAT.value, now)
        ],
    )


def _replay(message: IncomingMessage, changes: Changes) -> Applied | None:
    """What the message did when it was applied before, or None when it was not."""
    connection = connections[router.db_for_read(LedgerEntry)]
    with connection.cursor() as cursor:
        cursor.execute(_APPLIED, [message.message_id])
        applied = {subject: (total, version) for subject, total, version in cursor.fetchall()}
    if not applied:
        return None
    logger.info("message %s was applied before (redelivered); answering as the first time", message.message_id)
    # In the order of the changes; then the subjects that aliases led to (_follow_merges).
    named = [subject for subject, _ in changes if subject in applied]
    named += [subject for subject in applied if subject not in named]
    return [(subject, *applied[subject]) for subject in named]


def karma_of(guild_id: int, names: Sequence[str]) -> Totals:
    """[(name, karma)] for each name, 0 for names never seen; a merged name answers for the
    subject it was merged into."""
    rows = Karma.objects.filter(guild_id=guild_id, subject__in=names).values_list("subject", "karma", "merged_into")
    aliases = {subject: target for subject, _, target in rows if target is not None}
    known = {subject: karma for subject, karma, _ in rows}
    if aliases:
        targets = Karma.objects.filter(guild_id=guild_id, subject__in=aliases.values())
        known |= dict(targets.values_list("subject", "karma"))
    named = [aliases.get(name, name) for name in names]
    return [(name, known.get(name, 0)) for name in named]


def board(guild_id: int, size: int, highest: bool = True) -> Totals:
    """The `size` subjects with the most (or least) karma, ties by name; zeros are left out."""
    order = ("-karma" if highest else "karma", "subject")
    rows = Karma.objects.filter(guild_id=guild_id).exclude(karma=0).order_by(*order)
    return list(rows.values_list("subject", "karma")[:size])


def announce_enabled(guild_id: int) -> bool:
    settings = GuildSettings.objects.filter(guild_id=guild_id).first()
    return settings.announce if settings else _ANNOUNCE_DEFAULT


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
