"""Reading karma: what a name has, the boards, the reasons given, whether a server announces.

The ORM, not the raw SQL of the write path (karma/ledger/writes.py): these are not the hot path,
but for delivery's look-up of the current versions (_current).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import connections, router
from django.db.models import Max, QuerySet, Sum
from django.db.models.functions import TruncDate

from karma import language
from karma.ledger.rollup import cutoff
from karma.models import GuildSettings, Karma, LedgerEntry, LedgerReason, LedgerRollup
from karma.points import KARMA, Points, from_stored

Totals = list[tuple[str, int]]  # (subject, karma)
ANNOUNCE_DEFAULT = GuildSettings._meta.get_field("announce").default


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


def current(guild_id: int, subjects: Iterable[str]) -> dict[str, tuple[int, int]]:
    """{subject: (karma, version)} of the subjects that exist and were not merged into another."""
    return {subject: (karma, version) for subject, karma, version in _current(guild_id, list(subjects))}


def versions(guild_id: int, subjects: Iterable[str]) -> dict[str, int]:
    """{subject: version} of the subjects that exist and were not merged into another: current()
    without the karma, for delivery's look-up of what a channel may be told (karma/router.py)."""
    return {subject: version for subject, _, version in _current(guild_id, list(subjects))}


# Formatted with table names from the models and "%s" placeholders only; the values are parameters.
_CURRENT = (
    f"SELECT subject, karma, version FROM {Karma._meta.db_table} "  # noqa: S608
    "WHERE guild_id = %s AND subject IN ({subjects}) AND merged_into IS NULL"
)


def _current(guild_id: int, subjects: list[str]) -> list[tuple[str, int, int]]:
    """The rows of current() and versions(), in SQL of its own: delivery reads them for many
    replies (botgateway/delivery.py), and building the ORM's query cost more than running it
    (py-spy: a fifth of the reply workers' CPU in Django's filter())."""
    if not subjects:
        return []
    with connections[router.db_for_read(Karma)].cursor() as cursor:
        cursor.execute(_CURRENT.format(subjects=", ".join(["%s"] * len(subjects))), [guild_id, *subjects])
        return list(cursor.fetchall())


def board(guild_id: int, size: int, highest: bool = True) -> Totals:
    """The `size` subjects with the most (or least) karma, ties by name; zeros are left out."""
    order = ("-karma" if highest else "karma", "subject")
    rows = Karma.objects.filter(guild_id=guild_id).exclude(karma=0).order_by(*order)
    return list(rows.values_list("subject", "karma")[:size])


def reasons(guild_id: int, subject: str, count: int) -> list[tuple[str, int, str, datetime, str]]:
    """The subject's last `count` changes that gave a reason, newest first, as (subject, delta,
    author name, when, reason); not those of messages deleted since. From the ledger, and from
    the reasons of the rows rolled up (karma/ledger/rollup.py)."""
    deleted = LedgerEntry.objects.filter(guild_id=guild_id, subject=subject, source=LedgerEntry.Source.DELETED)
    rows = (
        LedgerEntry.objects.filter(guild_id=guild_id, subject=subject)
        .exclude(reason="")
        .exclude(message_id__in=deleted.values("message_id"))
    )
    rolled = LedgerReason.objects.filter(guild_id=guild_id, subject=subject)
    fields = ("created_at", "id", "subject", "delta", "author_name", "reason")
    # Keyed by the ledger id: a roll-up that commits between the two reads moves a row from one to
    # the other, and it is one reason.
    by_id = {
        row[1]: row
        for query in (rows, rolled)
        for row in query.order_by("-created_at", "-id").values_list(*fields)[:count]
    }
    newest = sorted(by_id.values(), reverse=True)[:count]
    return [(subject, delta, author, at, reason) for at, _, subject, delta, author, reason in newest]


def board_since(
    guild_id: int, size: int, since: datetime | None, highest: bool = True, until: datetime | None = None
) -> Totals:
    """The `size` subjects whose karma rose the most (or fell the most) since `since` (and before
    `until`), ties by name; those it did not move are left out. Merges move karma between names,
    not to them: they do not count.

    Older than LEDGER_DETAIL_DAYS, the ledger holds days (karma/ledger/rollup.py): a rolled-up day
    counts when it lies wholly inside the window. That is exact for every window Popple asks for:
    `week` and `month` are within the detail (karma/checks.py), and a season's first day is never
    rolled up, so every rolled-up day lies wholly inside one season.
    """
    changes = LedgerEntry.objects.filter(guild_id=guild_id)
    days = LedgerRollup.objects.filter(guild_id=guild_id)
    if since is not None:
        changes = changes.filter(created_at__gte=since)
        days = days.filter(day__gte=_first_day_from(since).date())
    if until is not None:
        changes = changes.filter(created_at__lt=until)
        days = days.filter(day__lte=(until - timedelta(days=1)).astimezone(UTC).date())  # ends by `until`
    moved = changes.exclude(source=LedgerEntry.Source.MERGE).values("subject").annotate(moved=Sum("delta"))
    order = ("-moved" if highest else "moved", "subject")
    if not days.exists():  # the common case, in SQL to the last row
        return [(row["subject"], row["moved"]) for row in moved.exclude(moved=0).order_by(*order)[:size]]
    totals = Counter({row["subject"]: row["moved"] for row in moved})
    totals.update({row["subject"]: row["moved"] for row in days.values("subject").annotate(moved=Sum("delta"))})
    ranked = sorted(((s, n) for s, n in totals.items() if n), key=lambda row: (-row[1] if highest else row[1], row[0]))
    return ranked[:size]


def _first_day_from(moment: datetime) -> datetime:
    """00:00 UTC of the first day that starts at or after `moment`."""
    start = datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)
    return start if start == moment else start + timedelta(days=1)


def history(guild_id: int, subject: str, count: int, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """The subject's last `count` points of karma over time, oldest first: (when, karma after).

    Within LEDGER_DETAIL_DAYS, one per change; before it, one per day, its last change: what the
    roll-up leaves (karma/ledger/rollup.py), whether or not it has run yet, so the chart draws the
    same line before and after it.
    """
    detail = LedgerEntry.objects.filter(guild_id=guild_id, subject=subject)
    days = settings.LEDGER_DETAIL_DAYS
    recent = detail.filter(created_at__gte=cutoff(days, now)) if days else detail
    points = list(recent.order_by("-id").values_list("created_at", "total")[:count])
    if len(points) == count or not days:
        return points[::-1]
    wanted = count - len(points)
    # Per day, its last change: among the roll-up's, and the detail rows older than the cutoff
    # (those it keeps, and all of them until it has run).
    old = detail.filter(created_at__lt=cutoff(days, now))
    last_ids = (
        old.annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day").annotate(last=Max("id")).order_by("-day")
    )
    newest: dict = {}
    ids = [row["last"] for row in last_ids[:wanted]]
    for id_, at, total in LedgerEntry.objects.filter(id__in=ids).values_list("id", "created_at", "total"):
        newest[at.astimezone(UTC).date()] = (id_, at, total)
    rolled = LedgerRollup.objects.filter(guild_id=guild_id, subject=subject).order_by("-day")
    for day, id_, at, total in rolled.values_list("day", "last_id", "last_at", "total")[:wanted]:
        if day not in newest or newest[day][0] < id_:
            newest[day] = (id_, at, total)
    older = [(at, total) for _, (_, at, total) in sorted(newest.items())[-wanted:]]
    return older + points[::-1]


def givers(guild_id: int, size: int, since: datetime | None = None) -> Totals:
    """The `size` people who gave the most karma (since `since`), by a name they gave under (names
    change; the ledger keeps each row's).

    What a person gave is the net of their changes by chat (`++`, thanks), reactions and `/plus`,
    edits and removals taking back what they gave, but not their `--`s (a message's first version
    that takes karma): taking is not giving. Those who gave nothing net are left out.

    Only the last LEDGER_DETAIL_DAYS count, `all` and a season too: the roll-up keeps no giver
    (karma/ledger/rollup.py), and counting the rows it happens to keep (merges, imports, a season's
    first day) would change the board each time it runs.
    """
    rows = _given(guild_id)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    totals = (
        rows.values("author_id")
        .annotate(given=Sum("delta"), name=Max("author_name"))
        .filter(given__gt=0)
        .order_by("-given", "name")
    )
    return [(row["name"] or str(row["author_id"]), row["given"]) for row in totals[:size]]


def points_of(guild_id: int) -> Points:
    """What the server calls karma."""
    stored = GuildSettings.objects.filter(guild_id=guild_id).values_list("points", flat=True).first()
    return from_stored(stored) if stored else KARMA


def wording(guild_id: int) -> tuple[Points, str]:
    """What the server calls karma, and Django's code of the language of its answers, in one query."""
    row = GuildSettings.objects.filter(guild_id=guild_id).values_list("points", "language", "locale").first()
    if row is None:
        return KARMA, language.ENGLISH
    return (from_stored(row[0]) if row[0] else KARMA), language.django_code(row[1], row[2])


def language_of(guild_id: int) -> str:
    """Django's code of the language of the server's answers (karma/language.py)."""
    return wording(guild_id)[1]


def gave(guild_id: int, name: str) -> int:
    """What the person who gave under `name` gave, as givers() counts it (0: nothing, or no one)."""
    return _given(guild_id).filter(author_name=name).aggregate(given=Sum("delta"))["given"] or 0


def _given(guild_id: int) -> QuerySet[LedgerEntry]:
    """The ledger rows of what people gave (givers(), gave()), within LEDGER_DETAIL_DAYS."""
    rows = LedgerEntry.objects.all()
    if settings.LEDGER_DETAIL_DAYS:
        rows = rows.filter(created_at__gte=cutoff(settings.LEDGER_DETAIL_DAYS))
    return (
        rows.filter(
            guild_id=guild_id,
            author_id__isnull=False,
            source__in=(LedgerEntry.Source.CHAT, LedgerEntry.Source.REACTION, LedgerEntry.Source.DELETED),
        )
        .exclude(source=LedgerEntry.Source.CHAT, revision=0, delta__lt=0)
        .exclude(source=LedgerEntry.Source.DELETED, delta__gt=0)  # a deleted `--` given back
    )


def thank_words(guild_id: int) -> list[str]:
    """The words the server's thanks listen for; none when it does not count thanks."""
    row = GuildSettings.objects.filter(guild_id=guild_id).values_list("thanks", "thank_words").first()
    return list(row[1]) if row and row[0] else []


def announce_enabled(guild_id: int) -> bool:
    settings = GuildSettings.objects.filter(guild_id=guild_id).first()
    return settings.announce if settings else ANNOUNCE_DEFAULT
