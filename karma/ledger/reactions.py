"""The ledger's write path for reactions: a person's reaction with one of the server's listed emoji
gives the message's author +1 while it lasts, once, in whatever order the events are applied.

Each event is one transaction. The person's Reaction row (karma/models.py) is locked, and an event
older than the one it records changes nothing: so an add applied twice gives once, and an add that
overtakes its removal gives nothing (the removal recorded it first). A message whose reactions a
moderator removed records that too (user 0): adds older than it give nothing, and what the
reactions gave is taken back. A counted change is a ledger row like a message's (source "react",
the message's id, the event's stamp as its revision), under the same rules: self-karma, ignored
names, the cooldown and the budget, the reacting person being the giver.
"""

from dataclasses import dataclass, replace

from django.db import connections, router, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from karma.emoji import keys
from karma.ledger import writes
from karma.message import ADDED, CLEARED, IncomingMessage, ReactionEvent
from karma.models import Karma, LedgerEntry, Reaction
from karma.names import clean
from karma.rules import Changes, Refusal, screen

_LEDGER = LedgerEntry._meta.db_table
_REPLAY = (
    f"SELECT subject, total, version FROM {_LEDGER} "  # noqa: S608 (a table name from the model)
    "WHERE message_id = %s AND revision = %s AND source = 'react'"
)
_REACTION = Reaction._meta.db_table
# Makes the row unless it exists. (MySQL's INSERT IGNORE only reads an existing row: the lock
# comes with the SELECT after it.)
_CLAIM = {
    "mysql": f"INSERT IGNORE INTO {_REACTION} (message_id, user_id, emoji, guild_id, channel_id, stamp, subject, "  # noqa: S608
    "given, created_at) VALUES (%s, %s, %s, %s, %s, 0, '', 0, %s)",
    "sqlite": f"INSERT INTO {_REACTION} (message_id, user_id, emoji, guild_id, channel_id, stamp, subject, given, "  # noqa: S608
    "created_at) VALUES (%s, %s, %s, %s, %s, 0, '', 0, %s) ON CONFLICT DO NOTHING",
}
# The row, and when the message's reactions of its emoji (or all of them) were last cleared.
_SELECT = (
    f"SELECT id, stamp, subject, given, (SELECT MAX(cleared.stamp) FROM {_REACTION} cleared "  # noqa: S608
    "WHERE cleared.message_id = reaction.message_id AND cleared.user_id = 0 AND cleared.emoji IN (reaction.emoji, '')) "
    f"FROM {_REACTION} reaction WHERE message_id = %s AND user_id = %s AND emoji = %s"
)
_LOCK = {"mysql": _SELECT + " FOR UPDATE", "sqlite": _SELECT}
_SAVE = f"UPDATE {_REACTION} SET stamp = %s, subject = %s, given = %s WHERE id = %s"  # noqa: S608
_NAME = (
    f"SELECT author_name FROM {_LEDGER} "  # noqa: S608 (a table name from the model)
    "WHERE message_id = %s AND author_id = %s AND source = 'react' ORDER BY id DESC LIMIT 1"
)


def apply_reaction(event: ReactionEvent) -> writes.Outcome:
    """Apply one reaction event once: what it changed, or what it changed when applied before."""
    return writes.retrying(lambda: _apply(event))


def _apply(event: ReactionEvent) -> writes.Outcome:
    using = router.db_for_write(Karma)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        server = writes.server_rules(cursor, event.guild_id)
        outcome = _apply_event(cursor, event, server)
        return replace(
            outcome,
            points=server.points,
            language=server.language,
            rewards=server.rewards,
            role_stack=server.role_stack,
        )


def _apply_event(cursor: CursorWrapper, event: ReactionEvent, server: writes.Server) -> writes.Outcome:
    """_apply's work, in its transaction."""
    announce, rules = server.announce, server.rules
    listed = server.reactions
    counts = event.emoji in keys(listed)
    # Where karma does not count, adds give nothing; removals still take back what was given.
    here = server.listens(event.channel_id, event.within)
    # Only a listed emoji leaves a record (a clearing, while the server lists any): removing
    # another can only take back what it gave while it was listed.
    row = _locked(cursor, event, create=counts or (event.kind == CLEARED and bool(listed)))
    if row is None:
        return writes.Outcome([], announce)
    if row.stamp >= event.stamp:  # this event again, or an older one
        return writes.Outcome(_replay(cursor, event) if row.stamp == event.stamp else [], announce)
    if event.kind == CLEARED:
        return writes.counted(writes.Outcome(_clear(cursor, event), announce))
    giver = _giver(event)
    change: Changes = []
    refusals: list[Refusal] = []
    if event.kind == ADDED and not row.given and counts and here and row.cleared < event.stamp:
        subject = clean(event.author_name)
        wanted = [] if event.author_id == event.user_id else [(subject, 1)]  # never your own message
        change, refusals = screen(wanted, giver, rules)
        if change and rules.counts_givers:
            change, more = writes.limit_giver(cursor, cursor.db.vendor, giver, change, rules, timezone.now())
            refusals += more
        row.subject = subject
    elif event.kind != ADDED and row.given:
        change = [(row.subject, -row.given)]
    given = row.given + sum(delta for _, delta in change)
    cursor.execute(_SAVE, [event.stamp, row.subject, given, row.id])
    if not change:
        return writes.counted(writes.Outcome([], announce, refusals))
    # A removal does not say who they are: the ledger does (as anonymised as the add's row).
    name = event.user_name or _name_of(cursor, event)
    origin = (event.guild_id, event.channel_id, event.message_id, event.user_id, name)
    now = timezone.now()
    made, totals = writes.change(cursor, origin, change, event.stamp, LedgerEntry.Source.REACTION, {}, now)
    applied = [(subject, *totals[subject][:2]) for subject, _ in made]
    return writes.counted(writes.Outcome(applied, announce, refusals, made_at=now.timestamp()))


@dataclass
class _Record:
    """A Reaction row, as the write path reads it."""

    id: int
    stamp: int
    subject: str
    given: int
    cleared: int  # the newest clearing of the message's reactions of its emoji (0: none)


def _locked(cursor: CursorWrapper, event: ReactionEvent, create: bool) -> _Record | None:
    """The event's Reaction row, locked until the transaction ends; made when `create` (a listed
    emoji) and missing, else None. (Raw SQL, as the ledger's hot path: the ORM's get_or_create
    costs two savepoints and a third of a karma worker's time per reaction.)"""
    key: list[int | str] = [event.message_id, event.user_id, event.emoji]
    if create:
        stamp = cursor.db.ops.adapt_datetimefield_value(timezone.now())
        cursor.execute(_CLAIM[cursor.db.vendor], [*key, event.guild_id, event.channel_id, stamp])
    cursor.execute(_LOCK[cursor.db.vendor], key)
    row = cursor.fetchone()
    return _Record(row[0], row[1], row[2], row[3], row[4] or 0) if row else None


def _clear(cursor: CursorWrapper, event: ReactionEvent) -> writes.Applied:
    """Take back what the message's reactions (of the emoji, or all) gave before the clearing."""
    Reaction.objects.filter(message_id=event.message_id, user_id=0, emoji=event.emoji).update(stamp=event.stamp)
    counted = Reaction.objects.select_for_update().filter(
        message_id=event.message_id, given__gt=0, stamp__lt=event.stamp
    )
    if event.emoji:
        counted = counted.filter(emoji=event.emoji)
    taken: dict[str, int] = {}
    for reaction in counted.exclude(user_id=0):
        taken[reaction.subject] = taken.get(reaction.subject, 0) - reaction.given
    counted.update(given=0, stamp=event.stamp)
    taken_back = [(subject, delta) for subject, delta in taken.items() if delta]
    if not taken_back:
        return []
    origin = (event.guild_id, event.channel_id, event.message_id, None, "")
    source = LedgerEntry.Source.REACTION
    made, totals = writes.change(cursor, origin, taken_back, event.stamp, source, {}, timezone.now())
    return [(subject, *totals[subject][:2]) for subject, _ in made]


def _giver(event: ReactionEvent) -> IncomingMessage:
    """The reacting person as the rules see a message's author."""
    return IncomingMessage(
        guild_id=event.guild_id,
        channel_id=event.channel_id,
        message_id=event.message_id,
        author_id=event.user_id,
        author_name=event.user_name,
        author_global_name=event.user_global_name,
        author_nick=event.user_nick,
        content="",
        bot_id=event.bot_id,
        bot_name=event.bot_name,
        mentions={},
        can_manage=False,
    )


def _name_of(cursor: CursorWrapper, event: ReactionEvent) -> str:
    """The name the person's add of this reaction was recorded under."""
    cursor.execute(_NAME, [event.message_id, event.user_id])
    row = cursor.fetchone()
    return row[0] if row else ""


def _replay(cursor: CursorWrapper, event: ReactionEvent) -> writes.Applied:
    """What this event did when it was applied before (a redelivery answers as the first time)."""
    cursor.execute(_REPLAY, [event.message_id, event.stamp])
    return [(subject, total, version) for subject, total, version in cursor.fetchall()]
