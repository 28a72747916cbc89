"""Turns one chat message into a Response: a command's answer, or karma changes and their echo."""

import re
from collections.abc import Callable

from karma import store
from karma.message import IncomingMessage
from karma.parser import parse_changes, parse_names
from karma.replies import CHECK, QUESTION, Response, has_karma

DEFAULT_BOARD_SIZE = 10
MAX_BOARD_SIZE = 100  # beyond this a board is spam, not an answer
BOARD_SIZE_ERROR = "Board size must be a positive, non-zero number"
NO_KARMA = "No one has any karma yet."
ANNOUNCE_ERROR = 'Valid announce settings are: "on", "off", "yes", "no"'
ANNOUNCE_FORBIDDEN = "Only members who can manage this server can change announce."
ANNOUNCE_VALUES = {"on": True, "yes": True, "off": False, "no": False}

_COMMAND_WORD = re.compile(r"\s+(\S+)(?=\s|$)")

# A command: (the message, the text after the command word, the mentions it resolves) -> the answer.
Command = Callable[[IncomingMessage, str, dict[str, str]], Response]


def respond(message: IncomingMessage) -> Response:
    mentions = {**message.mentions, str(message.bot_id): message.bot_name}
    command = split_command(message.content, message.bot_id, message.bot_name)
    if command:
        word, arguments = command
        return COMMANDS[word](message, arguments, mentions)
    changes = parse_changes(message.content, mentions)
    if not changes:
        return Response()
    totals, announce = store.apply_changes(message, changes)
    if not announce:
        return Response()
    return Response(lines=tuple(has_karma(subject, total) for subject, total in totals))


def split_command(content: str, bot_id: int, bot_name: str) -> tuple[str, str] | None:
    """(command word, the text after it) when the message is addressed to the bot, else None.

    Addressed means: it starts with a mention of the bot (or `@BotName` typed out), then
    whitespace, then a known command word followed by whitespace or the end.
    """
    text = content.lstrip()
    for prefix in (f"<@{bot_id}>", f"<@!{bot_id}>", f"@{bot_name}"):
        if text.startswith(prefix):
            word = _COMMAND_WORD.match(text, len(prefix))
            if word and word.group(1).lower() in COMMANDS:
                return word.group(1).lower(), text[word.end() :]
            return None
    return None


def karma(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Response:
    names = parse_names(arguments, mentions)
    if not names:
        return Response(reaction=QUESTION)
    values = store.karma_of(message.guild_id, names)
    return Response(lines=tuple(has_karma(name, value) for name, value in values))


def _board(highest: bool) -> Command:
    def command(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Response:
        words = arguments.split(maxsplit=1)
        size = DEFAULT_BOARD_SIZE
        if words:
            digits = words[0].lstrip("0")
            if not (words[0].isascii() and words[0].isdigit()) or not digits:
                return Response(lines=(BOARD_SIZE_ERROR,))
            # Checked by length first: int() refuses numbers of thousands of digits.
            size = MAX_BOARD_SIZE if len(digits) > 3 else min(int(digits), MAX_BOARD_SIZE)
        rows = store.board(message.guild_id, size, highest=highest)
        if not rows:
            return Response(lines=(NO_KARMA,))
        return Response(lines=tuple(f"* {has_karma(subject, value)}" for subject, value in rows), joiner="\n")

    return command


def announce(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Response:
    if not message.can_manage:
        return Response(lines=(ANNOUNCE_FORBIDDEN,), reaction=QUESTION)
    words = arguments.split(maxsplit=1)
    setting = ANNOUNCE_VALUES.get(words[0].lower()) if words else None
    if setting is None:
        return Response(lines=(ANNOUNCE_ERROR,), reaction=QUESTION)
    store.set_announce(message.guild_id, setting)
    return Response(reaction=CHECK)


COMMANDS: dict[str, Command] = {
    "karma": karma,
    "top": _board(highest=True),
    "bot": _board(highest=False),
    "announce": announce,
}
