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
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from karma import channels, emoji, language, modlog, points
from karma.models import MAX_NAME_LENGTH, MAX_REACTION_EMOJI, GuildSettings, SettingChange
from karma.names import clean, folded
from karma.replies import duration, shorten
from karma.roles import rewards
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
    help: str | Promise  # what a valid value looks like: the answer to a bad one (lazy: said in the server's language)
    parse: Callable[[str, Any], Any]  # (what was typed, the current value) -> the new value, or None
    show: Callable[[Any], str]


def _parse_ignore(text: str, current: list[str]) -> list[str] | None:
    action, _space, rest = text.strip().partition(" ")
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
        return _("(none)")
    shown = [shorten(name) for name in names[:SHOWN_NAMES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (_(" and {count} more").format(count=more) if more else "")


def _changes_per_hour(value: int) -> str:
    if not value:
        return "off"
    return ngettext("{count} change per person per hour", "{count} changes per person per hour", value).format(
        count=value
    )


def _per_hour(value: int) -> str:
    return _("{count} an hour").format(count=value) if value else "off"


def _per_message(value: int) -> str:
    return _("{count} per name per message").format(count=value) if value else "off"


SETTINGS = {
    "announce": Setting(
        "announce", gettext_lazy('announce must be "on" or "off"'), lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "selfkarma": Setting(
        "allow_self_karma", gettext_lazy('selfkarma must be "allow" or "deny"'),
        lambda text, _: {"allow": True, "deny": False}.get(text.strip().lower()),
        lambda value: "allow" if value else "deny",
    ),
    "cooldown": Setting(
        "cooldown", gettext_lazy('cooldown must be a time (60, 90s, 5m or 1h; at most 7 days) or "off"'),
        lambda text, _: _off_or_number(text, 7 * 24 * 3600, _seconds),
        lambda value: duration(value) if value else "off",
    ),
    "budget": Setting(
        "budget", gettext_lazy('budget must be a number of changes per person per hour (at most 10000) or "off"'),
        lambda text, _: _off_or_number(text, 10_000),
        _changes_per_hour,
    ),
    "maxchange": Setting(
        "max_change",
        gettext_lazy('maxchange must be the most karma one message may give a name (at most 1000) or "off"'),
        lambda text, _: _off_or_number(text, 1_000),
        _per_message,
    ),
    "public": Setting(
        "public", gettext_lazy('public must be "on" (anyone can see the leaderboard on the web) or "off"'),
        lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "ignore": Setting(
        "ignored",
        gettext_lazy(
            'Use "ignore add NAME", "ignore remove NAME" (several: separate them with commas) or "ignore clear"'
        ),
        _parse_ignore,
        _show_names,
    ),
    "reactions": Setting(
        "reactions",
        format_lazy(
            gettext_lazy(
                'reactions must be the emoji that give karma (such as "reactions 👍 ⬆️"; at most {count}) or "off"'
            ),
            count=MAX_REACTION_EMOJI,
        ),
        _parse_reactions,
        lambda value: " ".join(value) if value else "off",
    ),
    "channels": Setting(
        "channels",
        gettext_lazy(
            'channels must be "all", "only #channel #category ..." or "except #channel ..." (Popple answers commands '
            "everywhere)"
        ),
        lambda text, _: channels.parse(text),
        channels.show,
    ),
    "points": Setting(
        "points",
        format_lazy(
            gettext_lazy(
                'points must be a name for karma (such as "cookies", or "cookie/cookies" for one and for many; '
                "letters, digits, spaces, hyphens or emoji, at most {count} characters each)"
            ),
            count=points.MAX_POINTS_NAME,
        ),
        lambda text, _: points.parse(text),
        str,
    ),
    "language": Setting(
        "language",
        format_lazy(
            gettext_lazy(
                'language must be "auto" (the server\'s language in Discord, when Popple speaks it, else English) '
                "or one of: {languages}"
            ),
            languages=", ".join(language.SUPPORTED),
        ),
        lambda text, _: language.parse(text),
        language.show,
    ),
    "thanks": Setting(
        "thanks", gettext_lazy('thanks must be "on" (thanking someone gives them +1) or "off"'),
        lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
    "thankwords": Setting(
        "thank_words",
        format_lazy(
            gettext_lazy("thankwords must be words thanks listen for, separated by commas, among: {words}"),
            words=", ".join(THANK_WORDS),
        ),
        lambda text, _: parse_words(text),
        ", ".join,
    ),
    "log": Setting(
        "log_channel",
        gettext_lazy(
            'log must be a channel (such as "log #mod-log", where Popple posts settings changes, seasons, reverts, '
            'merges and people often refused) or "off"'
        ),
        lambda text, _: _parse_log(text),
        lambda value: f"<#{value}>" if value else "off",
    ),
    "logrefusals": Setting(
        "log_refusals",
        gettext_lazy(
            "logrefusals must be how many refusals by the cooldown or the budget in an hour get a person named in "
            'the log (at most 1000) or "off"'
        ),
        lambda text, _: _off_or_number(text, 1_000),
        _per_hour,
    ),
    "roles": Setting("role_rewards", rewards.HELP, lambda text, _: rewards.parse(text), rewards.show),
    "rolestack": Setting(
        "role_stack", gettext_lazy('rolestack must be "on" (keep every role reached) or "off" (only the highest)'),
        lambda text, _: ON_OFF.get(text.strip().lower()),
        lambda value: "on" if value else "off",
    ),
}  # fmt: skip


def show(guild_id: int) -> list[str]:
    """Every setting of the server, one line each: `name: value`."""
    settings = GuildSettings.objects.filter(guild_id=guild_id).first() or GuildSettings(guild_id=guild_id)
    return [f"{name}: {_shown(name, setting, settings)}" for name, setting in SETTINGS.items()]


def _shown(name: str, setting: Setting, settings: GuildSettings) -> str:
    value = getattr(settings, setting.field)
    if name == "language" and not value:  # auto: and which language that is now
        return f"{language.AUTO} ({language.of_discord(settings.locale)})"
    return setting.show(value)


def change(guild_id: int, name: str, text: str, changed_by: str) -> str:
    """Set the server's setting `name` from what was typed; returns its new value, shown.

    ValueError says what a valid value looks like; then nothing changed.
    """
    setting = SETTINGS[name]
    with transaction.atomic(using=router.db_for_write(GuildSettings)):
        settings, _created = GuildSettings.objects.select_for_update().get_or_create(guild_id=guild_id)
        old = getattr(settings, setting.field)
        new = setting.parse(text, old)
        if new is None:
            raise ValueError(str(setting.help))
        if new == 0 and setting.field == "log_channel":
            new = None  # no log channel
        if new != old:
            setattr(settings, setting.field, new)
            settings.save(update_fields=[setting.field])
            # The record is English whatever the server speaks: the admin reads it.
            with translation.override(language.ENGLISH):
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
