"""Turns one chat message into its Reply: a command's answer, or karma changes and their echo."""

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from karma import channels, config, modlog, seasons, thanks
from karma.ledger import reactions, reads, writes
from karma.message import Deletion, IncomingMessage, Line, ReactionEvent, Reply, RoleChange, bot_prefixes
from karma.names import clean
from karma.parser import parse_message, parse_names
from karma.points import Points
from karma.replies import (
    CHAT_NOT_READ,
    CHAT_READ,
    CHECK,
    QUESTION,
    REFUSED,
    because,
    capped,
    changed,
    gave,
    has_karma,
    no_reasons,
    on_board,
    refused,
    shown,
    too_many_subjects,
)
from karma.roles.follow import decide as follow_deletion
from karma.roles.follow import follow as follow_roles
from karma.roles.follow import follow_reaction
from karma.rules import BUDGET, COOLDOWN

DEFAULT_BOARD_SIZE = 10
MAX_BOARD_SIZE = 100  # beyond this a board is spam, not an answer
WHY_CHANGES = 5  # `why` tells the reasons of a subject's last this many changes
# Answers are lazy: each is translated when said, in the language of the server it is said to.
BOARD_SIZE_ERROR = gettext_lazy("Board size must be a positive, non-zero number")
NO_KARMA = gettext_lazy("No one has any {points} yet.")
ANNOUNCE_ERROR = gettext_lazy('Valid announce settings are: "on", "off", "yes", "no"')
ANNOUNCE_FORBIDDEN = gettext_lazy("Only members who can manage this server can change announce.")
CONFIG_FORBIDDEN = gettext_lazy("Only members who can manage this server can change settings.")
CONFIG_UNKNOWN = gettext_lazy("Settings are: {names}. `@{bot} config` lists them.")

_COMMAND_WORD = re.compile(r"\s+(\S+)(?=\s|$)")

# A command: (the message, the text after the command word, the mentions it resolves) -> the answer.
Command = Callable[[IncomingMessage, str, dict[str, str]], Reply]


def respond(message: IncomingMessage) -> Reply:
    """The answer to `message`, no longer than MAX_MESSAGES_PER_ANSWER Discord messages, in the
    server's language."""
    reply = respond_to_edit(message) if message.edited else _respond(message)
    # Each answer was capped in its language where it was worded; this only keeps the promise
    # should a new path forget to (capping again what fits changes nothing).
    return replace(reply, lines=capped(reply.lines, reply.joiner))


def _respond(message: IncomingMessage) -> Reply:
    mentions = {**message.mentions, str(message.bot_id): message.bot_name}
    command = split_command(message.content, message.bot_id, message.bot_name)
    if command:
        word, arguments = command
        # A command's answer reads the server anyway: its language costs one more short query.
        # (Changes learn it with the server's rules, in the query they make already: `announced`.)
        with translation.override(reads.language_of(message.guild_id)):
            reply = COMMANDS[word](message, arguments, mentions)
            return replace(reply, lines=capped(reply.lines, reply.joiner))
    changes, reasons = parse_message(message.content, mentions)
    changes = with_thanks(message, changes)
    if not changes:
        return answer(message)
    limit = settings.MAX_SUBJECTS_PER_MESSAGE
    outcome = writes.apply_changes(message, changes[:limit], reasons)
    _log_refusals(message, outcome)
    # Committed: the roles it calls for, where the server gives roles.
    return replace(announced(message, outcome, len(changes) > limit), roles=follow_roles(message, outcome))


def _log_refusals(message: IncomingMessage, outcome: writes.Outcome) -> None:
    """Refusals by the cooldown or the budget, counted for the moderators' log (a replayed version
    has none: counted once)."""
    limited = [refusal.rule for refusal in outcome.refusals if refusal.rule in (COOLDOWN, BUDGET)]
    channel_id, threshold = outcome.log
    if limited and channel_id:
        modlog.refusals(message.guild_id, channel_id, threshold, message.author_id, message.author_name, limited)


def respond_to_edit(message: IncomingMessage) -> Reply:
    """An edited message is read again: its karma becomes what it now says (karma/ledger/writes.py).

    Commands are not run again (an edit into a command asks for no karma); messages older than
    EDIT_WINDOW when edited are left as they were (a message whose sending time the gateway did not
    say was checked by the gateway: IncomingMessage.sent_at).
    """
    reply = Reply(message.channel_id, message.reply_id, guild_id=message.guild_id)
    if message.sent_at and message.edited / 1e6 - message.sent_at > settings.EDIT_WINDOW:
        return reply
    mentions = {**message.mentions, str(message.bot_id): message.bot_name}
    changes: list[tuple[str, int]] = []
    reasons: dict[str, str] = {}
    if not split_command(message.content, message.bot_id, message.bot_name):
        changes, reasons = parse_message(message.content, mentions)
        changes = with_thanks(message, changes)
    limit = settings.MAX_SUBJECTS_PER_MESSAGE
    outcome = writes.apply_changes(message, changes[:limit], reasons)
    reply = replace(reply, roles=follow_roles(message, outcome))
    # An edit that changes no karma says nothing, not even that some names did not count.
    said = announced(message, outcome, len(changes) > limit and bool(outcome.applied))
    if not message.reply_id:  # from a gateway older than reply_id: no id to say it under
        return reply
    # No reaction: the reply's id names no message (botgateway/snowflakes.py, edit_reply_id).
    return replace(reply, lines=said.lines, joiner=said.joiner)


def with_thanks(message: IncomingMessage, changes: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The message's changes, and +1 for each person it thanks where the server counts thanks
    (karma/thanks.py). The server's setting is read only for a message that may thank someone: the
    rest cost no query."""
    if not (message.mentions or message.replied_to_id) or not thanks.may_thank(message.content):
        return changes
    words = reads.thank_words(message.guild_id)
    people = dict(message.mentions)
    if message.replied_to_id:
        people[str(message.replied_to_id)] = message.replied_to_name
    found = thanks.thanked(message.content, words, people, message.bots, message.author_id, message.replied_to_id)
    return thanks.with_thanks(changes, found)


def forget_deleted(deletion: Deletion) -> tuple[RoleChange, ...]:
    """Deleted messages take back their changes, unless they were older than EDIT_WINDOW (a message
    whose sending time the gateway did not say was checked by the gateway: Deletion.sent_at).
    The roles what they took back calls for, where the server gives roles."""
    sent = deletion.sent_times()
    roles: list[RoleChange] = []
    for message_id in deletion.deleted:
        if message_id not in sent or deletion.at - sent[message_id] <= settings.EDIT_WINDOW:
            outcome = writes.apply_deletion(deletion.guild_id, message_id, message_id not in deletion.not_forwarded)
            if outcome.rewards:
                roles += follow_deletion(deletion.guild_id, deletion.channel_id, message_id, outcome)
    return tuple(roles)


def respond_to_reaction(event: ReactionEvent) -> Reply:
    """A reaction's karma, applied once, and its announcement if the server announces changes.

    Refusals say nothing: a reaction names no one in the channel whom "you" could be, and someone
    who flips a reaction on and off must not make Popple talk. Under the id the gateway made for
    it (a reaction is not a message).
    """
    outcome = reactions.apply_reaction(event)
    with translation.override(outcome.language):
        lines = [
            Line(has_karma(subject, total, outcome.points), subject, version)
            for subject, total, version in outcome.applied
        ]
    said = tuple(lines) if outcome.announce else ()
    roles = follow_reaction(event, outcome)
    return Reply(event.channel_id, event.reply_id, said, guild_id=event.guild_id, roles=roles, made_at=outcome.made_at)


def announced(message: IncomingMessage, outcome: writes.Outcome, cut: bool) -> Reply:
    """The reply to applied changes: their new karma and what the rules refused, if announced, in
    the server's language (read with its rules), and capped."""
    if not outcome.announce:
        # Silent, but for a reaction when a rule refused something: the author learns it did.
        return answer(message, reaction=REFUSED if outcome.refusals else None)
    with translation.override(outcome.language):
        lines: list[Line | str] = [
            Line(has_karma(subject, total, outcome.points), subject, version)
            for subject, total, version in outcome.applied
        ]
        lines += refused(outcome.refusals)
        if cut:
            lines.append(Line(too_many_subjects(settings.MAX_SUBJECTS_PER_MESSAGE)))
        reply = answer(message, lines)
        return replace(reply, lines=capped(reply.lines, reply.joiner), made_at=outcome.made_at)


def give(message: IncomingMessage, subject: str, delta: int, reason: str = "") -> Reply:
    """A change someone asked for by name (/plus, /minus): the same rules and ledger as
    `subject++ for reason` in chat, the message's id being the request's. Its answer says the new
    karma, or why not, whether or not the server announces changes: the person asked."""
    outcome = writes.apply_changes(message, [(subject, delta)], {subject: reason} if reason else {})
    if not outcome.here:
        with translation.override(outcome.language):
            return answer(message, [channels.NOT_HERE])
    return replace(announced(message, replace(outcome, announce=True), cut=False), roles=follow_roles(message, outcome))


def current_lines(guild_id: int, subjects: Iterable[str]) -> dict[str, Line]:
    """What announcing each subject says now, with its version: the database is the truth.

    Delivery asks for it when a line it holds may be older than what its channel was told
    (botgateway/delivery.py); merged and unknown subjects are left out.
    """
    current = reads.current(guild_id, subjects)
    if not current:
        return {}
    points, spoken = reads.wording(guild_id)
    with translation.override(spoken):
        return {
            subject: Line(has_karma(subject, karma, points), subject, version)
            for subject, (karma, version) in current.items()
        }


def current_versions(guild_id: int, subjects: Iterable[str]) -> dict[str, int]:
    """Which version of each subject the database has now: enough for delivery to decide whether a
    line is stale, in one query; current_lines only when it must say a newer value."""
    return reads.versions(guild_id, subjects)


def answer(
    message: IncomingMessage, lines: Iterable[Line | str | Promise] = (), joiner: str = " ", reaction: str | None = None
) -> Reply:
    """The reply to `message`, whole: `respond` (and a slash command's answer) caps its length.

    A lazy (translatable) line is made text here, in the language active now."""
    whole = tuple(line if isinstance(line, Line) else Line(str(line)) for line in lines)
    return Reply(message.channel_id, message.message_id, whole, joiner, reaction, message.guild_id)


def split_command(content: str, bot_id: int, bot_name: str) -> tuple[str, str] | None:
    """(command word, the text after it) when the message is addressed to the bot, else None.

    Addressed means: it starts with a mention of the bot (or `@BotName` typed out), then
    whitespace, then a known command word followed by whitespace or the end.
    """
    text = content.lstrip()
    for prefix in bot_prefixes(bot_id, bot_name):
        if text.startswith(prefix):
            word = _COMMAND_WORD.match(text, len(prefix))
            if word and word.group(1).lower() in COMMANDS:
                return word.group(1).lower(), text[word.end() :]
            return None
    return None


def karma(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    names = parse_names(arguments, mentions)
    if not names:
        return answer(message, reaction=QUESTION)
    values = reads.karma_of(message.guild_id, names)
    points = reads.points_of(message.guild_id)
    lines = [has_karma(name, value, points) for name, value in values]
    if len(values) == 1:  # one person asked about: what they gave too, when they gave anything
        given = reads.gave(message.guild_id, values[0][0])
        if given > 0:
            lines = [
                _("{name} has {count} {points}, and gave {given}.").format(
                    name=shown(values[0][0]), count=values[0][1], points=points.of(values[0][1]), given=given
                )
            ]
    return answer(message, lines)


def _board(highest: bool) -> Command:
    def command(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
        # `top [n]` as the Go Popple took it (what follows n is ignored), and a window: `top [n] week`.
        words = arguments.split()
        asked = size_and_window(words[:2]) or size_and_window(words[:1])
        if asked is None:
            return answer(message, [BOARD_SIZE_ERROR])
        size, window = asked
        points = reads.points_of(message.guild_id)
        if window == "season":
            current = seasons.all_of(message.guild_id)[-1]
            return _season_board(message, current, size, highest, points)
        span = WINDOWS[window]
        if span:
            moved = reads.board_since(message.guild_id, size, timezone.now() - span, highest=highest)
            if not moved:
                return answer(message, [NO_CHANGES[window].format(points=points.many)])
            lines = [str(CHANGES[window]), *(changed(subject, value, points) for subject, value in moved)]
            return answer(message, lines, joiner="\n")
        rows = reads.board(message.guild_id, size, highest=highest)
        if not rows:
            return answer(message, [NO_KARMA.format(points=points.many)])
        return answer(message, [on_board(subject, value, points) for subject, value in rows], joiner="\n")

    return command


def size_and_window(words: list[str]) -> tuple[int, str] | None:
    """(board size, window) from `[n] [week|month|all]` in either order; None when that is not it."""
    size, window = DEFAULT_BOARD_SIZE, "all"
    for word in (word.lower() for word in words):
        if word in WINDOWS:
            window = word
        elif word.isascii() and word.isdigit() and word.lstrip("0"):
            # Checked by length first: int() refuses numbers of thousands of digits.
            size = MAX_BOARD_SIZE if len(word.lstrip("0")) > 3 else min(int(word), MAX_BOARD_SIZE)
        else:
            return None
    return size, window


def _season_board(message: IncomingMessage, span: seasons.Span, size: int, highest: bool, points: Points) -> Reply:
    moved = reads.board_since(message.guild_id, size, span.since, highest=highest, until=span.until)
    if not moved:
        return answer(message, [NOTHING_IN_SEASON.format(points=points.many, season=season_title(span))])
    return answer(
        message, [f"{season_title(span)}:", *(changed(subject, value, points) for subject, value in moved)], joiner="\n"
    )


def season(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    """`season`: the current one; `season new [name]` starts the next (Manage Server); `season N`:
    season N's board."""
    word, _space, rest = arguments.strip().partition(" ")
    if word.lower() == "new":
        if not message.can_manage:
            return answer(message, [SEASON_FORBIDDEN], reaction=QUESTION)
        name = clean(rest)[: seasons.MAX_SEASON_NAME].strip()
        started = seasons.start(message.guild_id, name, changed_by(message))
        return answer(message, [_("{season} has begun.").format(season=season_title(started))], reaction=CHECK)
    spans = seasons.all_of(message.guild_id)
    if not word:
        current = spans[-1]
        said = _("{season}, {dates}.").format(season=season_title(current), dates=season_dates(current))
        return answer(message, [f"{said} {SEASON_HELP}"])
    if not (word.isascii() and word.isdigit() and not rest.strip()):
        return answer(message, [SEASON_USAGE], reaction=QUESTION)
    number = int(word) if len(word) < 6 else 0
    if not 1 <= number <= len(spans):
        no_season = _("There is no season {number} (seasons 1 to {last}).").format(number=word[:6], last=len(spans))
        return answer(message, [no_season], reaction=QUESTION)
    return _season_board(message, spans[number - 1], DEFAULT_BOARD_SIZE, True, reads.points_of(message.guild_id))


def seasons_list(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    spans = seasons.all_of(message.guild_id)[-MAX_BOARD_SIZE:]
    return answer(message, [f"* {season_title(span)}: {season_dates(span)}" for span in spans], joiner="\n")


def season_title(span: seasons.Span) -> str:
    if span.name:
        return _("Season {number} ({name})").format(number=span.number, name=shown(span.name))
    return _("Season {number}").format(number=span.number)


def season_dates(span: seasons.Span) -> str:
    """When it ran, as Discord timestamps (each reader sees their own time zone)."""
    # Four sentences rather than "the beginning" put in two: languages say "from the beginning"
    # and "from <date>" differently.
    end = f"<t:{int(span.until.timestamp())}:D>" if span.until else ""
    if span.since is None:
        return _("from the beginning to {end}").format(end=end) if end else _("since the beginning")
    start = f"<t:{int(span.since.timestamp())}:D>"
    return _("from {start} to {end}").format(start=start, end=end) if end else _("since {start}").format(start=start)


SEASON_HELP = gettext_lazy(
    "`@Popple top season` shows its board; a moderator starts the next with `@Popple season new [name]`."
)
SEASON_USAGE = gettext_lazy("Use `season` (the current one), `season N` (season N's board) or `season new [name]`.")
SEASON_FORBIDDEN = gettext_lazy("Only members who can manage this server can start a season.")
NOTHING_IN_SEASON = gettext_lazy("No {points} changed in {season}.")

WINDOWS = {"week": timedelta(days=7), "month": timedelta(days=30), "all": None, "season": None}
# Whole sentences per window, not a window's word put in one: languages inflect "the last week".
CHANGES = {
    "week": gettext_lazy("Changes in the last week:"),
    "month": gettext_lazy("Changes in the last month:"),
}
NO_CHANGES = {
    "week": gettext_lazy("No {points} changed in the last week."),
    "month": gettext_lazy("No {points} changed in the last month."),
}
GIVERS_ERROR = gettext_lazy(
    "Use `givers [n] [week|month|season|all]`: n from 1 to 100 (default 10), all time by default."
)
NO_GIVERS = {
    "week": gettext_lazy("No one has given any {points} in the last week."),
    "month": gettext_lazy("No one has given any {points} in the last month."),
    "season": gettext_lazy("No one has given any {points} this season."),
    "all": gettext_lazy("No one has given any {points} yet."),
}


def givers(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    """Who gave the most karma, all time or in the last week or month."""
    words = arguments.split()
    asked = size_and_window(words) if len(words) <= 2 else None
    if asked is None:
        return answer(message, [GIVERS_ERROR], reaction=QUESTION)
    size, window = asked
    span = WINDOWS[window]
    since = timezone.now() - span if span else None
    if window == "season":
        since = seasons.all_of(message.guild_id)[-1].since
    rows = reads.givers(message.guild_id, size, since)
    points = reads.points_of(message.guild_id)
    if not rows:
        return answer(message, [NO_GIVERS[window].format(points=points.many)])
    return answer(message, [gave(name, total, points) for name, total in rows], joiner="\n")


def announce(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    if not message.can_manage:
        return answer(message, [ANNOUNCE_FORBIDDEN], reaction=QUESTION)
    words = arguments.split(maxsplit=1)
    try:
        config.change(message.guild_id, "announce", words[0] if words else "", changed_by(message))
    except ValueError:
        return answer(message, [ANNOUNCE_ERROR], reaction=QUESTION)
    return answer(message, reaction=CHECK)


def configure(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    """`config` lists the server's settings; `config NAME VALUE` changes one (Manage Server)."""
    name, value = ([*arguments.split(maxsplit=1), "", ""])[:2]
    if not name:
        return answer(
            message, [*config.show(message.guild_id), CHAT_READ if message.reads_chat else CHAT_NOT_READ], joiner="\n"
        )
    if name.lower() not in config.SETTINGS:
        names = ", ".join(config.SETTINGS)
        return answer(message, [CONFIG_UNKNOWN.format(names=names, bot=message.bot_name)], reaction=QUESTION)
    if not message.can_manage:
        return answer(message, [CONFIG_FORBIDDEN], reaction=QUESTION)
    try:
        shown = config.change(message.guild_id, name.lower(), value, changed_by(message))
    except ValueError as problem:
        return answer(message, [str(problem)], reaction=QUESTION)
    return answer(message, [f"{name.lower()}: {shown}"], reaction=CHECK)


def why(message: IncomingMessage, arguments: str, mentions: dict[str, str]) -> Reply:
    names = parse_names(arguments, mentions)
    if not names:
        return answer(message, reaction=QUESTION)
    return answer(message, why_lines(message.guild_id, names[0]), joiner="\n")


def why_lines(guild_id: int, subject: str) -> list[str]:
    """The answer to `why <subject>`: its last changes with a reason, newest first."""
    changes = reads.reasons(guild_id, subject, WHY_CHANGES)
    if not changes:
        return [no_reasons(subject)]
    return [because(*change) for change in changes]


def changed_by(message: IncomingMessage) -> str:
    return f"{message.author_name} ({message.author_id})"


COMMANDS: dict[str, Command] = {
    "karma": karma,
    "top": _board(highest=True),
    "bot": _board(highest=False),
    "announce": announce,
    "config": configure,
    "why": why,
    "givers": givers,
    "season": season,
    "seasons": seasons_list,
}
