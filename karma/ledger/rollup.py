"""A ledger that stays small: rows older than LEDGER_DETAIL_DAYS become one row per server, subject
and day (LedgerRollup: the net change, how many changes, the total after the last), and go.

A row that gave a reason is counted in its day like the others, and its reason is kept apart
(LedgerReason: the `why` history and the public page show the last five), unless its message was
deleted (`why` leaves those out anyway). Apart, because a ledger row costs as much as six day
rows with the ledger's indexes: kept whole, 5 % of rows with a reason would be a third of what
the roll-up leaves (bench/ledger_rollup.py). They are forgotten as the ledger's reasons are
(karma/retention.py).

Kept as they are, whatever their age:
- merges (boards over a window leave them out: a roll-up's net change could not);
- imports from the Go Popple (one a name: `import_popple` reads them to import a server once);
- the rows of a day on which one of the server's seasons started, so that a season's board is
  exact to the second however old it is: every rolled-up day lies wholly inside one season.
Whole days only: the first day kept in detail starts at 00:00 UTC, LEDGER_DETAIL_DAYS ago. That is
never less than the rules and windows need (`minimum_days`, checked at start by karma/checks.py):
edits and deletions sum their message's rows (EDIT_WINDOW, twice for late events), the cooldown and
the budget count a person's rows (7 days, an hour), `top week|month` sum the last 30 days.

Each batch is one transaction: the batch's rows are locked, added into their days' roll-ups by one
statement, and deleted. A run cut short (a killed worker) leaves each batch wholly done or not
at all; two runs at once lock the same rows and the second finds them gone: exactly once.
"""

import logging
import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import QuerySet

from karma.ledger import aged
from karma.models import LedgerEntry, LedgerReason, LedgerRollup, Season

logger = logging.getLogger(__name__)

BATCH = 1000  # ledger ids one transaction looks at (and rolls up, at most)
# The cutoff of the last complete run (Django's cache, as karma/retention.py's mark): a run starts
# there, less a margin for rows committed late. Without a mark, from the start: slower once. Named
# anew when a run rolls up more than before (v2: rows with a reason, which v1 kept whole).
ROLLED_UP_BEFORE = "popple:ledger-rolled-up-before:v2"
# What the detail must cover: `top month`, the longest window but a season (karma/router.py:
# WINDOWS), and the cooldown's longest (karma/models.py: GuildSettings.cooldown).
LONGEST_WINDOW = timedelta(days=30)
LONGEST_COOLDOWN = timedelta(days=7)
_ROW = (
    *("id", "guild_id", "subject", "created_at", "delta", "total"),
    *("source", "reason", "message_id", "author_id", "author_name"),
)


def minimum_days(edit_window: int) -> int:
    """The fewest LEDGER_DETAIL_DAYS that keep every rule and window exact, for this EDIT_WINDOW."""
    needed = max(LONGEST_WINDOW, LONGEST_COOLDOWN, 2 * timedelta(seconds=edit_window))
    # Whole days go, from 00:00 UTC of the day `days` ago: up to a day less than `days` stays.
    return math.ceil(needed / timedelta(days=1)) + 1


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """00:00 UTC of the first day kept in detail: rows before it are rolled up."""
    moment = (now or datetime.now(UTC)) - timedelta(days=days)
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


def roll_up(days: int, now: datetime | None = None) -> int:
    """Roll up the ledger rows older than `days` (0: keep them all); how many rows were rolled up."""
    if not days:
        return 0
    if days < minimum_days(settings.EDIT_WINDOW):
        # karma/checks.py refuses this at start; a worker started without the checks stops here.
        raise ValueError(f"LEDGER_DETAIL_DAYS={days} is below {minimum_days(settings.EDIT_WINDOW)}")
    rolled = sum(_batch(rows) for rows in aged.in_ranges(cutoff(days, now), ROLLED_UP_BEFORE, BATCH))
    logger.info("rolled up %d ledger rows older than %d days", rolled, days)
    return rolled


def _batch(rows_in_range: QuerySet[LedgerEntry]) -> int:
    """Roll up the rows of one range of ids, in one transaction; how many."""
    alias = router.db_for_write(LedgerEntry)
    with transaction.atomic(using=alias):
        # Locked: a second run at once waits here, then reads them gone (READ COMMITTED).
        rows = list(rows_in_range.order_by("id").select_for_update().values_list(*_ROW))
        kept = _kept(rows) if rows else set()
        rolled = [row for row in rows if row[0] not in kept]
        days: dict[tuple[int, str, date], list] = {}
        for id_, guild_id, subject, at, delta, total, *_ in rolled:
            key = (guild_id, subject, at.astimezone(UTC).date())
            day = days.setdefault(key, [0, 0, total, id_, at])
            day[0] += delta
            day[1] += 1
            day[2:] = total, id_, at  # rows come in id order: the last one wins
        if rolled:
            _add(alias, days)
            LedgerReason.objects.using(alias).bulk_create(_reasons(rolled))
            LedgerEntry.objects.filter(id__in=[row[0] for row in rolled]).delete()
        return len(rolled)


def _kept(rows: list[tuple]) -> set[int]:
    """The ids of `rows` that stay in detail (the module's docstring says which and why)."""
    kept = {row[0] for row in rows if row[6] in (LedgerEntry.Source.MERGE, LedgerEntry.Source.IMPORT)}
    started = defaultdict(set)
    seasons = Season.objects.filter(guild_id__in={row[1] for row in rows}).values_list("guild_id", "started_at")
    for guild_id, at in seasons:
        started[guild_id].add(at.astimezone(UTC).date())
    return kept | {row[0] for row in rows if row[3].astimezone(UTC).date() in started[row[1]]}


def _reasons(rolled: list[tuple]) -> list[LedgerReason]:
    """The reasons of the `rolled` rows that gave one, but for those whose message was deleted."""
    reasoned = [row for row in rolled if row[7]]
    messages = {row[8] for row in reasoned if row[8] is not None}
    deletions = LedgerEntry.objects.filter(source=LedgerEntry.Source.DELETED, message_id__in=messages)
    deleted = set(deletions.values_list("message_id", flat=True)) if messages else set()
    return [
        LedgerReason(
            id=id_, guild_id=guild_id, subject=subject, created_at=at, delta=delta, reason=reason,
            author_id=author_id, author_name=author_name,
        )
        for id_, guild_id, subject, at, delta, _, _, reason, message_id, author_id, author_name in reasoned
        if message_id not in deleted
    ]  # fmt: skip


_TABLE = LedgerRollup._meta.db_table
_COLUMNS = "guild_id, subject, day, delta, changes, total, last_id, last_at"
# Added into the day's row by one statement, which also waits for a concurrent insert of the same
# day rather than failing on it. MariaDB's assignments see the ones before them: `last_id` last.
# (S608: formatted in are the model's table name and "%s" placeholders; values are parameters.)
_UPSERT = {
    "mysql": f"""INSERT INTO {_TABLE} ({_COLUMNS}) VALUES {{values}} ON DUPLICATE KEY UPDATE
        total = IF(VALUES(last_id) > last_id, VALUES(total), total),
        last_at = IF(VALUES(last_id) > last_id, VALUES(last_at), last_at),
        last_id = GREATEST(last_id, VALUES(last_id)),
        delta = delta + VALUES(delta), changes = changes + VALUES(changes)""",  # noqa: S608
    "sqlite": f"""INSERT INTO {_TABLE} ({_COLUMNS}) VALUES {{values}} ON CONFLICT (guild_id, subject, day) DO UPDATE SET
        total = CASE WHEN excluded.last_id > last_id THEN excluded.total ELSE total END,
        last_at = CASE WHEN excluded.last_id > last_id THEN excluded.last_at ELSE last_at END,
        last_id = MAX(last_id, excluded.last_id),
        delta = delta + excluded.delta, changes = changes + excluded.changes""",  # noqa: S608
}


def _add(alias: str, days: dict[tuple[int, str, date], list]) -> None:
    connection = connections[alias]
    ops = connection.ops
    params: list = []
    for (guild_id, subject, day), (delta, changes, total, last_id, last_at) in days.items():
        params += [guild_id, subject, ops.adapt_datefield_value(day), delta, changes, total, last_id]
        params.append(ops.adapt_datetimefield_value(last_at))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(days))
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT[connection.vendor].format(values=values), params)
