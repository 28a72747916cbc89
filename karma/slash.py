"""Slash commands: which Popple has, and how it answers one.

Both ways in (the gateway's INTERACTION_CREATE, and Discord's POST to /interactions) make a
SlashCommand (botgateway/slash_commands.py reads Discord's JSON) and ask `acknowledge` what to tell
Discord at once, within its 3 seconds: a refusal (only the person who asked sees it), or
"deferred", after which a karma worker computes the answer (`answer`) and the reply side edits the
deferred response into it (botgateway/slash_answers.py). The answers are the text commands' own
(karma/router.py): `/top 5` says what `@Popple top 5` says.
"""

import functools
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Self

from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from karma import config, language
from karma.ledger import reads
from karma.message import MESSAGE_LIMIT, IncomingMessage, Reply, check_fields
from karma.models import MAX_REASON_LENGTH
from karma.names import clean
from karma.parser import parse_names
from karma.replies import QUESTION, capped
from karma.router import COMMANDS as TEXT_COMMANDS
from karma.router import DEFAULT_BOARD_SIZE, MAX_BOARD_SIZE, give

# Lazy: each is said in the language of the person or server it is said to (`acknowledge`, `answer`).
UNKNOWN_COMMAND = gettext_lazy("Popple does not know this command any more; its commands are being updated.")
NOT_IN_DMS = gettext_lazy("Popple's commands work in servers, where karma is kept, not in direct messages.")
# A mention typed into a command's text reaches Popple as an id it cannot look up: the name it is.
NO_NAMES = gettext_lazy(
    "Name at least one subject, for example `coffee` or `(the build server)`; type people's names, not mentions."
)
NO_KARMA_FOR_BOTS = gettext_lazy("Bots get no karma.")
ONE_NAME = gettext_lazy(
    "Name one subject, for example `coffee` or `(the build server)`; type people's names, not mentions."
)
NO_SETTING = gettext_lazy("Choose the setting to change (`setting:`), or leave both out to list them.")
FORBIDDEN = gettext_lazy("Only members who can manage this server can change settings.")
BAD_SIZE = format_lazy(gettext_lazy("The size of a board is a number from 1 to {count}."), count=MAX_BOARD_SIZE)
UNAVAILABLE = gettext_lazy("Popple cannot answer right now; please try again in a minute.")


@dataclass(frozen=True)
class Option:
    """One of a command's options: a text (str) or a whole number (int). Its description is lazy:
    registered in each language Popple speaks (botgateway/slash_commands.py)."""

    name: str
    description: str | Promise
    kind: type
    required: bool = False
    choices: tuple[str, ...] = ()  # the values it may take, when they are few
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class Command:
    """A slash command. Servers only; `managers_only`: shown only to members who can manage the
    server (the server can change who sees it, so the answer checks again).

    Names stay the English words chat's commands are, in every language (what the README and the
    answers name works as typed, and Discord's clients find a command by its name in any case);
    descriptions, and the context menus' entries (which no one types), are translated."""

    name: str
    description: str | Promise
    options: tuple[Option, ...]
    managers_only: bool = False
    # Where it is also (or only) offered: Discord's context menus on a person ("user") or on a
    # message ("message"), which carry no options: the gateway fills them from what was clicked.
    menus: tuple[str, ...] = ()


_BOARD_SIZE = Option(
    "size",
    format_lazy(gettext_lazy("How many names (default {count})"), count=DEFAULT_BOARD_SIZE),
    int,
    min_value=1,
    max_value=MAX_BOARD_SIZE,
)
_WINDOW = Option(
    "window",
    gettext_lazy("The last week, the last month, this season, or all time (default)"),
    str,
    choices=("week", "month", "season", "all"),
)
GIVE_KARMA = "Give karma"  # the context menus' entry, on a person and on a message (its author)
# Its name as each language's clients show it (Discord sends the command's name, GIVE_KARMA).
GIVE_KARMA_SHOWN = gettext_lazy("Give karma")
_NAME = Option("name", gettext_lazy("One name, as in chat: coffee, (the build server)"), str, True)
_REASON = Option("reason", gettext_lazy("Why (optional; shown with the name's karma)"), str)

# Popple's slash commands, in the order they are registered (botgateway/slash_commands.py).
COMMANDS = (
    Command(
        "karma",
        gettext_lazy("Show the karma of one or more names"),
        (Option("subjects", gettext_lazy("Names, as in chat"), str, True),),
    ),
    Command(
        "why",
        gettext_lazy("Why a name has its karma: the last reasons given"),
        (Option("subject", gettext_lazy("A name"), str, True),),
    ),
    Command("top", gettext_lazy("The names with the most karma"), (_BOARD_SIZE, _WINDOW)),
    Command("bottom", gettext_lazy("The names with the least karma"), (_BOARD_SIZE, _WINDOW)),
    Command(
        "announce",
        gettext_lazy("Say each karma change in the channel, or not"),
        (Option("setting", gettext_lazy("on or off"), str, True, choices=("on", "off")),),
        managers_only=True,
    ),
    Command(
        "config",
        gettext_lazy("Show this server's karma rules, or change one"),
        (
            Option(
                "setting",
                gettext_lazy("The rule to change (leave out to see them all)"),
                str,
                choices=tuple(config.SETTINGS),
            ),
            Option("value", gettext_lazy("Its new value, as `@Popple config` takes it"), str),
        ),
        managers_only=True,
    ),
    Command(
        "givers",
        gettext_lazy("Who gave the most karma"),
        (_BOARD_SIZE, _WINDOW),
    ),
    Command("plus", gettext_lazy("Give a name karma, as `name++` does in chat"), (_NAME, _REASON)),
    Command("minus", gettext_lazy("Take karma from a name, as `name--` does in chat"), (_NAME, _REASON)),
    Command(
        GIVE_KARMA,
        "",  # a context menu's entry has no description
        (
            Option("user", "The person's id", int, True),
            Option("name", "The person's username", str, True),
            Option("bot", "1 when the person is a bot", int),
        ),
        menus=("user", "message"),
    ),
)
# The change each gives, as `++` and `--` in chat.
DELTAS = {"plus": 1, "minus": -1}


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
    # Until when an answer can still be given, in seconds since the epoch (the token's life, which
    # the gateway reads from the interaction's id). 0: not said, in a payload from a gateway older
    # than this field: it is answered, and the reply side, which checks the token's age itself
    # (botgateway/slash_answers.py), drops the answer if it is too late.
    answer_by: float = 0.0
    reads_chat: bool = True  # as IncomingMessage.reads_chat; the web process says its setting
    within: list = field(default_factory=list)  # as IncomingMessage.within
    # The language of the person's Discord client (Discord's code, such as `de`): what `acknowledge`
    # refuses in, the refusal being theirs alone and the server's setting not read there.
    locale: str = ""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        values = check_fields(cls, payload, optional=("answer_by", "reads_chat", "within", "locale"))
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in values.get("within", [])):
            raise ValueError("payload field within must list channel ids")
        if not all(isinstance(k, str) and isinstance(v, str | int) for k, v in values["options"].items()):
            raise ValueError("payload field options must map names to values")
        return cls(**values)

    @staticmethod
    def is_one(payload: Any) -> bool:
        """Whether a payload from a gateway's outbox is an interaction (a chat message has no token)."""
        return isinstance(payload, dict) and "token" in payload


def too_late(interaction: SlashCommand, now: float | None = None) -> bool:
    """Whether the interaction can no longer be answered (unknown: it can)."""
    return bool(interaction.answer_by) and (now or time.time()) > interaction.answer_by


@dataclass(frozen=True)
class Ack:
    """What Discord is told within its 3 seconds: `refusal` now, or deferred (`ephemeral`: the answer
    to come is seen only by the person who asked)."""

    refusal: str | Promise | None = None  # text once `acknowledge` returns it
    ephemeral: bool = False


# Answers only the person who asked sees: settings are a moderator's business; a /plus or /minus
# is told to its giver, and the channel sees nothing, as a server with announce off wants (chat's
# `x++` is announced, or not, by that setting).
PRIVATE = {"announce", "config", "plus", "minus", GIVE_KARMA}


@functools.cache
def _registered_options() -> dict[str, set[str]]:
    """Each command's option names, as registered."""
    return {command.name: {option.name for option in command.options} for command in COMMANDS}


def acknowledge(interaction: SlashCommand) -> Ack:
    """Refuse what can be refused without the database, in the language of the person's client
    (the server's setting is in the database); defer everything else."""
    ack = _acknowledged(interaction)
    if ack.refusal is None:
        return ack
    with translation.override(language.django_code("", interaction.locale)):
        return replace(ack, refusal=str(ack.refusal))


def unavailable(interaction: SlashCommand) -> str:
    """UNAVAILABLE, in the language of the person's client (the database is what could not answer)."""
    with translation.override(language.django_code("", interaction.locale)):
        return str(UNAVAILABLE)


def _acknowledged(interaction: SlashCommand) -> Ack:
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
    elif interaction.command in DELTAS:
        name, reason = options.get("name"), options.get("reason", "")
        if not isinstance(name, str) or len(parse_names(name, {})) != 1 or not isinstance(reason, str):
            return Ack(ONE_NAME)
    elif interaction.command == GIVE_KARMA:
        if options.get("bot"):
            return Ack(NO_KARMA_FOR_BOTS)
        if _person(options) is None:
            return Ack(UNKNOWN_COMMAND)
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


def _person(options: dict) -> str | None:
    """The subject a context menu's person is: the name chat makes of a mention of them
    (`@alice++`), or None when the options hold no such person."""
    user, name = options.get("user"), options.get("name")
    if not isinstance(user, int) or not isinstance(name, str):
        return None
    names = parse_names(f"<@{user}>", {str(user): name})
    return names[0] if names else None


@dataclass(frozen=True)
class SlashAnswer:
    """The text that completes a deferred interaction (queue `replies`)."""

    interaction_id: int
    application_id: int
    token: str
    content: str
    # Not in the payload: the roles /plus or /minus calls for, which the karma task hands to the
    # role task (karma/tasks.py, send_roles).
    roles: tuple = ()

    def to_payload(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if name != "roles"}

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        values = check_fields(cls, payload, optional=("roles",))
        if "roles" in values:
            raise ValueError("payload field roles is not part of an answer's payload")
        if not 0 < len(values["content"]) <= MESSAGE_LIMIT:
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
        reads_chat=interaction.reads_chat,
        within=interaction.within,
    )
    with translation.override(reads.language_of(interaction.guild_id)):
        return _answered(interaction, message)


def _answered(interaction: SlashCommand, message: IncomingMessage) -> SlashAnswer:
    options = interaction.options
    if interaction.command in DELTAS:
        subject = parse_names(str(options.get("name", "")), {})[0]  # one, as acknowledge checked
        reason = clean(str(options.get("reason", "")))[:MAX_REASON_LENGTH].strip()
        reply = give(message, subject, DELTAS[interaction.command], reason)
    elif interaction.command == GIVE_KARMA:
        reply = give(message, _person(options) or "", 1)  # a person, as acknowledge checked
    else:
        reply = _text_command(message, options, interaction.command)
    reply = replace(reply, lines=capped(reply.lines, reply.joiner, messages=1))
    content = reply.text() or ("?" if reply.reaction == QUESTION else _("Done."))
    return SlashAnswer(interaction.interaction_id, interaction.application_id, interaction.token, content, reply.roles)


def _text_command(message: IncomingMessage, options: dict, command: str) -> Reply:
    """The text command's own answer to a slash command that is one."""
    word, arguments = {
        "karma": ("karma", options.get("subjects", "")),
        "why": ("why", options.get("subject", "")),
        "top": ("top", f"{options.get('size', DEFAULT_BOARD_SIZE)} {options.get('window', 'all')}"),
        "bottom": ("bot", f"{options.get('size', DEFAULT_BOARD_SIZE)} {options.get('window', 'all')}"),
        "givers": ("givers", f"{options.get('size', DEFAULT_BOARD_SIZE)} {options.get('window', 'all')}"),
        "announce": ("config", f"announce {options.get('setting', '')}"),
        "config": ("config", f"{options.get('setting', '')} {options.get('value', '')}".strip()),
    }[command]
    return TEXT_COMMANDS[word](message, arguments, {})
