"""Seasons: a moderator starts a new one (`@Popple season new [name]`), and `top season` then
shows the names whose karma moved the most since it started; past seasons stay, each its own board
(`@Popple season 2`), and `@Popple seasons` lists them.

Nothing is archived or reset: a season's board is its changes in the ledger, between its start and
the next one's, so starting a season during a burst loses nothing. A change belongs to the season
in which it was applied (its ledger row's time against the season's start, both taken by the
workers). Season 1 is everything before the first season started here.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import router, transaction
from django.utils import timezone

from karma import modlog
from karma.models import GuildSettings, Season, SettingChange

MAX_SEASON_NAME = 50


@dataclass(frozen=True)
class Span:
    number: int
    name: str
    since: datetime | None  # None: the beginning
    until: datetime | None  # None: still running


def all_of(guild_id: int) -> list[Span]:
    """The server's seasons, the first first (season 1 always: before any was started)."""
    started = list(
        Season.objects.filter(guild_id=guild_id).order_by("number").values_list("number", "name", "started_at")
    )
    starts = [None, *(at for _, _, at in started)]
    ends = [*(at for _, _, at in started), None]
    names = ["", *(name for _, name, _ in started)]
    return [Span(number, names[i], starts[i], ends[i]) for i, number in enumerate(range(1, len(starts) + 1))]


def start(guild_id: int, name: str, started_by: str) -> Span:
    """Start the server's next season now; the new one. Two moderators at once start one each, one
    after the other: the server's row is locked while the next number is taken (as config.change
    does for a setting)."""
    with transaction.atomic(using=router.db_for_write(Season)):
        server, _ = GuildSettings.objects.select_for_update().get_or_create(guild_id=guild_id)
        last = Season.objects.filter(guild_id=guild_id).order_by("-number").first()
        number = (last.number if last else 1) + 1
        season = Season.objects.create(
            guild_id=guild_id, number=number, name=name, started_at=timezone.now(), started_by=started_by
        )
        recorded = SettingChange.objects.create(
            guild_id=guild_id, setting="season", old=str(number - 1), new=f"{number} {name}".strip(),
            changed_by=started_by,
        )  # fmt: skip
        modlog.setting_changed(
            guild_id, server.log_channel, recorded.pk, recorded.changed_at,
            f"{started_by} started season {number}{f' ({name})' if name else ''}.",
        )  # fmt: skip
    return Span(season.number, name, season.started_at, None)
