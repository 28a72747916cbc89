"""Slash commands as Discord has them: the registration Popple sends (manage.py sync_commands), the
interaction object it receives (by the gateway or at POST /interactions), and the token's life.

What the commands are, what is refused at once and what a worker answers is the domain's
(karma/slash.py); this module only translates between that and Discord's JSON.
"""

import time
from typing import Any

from django.utils import translation
from django.utils.functional import Promise

from botgateway import snowflakes
from karma import language
from karma.slash import COMMANDS, GIVE_KARMA_SHOWN, Command, Option, SlashCommand

# An interaction's token lets Popple edit its response for 15 minutes; a little is kept back for
# the request itself.
TOKEN_SECONDS = 15 * 60 - 30
MANAGE_GUILD = 1 << 5  # Discord's permission bits
ADMINISTRATOR = 1 << 3
EPHEMERAL = 1 << 6  # a message flag: only the person who asked sees it

# Option types (Discord's ApplicationCommandOptionType)
STRING, INTEGER = 3, 4
# Command types (Discord's ApplicationCommandType): a slash command, and the context menus' entries
CHAT_INPUT, USER, MESSAGE = 1, 2, 3
_MENU_TYPES = {"user": USER, "message": MESSAGE}
_OPTION_TYPES = {str: STRING, int: INTEGER}


def _localized(text: str | Promise) -> dict[str, str]:
    """`text` in each language Popple speaks but English, by Discord's locale codes: what Discord's
    clients show those who use them (`name_localizations`, `description_localizations`)."""
    said = {}
    for code in language.SUPPORTED:
        if code != language.ENGLISH:
            with translation.override(language.DJANGO_CODES[code]):
                said[code] = str(text)
    return said


def _english(text: str | Promise) -> str:
    with translation.override(language.ENGLISH):
        return str(text)


def _option(option: Option) -> dict:
    extra: dict[str, Any] = {}
    if option.choices:
        extra["choices"] = [{"name": choice, "value": choice} for choice in option.choices]
    if option.min_value is not None:
        extra["min_value"] = option.min_value
    if option.max_value is not None:
        extra["max_value"] = option.max_value
    return {
        "type": _OPTION_TYPES[option.kind],
        "name": option.name,
        "description": _english(option.description),
        "description_localizations": _localized(option.description),
        "required": option.required,
        **extra,
    }


def _everywhere(command: Command) -> dict:
    return {
        # Shown to members who can manage the server (a server's own integration settings can
        # change that, so the domain checks again: can_manage).
        "default_member_permissions": str(MANAGE_GUILD) if command.managers_only else None,
        "contexts": [0],  # servers only
        "integration_types": [0],  # installed to servers
    }


def _registrations(command: Command) -> list[dict]:
    """A command as Discord registers it: a slash command, or an entry in each of its context
    menus (which have neither a description nor options: Discord says what was clicked)."""
    if command.menus:
        # The entry's name is what the menu shows: translated (Discord still sends `command.name`).
        names = _localized(GIVE_KARMA_SHOWN)
        return [
            {"name": command.name, "name_localizations": names, "type": _MENU_TYPES[menu], **_everywhere(command)}
            for menu in command.menus
        ]
    return [
        {
            "name": command.name,
            "type": CHAT_INPUT,
            "description": _english(command.description),
            "description_localizations": _localized(command.description),
            "options": [_option(option) for option in command.options],
            **_everywhere(command),
        }
    ]


def commands() -> list[dict]:
    """Popple's slash commands and context menu entries, as Discord's bulk overwrite takes them
    (manage.py sync_commands)."""
    return [registration for command in COMMANDS for registration in _registrations(command)]


def expired(interaction_id: int) -> bool:
    """Whether the interaction's token no longer lets Popple answer it."""
    return time.time() - snowflakes.sent_at(interaction_id) > TOKEN_SECONDS  # an id tells when it was made


def _readable(value: Any) -> str | int:
    return value if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _options(command: dict) -> dict[str, str | int]:
    """A slash command's options; for a context menu's entry, the person clicked on (or the author
    of the message clicked on), as the domain's options of that command (karma/slash.py)."""
    kind = command.get("type", CHAT_INPUT)
    if kind in (USER, MESSAGE):
        target, resolved = str(command["target_id"]), command.get("resolved") or {}
        person = resolved["users"][target] if kind == USER else resolved["messages"][target]["author"]
        name = str(person.get("username") or "")
        return {"user": int(person["id"]), "name": name, "bot": int(bool(person.get("bot")))}
    # A value Popple never registers (a subcommand, a boolean, a number) stays, as "", so that
    # acknowledge refuses it as unknown rather than acting without it.
    return {str(option["name"]): _readable(option.get("value")) for option in command.get("options", [])}


def from_discord(data: Any) -> SlashCommand:
    """A SlashCommand from Discord's interaction object (JSON), as the HTTP endpoint and the gateway
    receive it.

    ValueError when it is not a slash command Popple can read.
    """
    try:
        member = data.get("member") or {}
        user = member.get("user") or data.get("user") or {}
        permissions = int(member.get("permissions") or 0)
        command = data["data"]
        interaction_id = int(data["id"])
        return SlashCommand(
            interaction_id=interaction_id,
            application_id=int(data["application_id"]),
            token=str(data["token"]),
            guild_id=int(data.get("guild_id") or 0),
            channel_id=int(data.get("channel_id") or (data.get("channel") or {}).get("id") or 0),
            user_id=int(user["id"]),
            user_name=str(user.get("username") or ""),
            user_global_name=str(user.get("global_name") or ""),
            user_nick=str(member.get("nick") or ""),
            can_manage=bool(permissions & (MANAGE_GUILD | ADMINISTRATOR)),
            command=str(command["name"]),
            options=_options(command),
            answer_by=snowflakes.sent_at(interaction_id) + TOKEN_SECONDS,
            # A channel's category, or a thread's channel (whose category Discord does not say).
            within=[int(parent)] if (parent := (data.get("channel") or {}).get("parent_id")) else [],
            # The person's client's language (Discord sends it with every command).
            locale=str(data.get("locale") or ""),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a slash command: {exc!r}") from None
