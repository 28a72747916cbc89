"""How long Popple keeps people's data.

- The ledger forgets who made a change once the change is older than LEDGER_RETENTION_DAYS: the
  author's id and name are blanked, and the reason they wrote (free text, shown publicly); the
  reasons the roll-up kept of older rows (LedgerReason) are deleted. The
  subject, the change, the totals and the message id stay (the message id is what keeps a
  redelivered message from counting twice). People who have no row left in the ledger lose their
  Giver row too.
- A server Popple left loses all its data DEPARTED_SERVER_RETENTION_DAYS later, unless Popple
  came back meanwhile. The gateways say when Popple joins and leaves a server (ServerEvent); the
  event the gateway saw last wins, whatever order the workers apply them in.

- What versions of a message the ledger follows (MessageVersion) is forgotten once the message is
  older than twice EDIT_WINDOW: it can no longer be edited or deleted (late events get a margin).

The periodic tasks (karma/tasks.py; botgateway/tasks.py for the versions, whose age only a Discord
id tells) call these. Both work in batches of short statements, each in
its own transaction, so that a server with millions of ledger rows is never locked for long.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from karma.ledger import aged
from karma.message import LEFT, PRESENT, UPDATED, ServerEvent
from karma.models import (
    Giver,
    GuildSettings,
    Karma,
    LedgerEntry,
    LedgerReason,
    LedgerRollup,
    Member,
    MessageVersion,
    Reaction,
    SettingChange,
)

logger = logging.getLogger(__name__)

ID_RANGE = 5000  # ledger ids one anonymising statement looks at
BATCH = 1000  # rows one deleting statement deletes
# The cutoff of the last complete anonymising run (Django's cache: Redis when configured). Named
# anew when a run blanks more than before (v2: reasons): the first run walks the old rows again.
ANONYMISED_BEFORE = "popple:ledger-anonymised-before:v2"


def anonymise_ledger(days: int, now: datetime | None = None) -> int:
    """Blank the author and the reason of ledger rows older than `days` (0: keep them forever); how
    many rows."""
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    changed = 0
    for rows in aged.in_ranges(cutoff, ANONYMISED_BEFORE, ID_RANGE):
        changed += rows.exclude(author_id=None, author_name="", reason="").update(
            author_id=None, author_name="", reason=""
        )
    changed += _forget_rolled_up_reasons(cutoff)
    forgotten = _forget_givers()
    logger.info(
        "anonymised %d ledger rows older than %d days; forgot %d people with no ledger row left",
        changed,
        days,
        forgotten,
    )
    return changed


def _forget_rolled_up_reasons(cutoff: datetime) -> int:
    """Delete the reasons of rolled-up rows (karma/ledger/rollup.py) older than `cutoff`: a reason
    and its author are all such a row holds. Their ids are the ledger's, in the order of time:
    the old ones are those before the first young one, found on the primary key."""
    young = LedgerReason.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    old = LedgerReason.objects.filter(created_at__lt=cutoff)  # a roll-up may add young ones meanwhile
    old = old.filter(id__lt=young) if young is not None else old
    forgotten = 0
    while ids := list(old.values_list("id", flat=True)[:BATCH]):
        forgotten += LedgerReason.objects.filter(id__in=ids).delete()[0]
    return forgotten


def _forget_givers() -> int:
    """Delete the Giver rows of people the ledger no longer names: the cooldown and the budget
    create them again if those people come back (karma/ledger/writes.py)."""
    named = LedgerEntry.objects.filter(guild_id=OuterRef("guild_id"), author_id=OuterRef("author_id"))
    gone = Giver.objects.filter(~Exists(named))
    forgotten = 0
    while ids := list(gone.values_list("id", flat=True)[:BATCH]):
        forgotten += Giver.objects.filter(id__in=ids).delete()[0]
    return forgotten


def forget_versions(before_id: int) -> int:
    """Delete the MessageVersion rows of messages older than the message `before_id`; how many.

    Message ids grow with time, so the rows go by a range of the primary key. Which id was made
    when is Discord's to say: the periodic task (karma.forget_message_versions, in
    botgateway/tasks.py) finds the first id of twice EDIT_WINDOW ago.
    """
    old = MessageVersion.objects.filter(message_id__lt=before_id)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:BATCH]):
        deleted += MessageVersion.objects.filter(pk__in=ids).delete()[0]
    if deleted:
        logger.info("forgot the versions of %d messages too old to be edited", deleted)
    return deleted


def forget_reactions(before_stamp: int) -> int:
    """Delete the records of reactions that give nothing (removed, refused, cleared) whose last
    event is older than `before_stamp` (nanoseconds since the epoch); how many. They only keep
    events older than them from counting, and none arrives that late. Those that give stay: their
    removal, whenever it comes, takes back what they gave."""
    old = Reaction.objects.filter(given=0, stamp__lt=before_stamp)
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:BATCH]):
        deleted += Reaction.objects.filter(pk__in=ids).delete()[0]
    return deleted


def record(event: ServerEvent) -> int:
    """Record that Popple joined or left a server, found itself in servers, or that a server was
    renamed; how many servers changed.

    An event older than the one recorded (a late or redelivered one) changes nothing: joins and
    leaves compare with membership_changed_at, names with named_at.
    """
    at = datetime.fromtimestamp(event.at, UTC)
    if event.event == PRESENT:
        return _present(event, at)
    [guild_id] = event.guild_ids
    # The row must exist for a join too: a leave seen earlier, arriving after it, must find
    # the join's time there.
    GuildSettings.objects.bulk_create([GuildSettings(guild_id=guild_id)], ignore_conflicts=True)
    renamed = 0
    if event.names:
        renamed = _rename(guild_id, *_named(event.names[0]), at)
    if event.event == UPDATED:
        return renamed
    newer = Q(membership_changed_at=None) | Q(membership_changed_at__lt=at)
    membership: dict[str, datetime | None] = (
        {"left_at": at} if event.event == LEFT else {"left_at": None, "joined_at": at}
    )
    changed = GuildSettings.objects.filter(newer, guild_id=guild_id).update(**membership, membership_changed_at=at)
    if changed:
        logger.info("Popple %s server %s", event.event, guild_id)
    return changed


def _named(name: list) -> tuple[str, str | None, str | None]:
    """(name, icon hash, locale) of a ServerEvent's server; the locale None when the gateway was
    older than it (then the one recorded stays)."""
    return name[0], name[1], name[2] if len(name) > 2 else None


def _rename(guild_id: int, name: str, icon: str | None, locale: str | None, at: datetime) -> int:
    """Record the server's name, icon and Discord locale, unless a newer one is recorded: kept as
    its name is, the locale being what it says rather than what Popple was told to speak."""
    newer = Q(named_at=None) | Q(named_at__lt=at)
    said = {} if locale is None else {"locale": locale}
    return GuildSettings.objects.filter(newer, guild_id=guild_id).update(
        name=name, icon=icon or "", named_at=at, **said
    )


def _present(event: ServerEvent, at: datetime) -> int:
    """Sent for every server at each connect: only servers marked departed (Popple was added back
    while no gateway was connected), unknown, or renamed meanwhile are written; the rest cost an
    index lookup each."""
    departed = GuildSettings.objects.filter(guild_id__in=event.guild_ids, left_at__lt=at)
    back = list(departed.values_list("guild_id", flat=True))
    changed = departed.filter(guild_id__in=back).update(left_at=None, membership_changed_at=at) if back else 0
    if changed:
        logger.info("Popple found itself back in %s, which it had left", _ids(back))
    if event.names:
        seen = dict(zip(event.guild_ids, (_named(name) for name in event.names), strict=True))
        known = GuildSettings.objects.filter(guild_id__in=event.guild_ids).values_list(
            "guild_id", "name", "icon", "locale"
        )
        recorded = {guild_id: (name, icon or None, locale) for guild_id, name, icon, locale in known}
        GuildSettings.objects.bulk_create(
            [
                GuildSettings(guild_id=guild_id, name=name, icon=icon or "", locale=locale or "", named_at=at)
                for guild_id, (name, icon, locale) in seen.items()
                if guild_id not in recorded
            ],
            ignore_conflicts=True,  # a join recorded meanwhile
        )
        for guild_id, (name, icon, locale) in seen.items():
            was = recorded.get(guild_id)
            if was and ((was[0], was[1]) != (name, icon) or (locale is not None and was[2] != locale)):
                _rename(guild_id, name, icon, locale, at)
    return changed


def _ids(guild_ids: list[int]) -> str:
    shown = ", ".join(map(str, guild_ids[:3])) + (f" and {len(guild_ids) - 3} more" if len(guild_ids) > 3 else "")
    return f"server{'s' * (len(guild_ids) > 1)} {shown}"


def delete_departed(days: int, now: datetime | None = None) -> list[int]:
    """Delete everything of the servers Popple left more than `days` ago; which ones."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    deleted = []
    for guild_id, left_at in GuildSettings.objects.filter(left_at__lt=cutoff).values_list("guild_id", "left_at"):
        if _delete_server(guild_id, cutoff):
            # left_at is never null here (left_at__lt): django-stubs cannot know.
            days_ago = (now - left_at).days  # type: ignore[operator]
            logger.info("deleted data of server %s, left %d days ago", guild_id, days_ago)
            deleted.append(guild_id)
    return deleted


def _delete_server(guild_id: int, cutoff: datetime) -> bool:
    departed = GuildSettings.objects.filter(guild_id=guild_id, left_at__lt=cutoff)
    models = (LedgerEntry, LedgerRollup, LedgerReason, Karma, Giver, SettingChange, MessageVersion, Reaction, Member)
    for model in models:
        rows = model.objects.filter(guild_id=guild_id)
        while ids := list(rows.values_list("pk", flat=True)[:BATCH]):
            # Popple may be added back while this runs: what is left of the server stays.
            if not departed.exists():
                logger.info("server %s came back: stopped deleting its data", guild_id)
                return False
            model.objects.filter(pk__in=ids).delete()
    # Last, so that a run cut short is finished by the next one.
    return bool(departed.delete()[0])
