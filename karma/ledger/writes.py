"""The ledger's write path: a version of a chat message (as sent, edited or deleted) applied once.

Versions arrive in any order and may come again; each is one transaction of a few raw SQL
statements (the hot path), under the server's rules. Reads are in karma/ledger/reads.py; what
moderators change by hand, through the ORM, in karma/moderation/actions.py.

Every function works on the database Django's routers pick for the karma models: the default one
in production (the tests route them to SQLite or MariaDB in turn, testkit/databases.py).
"""

import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.dispatch import Signal
from django.utils import timezone

from karma import channels, language, points
from karma.ledger.reads import ANNOUNCE_DEFAULT, announce_enabled
from karma.message import IncomingMessage
from karma.models import DELETED_REVISION, Giver, GuildSettings, Karma, LedgerEntry, MessageVersion
from karma.points import KARMA, Points
from karma.rules import HOUR, Refusal, Rules, limit, screen

# MySQL picks a victim when two transactions wait on each other (1213) and gives up after
# innodb_lock_wait_timeout (1205); atomic() rolls back what is left, so running it again is safe.
_RETRYABLE_MYSQL_ERRORS = {1205, 1213}
_ATTEMPTS = 5

Changes = Sequence[tuple[str, int]]  # (subject, delta)
Applied = list[tuple[str, int, int]]  # (subject, karma, version) right after a message's changes
MAX_ALIAS_HOPS = 3  # merges are resolved to their end when made (karma/moderation/actions.py); this is a guard
Reasons = dict[str, str]  # subject -> why, as the message said
T = TypeVar("T")
M = TypeVar("M")  # one message, as together's apart hands it on

logger = logging.getLogger(__name__)
# Sent once per version of a message applied (not for a replayed one), with `outcome`: what it did.
# The ledger counts nothing itself; monitoring/apps.py connects the metrics to this.
version_applied = Signal()


@dataclass(frozen=True)
class Outcome:
    """What applying a message did."""

    applied: Applied  # in the order of the changes that counted
    announce: bool  # whether the server wants changes announced
    refusals: list[Refusal] = field(default_factory=list)  # what the server's rules refused
    here: bool = True  # whether karma counts in the channel (karma/channels.py)
    points: Points = KARMA  # what the server calls karma
    log: tuple[int | None, int] = (None, 0)  # the moderators' log channel, and its refusals threshold
    language: str = language.ENGLISH  # Django's code of the language its answers are in
    # The server's role rewards (karma/roles/): [] when off, which is the default.
    rewards: list = field(default_factory=list)
    role_stack: bool = False
    # time.time() when the work that wrote the versions in `applied` began (in their transaction, or
    # their savepoint in a group's: writes.together), so no later than their commit (0: not known,
    # as for a replay, which answers what an earlier one did).
    # Delivery trusts a channel's memory that began before it (botgateway/delivery.py).
    made_at: float = 0.0


def apply_changes(message: IncomingMessage, changes: Changes, reasons: Reasons | None = None) -> Outcome:
    """Apply a version of a message's karma changes once, in one transaction, under the server's rules.

    `changes` is [(subject, delta)], `reasons` {subject: why}. The first version (`edited` 0)
    counts as it says. A later one (an edit) changes each subject by the difference between what
    it says and what the ledger says the message did so far, so that the message's karma is
    what its newest version says, whatever order versions are applied in: a version older than
    the one applied changes nothing, and an edit applied before the message itself waits for it
    (MessageVersion), if the gateway forwarded the message (`message_forwarded`): an edit of a
    message it did not forward changes only a counted message and never writes a row. The same
    version again changes nothing and answers what the first application did: the ledger's unique
    (message, revision, subject) key refuses a second copy.
    """
    return retrying(lambda: _apply_or_replay(message, changes, reasons or {}))


def apply_deletion(guild_id: int, message_id: int, message_forwarded: bool = True) -> Outcome:
    """Take back what a deleted message did (in the ledger as source "deleted"), once.

    A deletion applied before the message itself is kept, if the gateway forwarded the message:
    the message then changes nothing. Otherwise it changes only a counted message, and never
    writes a row. The outcome says what it took back, and the server's role rewards (never
    announced: a deletion is silent).
    """
    return retrying(lambda: _delete_once(guild_id, message_id, message_forwarded))


@contextmanager
def together() -> Iterator[Callable[[Callable[[M], T]], Callable[[M], T]]]:
    """Around several messages' work: one transaction for them all where that costs nobody a wait.
    Gives `apart`: `apart(work)(message)` runs one message's work in a savepoint of its own there,
    so that one that fails (whatever it wrote, through the ledger or not) rolls back alone.

    On SQLite, which lets one writer in at a time anyway, a commit writes the WAL: a quarter of
    a message's time in the one-process default (bench/README.md, issue 24). Elsewhere (MariaDB,
    several workers at once) each message commits alone: a transaction kept open across messages
    would keep their rows locked against the other workers.
    """
    using = router.db_for_write(Karma)
    if connections[using].vendor != "sqlite":
        yield lambda work: work
        return

    def apart(work: Callable[[M], T]) -> Callable[[M], T]:
        def in_savepoint(message: M) -> T:
            with transaction.atomic(using=using):
                return work(message)

        return in_savepoint

    with transaction.atomic(using=using):
        yield apart


def retrying(attempt: Callable[[], T], attempts: int = _ATTEMPTS, jitter: float = 0.0) -> T:
    """`attempt()` (a whole transaction), run again when MySQL picked it as a deadlock's victim or
    gave up waiting for a lock; with `jitter`, after a random wait up to jitter x 2^n seconds."""
    for n in range(attempts - 1):
        try:
            return attempt()
        except OperationalError as exc:
            if exc.args[0] not in _RETRYABLE_MYSQL_ERRORS:
                raise
            if jitter:
                time.sleep(random.uniform(0, jitter * 2**n))  # noqa: S311 (jitter, not a secret)
    return attempt()


def _apply_or_replay(message: IncomingMessage, changes: Changes, reasons: Reasons) -> Outcome:
    try:
        return _apply_once(message, changes, reasons)
    except IntegrityError:
        # The version is in the ledger although its MessageVersion row was not (it was forgotten
        # since: a very late redelivery).
        connection = connections[router.db_for_read(LedgerEntry)]
        with connection.cursor() as cursor:
            replay = _replay(cursor, message, changes, message.edited)
        if not replay:
            raise
        return Outcome(replay, announce_enabled(message.guild_id))


def _apply_once(message: IncomingMessage, changes: Changes, reasons: Reasons) -> Outcome:
    using = router.db_for_write(Karma)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        server = server_rules(cursor, message.guild_id)
        if not server.listens(message.channel_id, message.within):
            # Nothing recorded: no version to follow either.
            return Outcome([], server.announce, here=False, points=server.points, language=server.language)
        outcome = _apply_version_of(cursor, message, changes, reasons, server)
        return replace(
            outcome,
            points=server.points,
            language=server.language,
            log=(server.log_channel, server.log_refusals),
            rewards=server.rewards,
            role_stack=server.role_stack,
        )


def _apply_version_of(cursor: CursorWrapper, message: IncomingMessage, changes: Changes, reasons: Reasons,
                      server: "Server") -> Outcome:  # fmt: skip
    """_apply_once's work, in its transaction: which version this is, and what it does."""
    now = timezone.now()
    revision = message.edited
    announce, rules = server.announce, server.rules
    asked = json.dumps([[subject, delta, reasons.get(subject, "")] for subject, delta in changes])
    may_wait = message.message_forwarded or not revision  # the message may be on its way
    if may_wait and _claim(cursor, message.guild_id, message.message_id, revision, not revision, asked):
        if revision:  # an edit before the message itself: kept until the message comes
            return Outcome([], announce)
        return _apply_version(cursor, message, changes, reasons, rules, announce, now)  # the usual case
    found = _lock_version(cursor, message.message_id)
    if not found or not (found[1] or may_wait):
        # An edit of a message the gateway did not forward: the message is not on its way, and
        # changed no karma unless it was counted (the gateway forgot it): no row for the rest.
        return Outcome([], announce)
    seen, counted, pending = found
    if not revision:  # the message itself
        if counted:  # again (redelivered): answers as the first time, unless edited since
            return Outcome(_replay(cursor, message, changes, 0) if seen == 0 else [], announce)
        # Its edits, or its deletion, came first: the newest of them is what counts.
        _set_version(cursor, message.message_id, seen, counted=True, pending=None)
        newest = json.loads(pending)  # type: ignore[arg-type]  # null only once counted
        changes, reasons = [(s, d) for s, d, _ in newest], {s: r for s, _, r in newest if r}
        return _apply_version(cursor, message, changes, reasons, rules, announce, now, seen)
    if revision < seen:  # an older version than the one applied
        return Outcome([], announce)
    if revision == seen:  # the same edit again
        return Outcome(_replay(cursor, message, changes, revision) if counted else [], announce)
    _set_version(cursor, message.message_id, revision, counted=counted, pending=None if counted else asked)
    if not counted:
        return Outcome([], announce)
    return _apply_version(cursor, message, changes, reasons, rules, announce, now, revision)


def _apply_version(cursor: CursorWrapper, message: IncomingMessage, changes: Changes, reasons: Reasons,
                   rules: Rules, announce: bool, now: datetime, revision: int = 0) -> Outcome:  # fmt: skip
    """Make the message's changes in the ledger what this version asks, under the rules.

    The rules apply to what the version asks (self-karma, max change, ignored names) and to
    what it adds (cooldown, budget); taking back a change the message no longer makes is always
    allowed. Each subject whose karma changes gets one ledger row at this revision.
    """
    kept, refusals = screen(changes, message, rules)
    wanted = dict(kept)
    done = _done(cursor, message.message_id) if revision else {}  # the first version did nothing yet
    difference = [(subject, wanted.get(subject, 0) - done.get(subject, 0)) for subject in {**wanted, **done}]
    difference = [(subject, delta) for subject, delta in difference if delta]
    added = [(subject, delta) for subject, delta in difference if subject in wanted]
    if added and rules.counts_givers:
        passed, more = limit_giver(cursor, cursor.db.vendor, message, added, rules, now)
        refusals += more
        allowed = {subject for subject, _ in passed}
        difference = [(subject, delta) for subject, delta in difference if subject not in wanted or subject in allowed]
    if not difference:
        return counted(Outcome([], announce, refusals))
    origin = (message.guild_id, message.channel_id, message.message_id, message.author_id, message.author_name)
    made, totals = change(cursor, origin, difference, revision, LedgerEntry.Source.CHAT, reasons, now)
    applied = [(subject, *totals[subject][:2]) for subject, _ in made]
    return counted(Outcome(applied, announce, refusals, made_at=now.timestamp()))


def counted(outcome: Outcome) -> Outcome:
    """Say what a new version did (a replayed one is not said again): version_applied."""
    version_applied.send(sender=Outcome, outcome=outcome)
    return outcome


def _delete_once(guild_id: int, message_id: int, message_forwarded: bool) -> Outcome:
    nothing = Outcome([], announce=False)
    using = router.db_for_write(Karma)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if message_forwarded and _claim(cursor, guild_id, message_id, DELETED_REVISION, counted=False, pending="[]"):
            return nothing  # before the message itself: kept, so that the message changes nothing
        found = _lock_version(cursor, message_id)
        if not found or not (found[1] or message_forwarded):
            return nothing  # not on its way and never counted: nothing to take back, and no row
        seen, counted, _ = found
        if seen == DELETED_REVISION:  # deleted before
            return nothing
        _set_version(cursor, message_id, DELETED_REVISION, counted=counted, pending=None if counted else "[]")
        taken_back = [(subject, -delta) for subject, delta in _done(cursor, message_id).items() if delta]
        if not counted or not taken_back:
            return nothing
        # With the server's role rewards, in the same statement: a deletion that took karma back
        # may take a role back too, and a server without rewards pays nothing for them.
        cursor.execute(_ORIGIN, [guild_id, guild_id, message_id])
        rewards, stack, channel_id, author_id, author_name = cursor.fetchone() or (None, None, None, None, "")
        origin = (guild_id, channel_id, message_id, author_id, author_name)
        made, totals = change(cursor, origin, taken_back, DELETED_REVISION, LedgerEntry.Source.DELETED, {},
                              timezone.now())  # fmt: skip
    logger.info("message %s was deleted: took back %d changes", message_id, len(taken_back))
    applied = [(subject, *totals[subject][:2]) for subject, _ in made]
    return Outcome(applied, False, rewards=json.loads(rewards or "[]") or [], role_stack=bool(stack))


@dataclass(frozen=True)
class Server:
    """What applying a change needs of the server's settings, read in one query."""

    announce: bool = ANNOUNCE_DEFAULT
    rules: Rules = field(default_factory=Rules)
    reactions: list[str] = field(default_factory=list)  # the emoji its reactions count
    channels: dict = field(default_factory=dict)  # where karma counts (karma/channels.py)
    points: Points = KARMA  # what it calls karma
    log_channel: int | None = None  # the moderators' log (karma/modlog.py)
    log_refusals: int = 0  # refusals an hour after which the log names a person
    language: str = language.ENGLISH  # Django's code of the language of its answers (karma/language.py)
    rewards: list = field(default_factory=list)  # its role rewards (karma/roles/rewards.py)
    role_stack: bool = False

    def listens(self, channel_id: int, within: list[int]) -> bool:
        return channels.listens(self.channels, channel_id, within)


def server_rules(cursor: CursorWrapper, guild_id: int) -> Server:
    """The server's settings that applying a change needs."""
    cursor.execute(_RULES, [guild_id])
    row = cursor.fetchone()
    if row is None:  # a server that never changed a setting
        return Server()
    rules = Rules.of(row[1], row[2], row[3], row[4], json.loads(row[5] or "[]"))
    listed, where = json.loads(row[6] or "[]") or [], json.loads(row[7] or "{}") or {}
    spoken = language.django_code(row[9], row[10])
    rewards = json.loads(row[13] or "[]") or []
    return Server(bool(row[0]), rules, listed, where, points.from_stored(row[8]), row[11], row[12], spoken, rewards,
                  bool(row[14]))  # fmt: skip


def _claim(
    cursor: CursorWrapper, guild_id: int, message_id: int, revision: int, counted: bool, pending: str | None
) -> bool:
    """Record the message's first version seen, unless one is recorded: whether this was the first."""
    if counted:
        pending = None
    cursor.execute(_CLAIM[cursor.db.vendor], [message_id, guild_id, revision, counted, pending])
    return cursor.rowcount == 1


def _lock_version(cursor: CursorWrapper, message_id: int) -> tuple[int, bool, str | None] | None:
    """(revision, counted, pending) of the message, locked until the transaction ends; None when
    it has no row."""
    cursor.execute(_VERSION[cursor.db.vendor], [message_id])
    row = cursor.fetchone()
    return row and (row[0], bool(row[1]), row[2])


def _set_version(cursor: CursorWrapper, message_id: int, revision: int, counted: bool, pending: str | None) -> None:
    cursor.execute(_SET_VERSION, [revision, counted, pending, message_id])


def _done(cursor: CursorWrapper, message_id: int) -> dict[str, int]:
    """What the message's versions changed so far, net, per subject."""
    cursor.execute(_DONE, [message_id])
    return {subject: int(total) for subject, total in cursor.fetchall()}


def change(cursor: CursorWrapper, origin: tuple, changes: Changes, revision: int, source: str, reasons: Reasons,
            now: datetime) -> tuple[Changes, dict[str, tuple[int, int, str | None]]]:  # fmt: skip
    """Add `changes` to the karma and record them in the ledger: the changes as made (a merged name's
    go to the subject it was merged into), and each subject's karma and version after."""
    stamp = cursor.db.ops.adapt_datetimefield_value(now)
    _add_karma(cursor, cursor.db.vendor, origin[0], changes, stamp)
    totals = _totals(cursor, origin[0], [subject for subject, _ in changes])
    changes, totals = _follow_merges(cursor, cursor.db.vendor, origin[0], changes, totals, stamp)
    if changes:
        _record(cursor, origin, changes, totals, stamp, revision, source, reasons)
    return changes, totals


def limit_giver(cursor: CursorWrapper, vendor: str, message: IncomingMessage, changes: Changes, rules: Rules,
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
        since = _stamp(cursor, now - timedelta(seconds=rules.cooldown))
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
# (A person's reactions count towards their cooldown and budget like their messages.)
_THEIRS = "guild_id = %s AND author_id = %s AND message_id <> %s AND source IN ('chat', 'react') AND created_at > %s"
_LAST_CHANGES = (
    f"SELECT subject, MAX(created_at) FROM {_LEDGER} WHERE {_THEIRS} AND subject IN ({{subjects}}) "  # noqa: S608
    "GROUP BY subject"
)
_ALIASES = (
    f"SELECT subject, merged_into FROM {_KARMA} WHERE guild_id = %s AND subject IN ({{subjects}}) "  # noqa: S608
    "AND merged_into IS NOT NULL"
)
# (On the ledger's unique (message, revision, subject) key.)
_APPLIED = f"SELECT subject, total, version FROM {_LEDGER} WHERE message_id = %s AND revision = %s AND source = 'chat'"  # noqa: S608
# What the message's versions did: its reactions' rows share its id but are not its own changes.
_DONE = f"SELECT subject, SUM(delta) FROM {_LEDGER} WHERE message_id = %s AND source <> 'react' GROUP BY subject"  # noqa: S608
_ORIGIN = (
    f"SELECT (SELECT role_rewards FROM {_SETTINGS} WHERE guild_id = %s), "  # noqa: S608
    f"(SELECT role_stack FROM {_SETTINGS} WHERE guild_id = %s), channel_id, author_id, author_name "
    f"FROM {_LEDGER} WHERE message_id = %s AND source = 'chat' LIMIT 1"
)

_VERSIONS = MessageVersion._meta.db_table
# Records a message's version unless one is recorded; how many rows it wrote says which. (When
# one is, MySQL's INSERT IGNORE only reads its row: the lock comes with the SELECT after it.)
_CLAIM = {
    "mysql": f"INSERT IGNORE INTO {_VERSIONS} (message_id, guild_id, revision, counted, pending) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s)",
    "sqlite": f"INSERT INTO {_VERSIONS} (message_id, guild_id, revision, counted, pending) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
}
_VERSION = {
    "mysql": f"SELECT revision, counted, pending FROM {_VERSIONS} WHERE message_id = %s FOR UPDATE",  # noqa: S608
    "sqlite": f"SELECT revision, counted, pending FROM {_VERSIONS} WHERE message_id = %s",  # noqa: S608
}
_SET_VERSION = f"UPDATE {_VERSIONS} SET revision = %s, counted = %s, pending = %s WHERE message_id = %s"  # noqa: S608
_HOUR_COUNT = f"SELECT COUNT(*) FROM {_LEDGER} WHERE {_THEIRS}"  # noqa: S608
_HOUR_CHANGE = f"SELECT created_at FROM {_LEDGER} WHERE {_THEIRS} ORDER BY created_at LIMIT 1 OFFSET %s"  # noqa: S608

_RULES = (
    "SELECT announce, allow_self_karma, cooldown, budget, max_change, ignored, reactions, channels, points, "  # noqa: S608
    "language, locale, log_channel, log_refusals, role_rewards, role_stack "
    f"FROM {_SETTINGS} WHERE guild_id = %s"
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
    "version, source, created_at, revision, reason) VALUES {rows}"
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
        combined: defaultdict[str, int] = defaultdict(int)
        redirected: defaultdict[str, int] = defaultdict(int)
        for subject, delta in changes:
            target = moved.get(subject, subject)
            combined[target] += delta
            if subject in moved:
                redirected[target] += delta
        _add_karma(cursor, vendor, guild_id, list(redirected.items()), now)
        # An edit can take a change back from an alias and give it to its subject: they cancel out.
        changes = [(subject, delta) for subject, delta in combined.items() if delta]
        totals = _totals(cursor, guild_id, list(combined))
    raise OperationalError("a chain of merged subjects is too long")


def _record(cursor: CursorWrapper, origin: tuple, changes: Changes, totals: dict[str, tuple[int, int, str | None]],
            now: datetime, revision: int, source: str, reasons: Reasons) -> None:  # fmt: skip
    """The ledger rows; their unique (message, revision, subject) key refuses a version applied before."""
    cursor.execute(
        _RECORD.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(changes))),
        [
            value
            for subject, delta in changes
            for value in (
                *origin,
                subject,
                delta,
                *totals[subject][:2],
                source,
                now,
                revision,
                reasons.get(subject, ""),
            )
        ],
    )


def _replay(cursor: CursorWrapper, message: IncomingMessage, changes: Changes, revision: int) -> Applied:
    """What this version of the message did when it was applied before ([] when nothing)."""
    cursor.execute(_APPLIED, [message.message_id, revision])
    applied = {subject: (total, version) for subject, total, version in cursor.fetchall()}
    if applied:
        logger.info("message %s was applied before (redelivered); answering as the first time", message.message_id)
    asked = [subject for subject, _ in changes]
    return [
        (subject, *applied[subject]) for subject in [*asked, *sorted(set(applied) - set(asked))] if subject in applied
    ]
