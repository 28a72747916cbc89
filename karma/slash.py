"""Slash commands: what Popple registers with Discord, and how it answers one.

Both ways in (the gateway's INTERACTION_CREATE, and Discord's POST to /interactions) make an
SlashCommand and ask `acknowledge` what to tell Discord at once, within its 3 seconds: a refusal
(only the person who asked sees it), or "deferred", after which a karma worker computes the
answer (`answer`) and the reply side edits the deferred response into it (botgateway/slash_answers.py).
The answers are the text commands' own (karma/router.py): `/top 5` says what `@Popple top 5` says.
"""

import functools
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Self

from karma import config
from karma.message import IncomingMessage, check_fields, sent_at
from karma.parser import parse_names
from karma.replies import QUESTION, capped
from karma.router import COMMANDS as TEXT_COMMANDS
from karma.router import DEFAULT_BOARD_SIZE, MAX_BOARD_SIZE

# An interaction's token lets Popple edit its response for 15 minutes; a little is kept back for
# the request itself.
TOKEN_SECONDS = 15 * 60 - 30
MANAGE_GUILD = 1 << 5  # Discord's permission bits
ADMINISTRATOR = 1 << 3
EPHEMERAL = 1 << 6  # a message flag: only the person who asked sees it

# Option types (Discord's ApplicationCommandOptionType)
STRING, INTEGER = 3, 4

UNKNOWN_COMMAND = "Popple does not know this command any more; its commands are being updated."
NOT_IN_DMS = "Popple's commands work in servers, where karma is kept, not in direct messages."
# A mention typed into a command's text reaches Popple as an id it cannot look up: the name it is.
NO_NAMES = "Name at least one subject, for example `coffee` or `(the build server)`; type people's names, not mentions."
NO_SETTING = "Choose the setting to change (`setting:`), or leave both out to list them."
FORBIDDEN = "Only members who can manage this server can change settings."
BAD_SIZE = f"The size of a board is a number from 1 to {MAX_BOARD_SIZE}."
UNAVAILABLE = "Popple cannot answer right now; please try again in a minute."


def _option(kind: int, name: str, description: str, required: bool = False, **extra: Any) -> dict:
    return {"type": kind, "name": name, "description": description, "required": required, **extra}


def _board_size() -> dict:
    return _option(
        INTEGER,
        "size",
        f"How many names (default {DEFAULT_BOARD_SIZE})",
        min_value=1,
        max_value=MAX_BOARD_SIZE,
    )


def commands() -> list[dict]:
    """Popple's slash commands, as Discord's bulk overwrite takes them (manage.py sync_commands).

    Servers only (`contexts`: guild); the settings commands are shown to members who can manage the
    server (a server's own integration settings can change that, so the answer checks again).
    """
    manage = str(MANAGE_GUILD)
    settings = [{"name": name, "value": name} for name in config.SETTINGS]
    defined = [
        (
            "karma",
            "Show the karma of one or more names",
            [_option(STRING, "subjects", "Names, as in chat", True)],
            None,
        ),
        ("why", "Why a name has its karma: the last reasons given", [_option(STRING, "subject", "A name", True)], None),
        ("top", "The names with the most karma", [_board_size()], None),
        ("bottom", "The names with the least karma", [_board_size()], None),
        (
            "announce",
            "Say each karma change in the channel, or not",
            [_option(STRING, "setting", "on or off", True, choices=[{"name": v, "value": v} for v in ("on", "off")])],
            manage,
        ),
        (
            "config",
            "Show this server's karma rules, or change one",
            [
                _option(STRING, "setting", "The rule to change (leave out to see them all)", choices=settings),
                _option(STRING, "value", "Its new value, as `@Popple config` takes it"),
            ],
            manage,
        ),
    ]
    return [
        {
            "name": name,
            "type": 1,  # a slash command
            "description": description,
            "options": options,
            "default_member_permissions": permissions,
            "contexts": [0],  # servers only
            "integration_types": [0],  # installed to servers
        }
        for name, description, options, permissions in defined
    ]


def expired(interaction_id: int) -> bool:
    """Whether the interaction's token no longer lets Popple answer it."""
    return time.time() - sent_at(interaction_id) > TOKEN_SECONDS  # an id tells when it was made


def _readable(value: Any) -> str | int:
    return value if isinstance(value, str | int) and not isinstance(value, bool) else ""


@dataclass(frozen=True)
class SlashCommand:
    """A slash command someone used, as it crosses the queue `karma` (from a gateway or the web)."""

    interaction_id: int
    application_id: int
    token: str  # lets Popple answer it for 15 minutes; a secret meanwhile (never logged)
    guild_id: int  # 0 in a direct message
    channel_id: int
    user_id: int
    user_name: str
    user_global_name: str
    user_nick: str
    can_manage: bool  # Manage Server or Administrator, as Discord resolved them for this channel
    command: str
    options: dict  # option name -> value (str or int)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        values = check_fields(cls, payload)
        if not all(isinstance(k, str) and isinstance(v, str | int) for k, v in values["options"].items()):
            raise ValueError("payload field options must map names to values")
        return cls(**values)

    @staticmethod
    def is_one(payload: Any) -> bool:
        """Whether a payload from a gateway's outbox is an interaction (a chat message has no token)."""
        return isinstance(payload, dict) and "token" in payload

    @classmethod
    def from_discord(cls, data: Any) -> Self:
        """From Discord's interaction object (JSON), as the HTTP endpoint and the gateway receive it.

        ValueError when it is not a slash command Popple can read.
        """
        try:
            member = data.get("member") or {}
            user = member.get("user") or data.get("user") or {}
            permissions = int(member.get("permissions") or 0)
            command = data["data"]
            return cls(
                interaction_id=int(data["id"]),
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
                # A value Popple never registers (a subcommand, a boolean, a number) stays, as "", so
                # that acknowledge refuses it as unknown rather than acting without it.
                options={str(option["name"]): _readable(option.get("value")) for option in command.get("options", [])},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a slash command: {exc!r}") from None


@dataclass(frozen=True)
class Ack:
    """What Discord is told within its 3 seconds: `refusal` now, or deferred (`ephemeral`: the answer
    to come is seen only by the person who asked)."""

    refusal: str | None = None
    ephemeral: bool = False


# Answers only the person who asked sees: settings are a moderator's business.
PRIVATE = {"announce", "config"}


@functools.cache
def _registered_options() -> dict[str, set[str]]:
    """Each command's option names, as registered."""
    return {command["name"]: {option["name"] for option in command["options"]} for command in commands()}


def acknowledge(interaction: SlashCommand) -> Ack:
    """Refuse what can be refused without the database; defer everything else."""
    if not interaction.guild_id:
        return Ack(NOT_IN_DMS)
    known = _registered_options()
    if interaction.command not in known or not set(interaction.options) <= known[interaction.command]:
        return Ack(UNKNOWN_COMMAND)  # an old registration, or a newer one than this code
    options = interaction.options
    if interaction.command in ("karma", "why"):
        text = options.get("subjects" if interaction.command == "karma" else "subject")
        if not isinstance(text, str) or not parse_names(text, {}):
            return Ack(NO_NAMES)
    elif interaction.command in ("top", "bottom"):
        size = options.get("size", DEFAULT_BOARD_SIZE)
        if not isinstance(size, int) or not 1 <= size <= MAX_BOARD_SIZE:
            return Ack(BAD_SIZE)
    elif interaction.command == "announce":
        if options.get("setting") not in ("on", "off"):
            return Ack(UNKNOWN_COMMAND)
        if not interaction.can_manage:
            return Ack(FORBIDDEN)
    elif interaction.command == "config":
        if options.get("setting") not in (None, *config.SETTINGS) or not all(
            isinstance(v, str) for v in options.values()
        ):
            return Ack(UNKNOWN_COMMAND)
        if "value" in options and "setting" not in options:
            return Ack(NO_SETTING)
        if "setting" in options and not interaction.can_manage:
            return Ack(FORBIDDEN)
    return Ack(ephemeral=interaction.command in PRIVATE)


@dataclass(frozen=True)
class SlashAnswer:
    """The text that completes a deferred interaction (queue `replies`)."""

    interaction_id: int
    application_id: int
    token: str
    content: str

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        values = check_fields(cls, payload)
        if not 0 < len(values["content"]) <= 2000:
            raise ValueError("payload field content must be 1 to 2,000 characters")
        return cls(**values)


def answer(interaction: SlashCommand) -> SlashAnswer:
    """The answer to an acknowledged interaction: what the text command says, in one message.

    One message, because the deferred response is edited into it, which can be done again without
    saying anything twice (a follow-up message could not: Discord would post it again).
    """
    message = IncomingMessage(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        message_id=interaction.interaction_id,
        author_id=interaction.user_id,
        author_name=interaction.user_name,
        content="",
        bot_id=interaction.application_id,
        bot_name="Popple",
        mentions={},
        can_manage=interaction.can_manage,
        author_global_name=interaction.user_global_name,
        author_nick=interaction.user_nick,
    )
    options = interaction.options
    command, arguments = {
        "karma": ("karma", options.get("subjects", "")),
        "why": ("why", options.get("subject", "")),
        "top": ("top", str(options.get("size", DEFAULT_BOARD_SIZE))),
        "bottom": ("bot", str(options.get("size", DEFAULT_BOARD_SIZE))),
        "announce": ("config", f"announce {options.get('setting', '')}"),
        "config": ("config", f"{options.get('setting', '')} {options.get('value', '')}".strip()),
    }[interaction.command]
    reply = TEXT_COMMANDS[command](message, arguments, {})
    reply = replace(reply, lines=capped(reply.lines, reply.joiner, messages=1))
    content = reply.text() or ("?" if reply.reaction == QUESTION else "Done.")
    return SlashAnswer(interaction.interaction_id, interaction.application_id, interaction.token, content)
