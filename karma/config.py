"""A server's settings as people change them: `@Popple config` in Discord, and the admin.

Each setting has a name people type, a way to read what they typed (a clear answer when it is
not a valid value, and nothing changes), and a way to show it. Every change is recorded: who,
when, the old and the new value (karma/models.py, SettingChange).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction

from karma import channels, emoji, modlog, points
from karma.models import MAX_NAME_LENGTH, MAX_REACTION_EMOJI, GuildSettings, SettingChange
from karma.names import clean, folded
from karma.replies import duration, shorten
from karma.thanks import THANK_WORDS, parse_words

MAX_IGNORED = 100
_DURATION = re.compile(r"(\d{1,7})\s*(s|sec|m|min|h)?", re.IGNORECASE)
SHOWN_NAMES = 20  # ignored names listed in a reply
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
ON_OFF = {"on": True, "yes": True, "off": False, "no": False}


def _off_or_number(text: str, maximum: int, unit_parser: Callable[[str], int | None] | None = None) -> int | None:
    word = text.strip().lower()
    if word in ("off", "none"):
        return 0
    number = unit_parser(word) if unit_parser else (int(word) if word.isascii() and word.isdigit() else None)
    return number if number is not None and 0 <= number <= maximum else None


def _seconds(word: str) -> int | None:
    match = _DURATION.fullmatch(word)
    return int(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "").lower() or None] if match else None


@dataclass(frozen=True)
class Setting:
    field: str  # GuildSettings' field
    help: str  # what a valid value looks like: the answer to a bad one
    parse: Callable[[str, Any], Any]  # (what was typed, the current value) -> the new value, or None
    show: Callable[[Any], str]


def _parse_ignore(text: str, current: list[str]) -> list[str] | None:
    action, _, rest = text.strip().partition(" ")
    action = action.lower()
    if action == "clear":
        return [] if not rest.strip() else None
    names = [name for name in (clean(part) for part in rest.split(",")) if name]
    if action not in ("add", "remove") or not names or any(len(name) > MAX_NAME_LENGTH for name in names):
        return None
    if action == "remove":
        gone = {folded(name) for name in names}
        return [name for name in current if folded(name) not in gone]
    known = {folded(name) for name in current}
    added = current + [name for name in dict.fromkeys(names) if folded(name) not in known]
    return added if len(added) <= MAX_IGNORED else None


def _parse_reactions(text: str, current: list[str]) -> list[str] | None:
    if text.strip().lower() in ("off", "none"):
        return []
    listed = emoji.parse_list(text)
    return listed if listed and len(listed) <= MAX_REACTION_EMOJI else None


def _parse_log(text: str) -> int | None:
    """`#channel` (its id), or "off" (0: stored as no channel)."""
    if text.strip().lower() in ("off", "none"):
        return 0
    return channels.channel_of(text)


def _show_names(names: list[str]) -> str:
    """The ignored names, within one line of a reply (the admin shows them all)."""
    if not names:
        return "(none)"
    shown = [shorten(name) for name in names[:SHOWN_NAMES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


SETTINGS = {
    "announce": Setting(
        "announce", 'announce must be "on" or "off"', lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "selfkarma": Setting(
        "allow_self_karma", 'selfkarma must be "allow" or "deny"',
        lambda text, _: {"allow": True, "deny": False}.get(text.strip().lower()),
        lambda value: "allow" if value else "deny",
    ),
    "cooldown": Setting(
        "cooldown", 'cooldown must be a time (60, 90s, 5m or 1h; at most 7 days) or "off"',
        lambda text, _: _off_or_number(text, 7 * 24 * 3600, _seconds),
        lambda value: duration(value) if value else "off",
    ),
    "budget": Setting(
        "budget", 'budget must be a number of changes per person per hour (at most 10000) or "off"',
        lambda text, _: _off_or_number(text, 10_000),
        lambda value: f"{value} changes per person per hour" if value else "off",
    ),
    "maxchange": Setting(
        "max_change", 'maxchange must be the most karma one message may give a name (at most 1000) or "off"',
        lambda text, _: _off_or_number(text, 1_000),
        lambda value: f"{value} per name per message" if value else "off",
    ),
    "public": Setting(
        "public", 'public must be "on" (anyone can see the leaderboard on the web) or "off"',
        lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "ignore": Setting(
        "ignored", 'Use "ignore add NAME", "ignore remove NAME" (several: separate them with commas) or "ignore clear"',
        _parse_ignore,
        _show_names,
    ),
    "reactions": Setting(
        "reactions",
        f'reactions must be the emoji that give karma (such as "reactions 👍 ⬆️"; at most {MAX_REACTION_EMOJI}) '
        'or "off"',
        _parse_reactions,
        lambda value: " ".join(value) if value else "off",
    ),
    "channels": Setting(
        "channels",
        'channels must be "all", "only #channel #category ..." or "except #channel ..." (Popple answers commands '
        "everywhere)",
        lambda text, _: channels.parse(text),
        channels.show,
    ),
    "points": Setting(
        "points",
        'points must be a name for karma (such as "cookies", or "cookie/cookies" for one and for many; letters, '
        f'digits, spaces, hyphens or emoji, at most {points.MAX_POINTS_NAME} characters each)',
        lambda text, _: points.parse(text),
        str,
    ),
    "thanks": Setting(
        "thanks", 'thanks must be "on" (thanking someone gives them +1) or "off"',
        lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "thankwords": Setting(
        "thank_words",
        f"thankwords must be words thanks listen for, separated by commas, among: {', '.join(THANK_WORDS)}",
        lambda text, _: parse_words(text),
        ", ".join,
    ),
    "log": Setting(
        "log_channel",
        'log must be a channel (such as "log #mod-log", where Popple posts settings changes, seasons, reverts, merges '
        'and people often refused) or "off"',
        lambda text, _: _parse_log(text),
        lambda value: f"<#{value}>" if value else "off",
    ),
    "logrefusals": Setting(
        "log_refusals",
        'logrefusals must be how many refusals by the cooldown or the budget in an hour get a person named in the log '
        '(at most 1000) or "off"',
        lambda text, _: _off_or_number(text, 1_000),
        lambda value: f"{value} an hour" if value else "off",
    ),
}  # fmt: skip


def show(guild_id: int) -> list[str]:
    """Every setting of the server, one line each: `name: value`."""
    settings = GuildSettings.objects.filter(guild_id=guild_id).first() or GuildSettings(guild_id=guild_id)
    return [f"{name}: {setting.show(getattr(settings, setting.field))}" for name, setting in SETTINGS.items()]


def change(guild_id: int, name: str, text: str, changed_by: str) -> str:
    """Set the server's setting `name` from what was typed; returns its new value, shown.

    ValueError says what a valid value looks like; then nothing changed.
    """
    setting = SETTINGS[name]
    with transaction.atomic(using=router.db_for_write(GuildSettings)):
        settings, _ = GuildSettings.objects.select_for_update().get_or_create(guild_id=guild_id)
        old = getattr(settings, setting.field)
        new = setting.parse(text, old)
        if new is None:
            raise ValueError(setting.help)
        if new == 0 and setting.field == "log_channel":
            new = None  # no log channel
        if new != old:
            setattr(settings, setting.field, new)
            settings.save(update_fields=[setting.field])
            recorded = SettingChange.objects.create(
                guild_id=guild_id, setting=name, old=setting.show(old), new=setting.show(new), changed_by=changed_by
            )
            # A log turned off or moved says so in the channel it leaves.
            _log(recorded, old if name == "log" and old else settings.log_channel)
    return setting.show(new)


def _log(change: SettingChange, channel_id: int | None) -> None:
    """The change, in the server's moderators' log."""
    line = f"{change.changed_by} set {change.setting} to {change.new} (was {change.old})."
    modlog.setting_changed(change.guild_id, channel_id, change.pk, change.changed_at, line)


def record_admin_change(old: GuildSettings | None, new: GuildSettings, user: AbstractBaseUser) -> None:
    """Record what an admin changed in a server's settings (karma/admin.py)."""
    for name, setting in SETTINGS.items():
        # (SETTINGS name fields of the model itself, never relations, which have no default.)
        before = getattr(old, setting.field) if old else GuildSettings._meta.get_field(setting.field).get_default()  # type: ignore[union-attr]
        after = getattr(new, setting.field)
        if before != after:
            recorded = SettingChange.objects.create(
                guild_id=new.guild_id,
                setting=name,
                old=setting.show(before),
                new=setting.show(after),
                changed_by=f"admin {user.get_username()}",
                admin_user=user,  # type: ignore[misc]  # any user model's user; stubs assume auth.User
            )
            _log(recorded, new.log_channel or (old.log_channel if old else None))
