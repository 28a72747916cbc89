"""What Popple says: sentences about karma, how names are shown, and how long an answer may be."""

import re
import unicodedata
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from karma.message import MESSAGE_LIMIT, Line
from karma.names import without_bidi_controls
from karma.points import KARMA, Points
from karma.rules import BUDGET, COOLDOWN, MAX_CHANGE, SELF, Refusal

MAX_MESSAGES_PER_ANSWER = 2  # a command of a few characters never makes Popple flood a channel
BOARD_NAME_WIDTH = 40  # boards shorten longer names; the database and the admin keep them whole
EXPLAINED = 3  # names a refusal line names at most
QUESTION = "\N{BLACK QUESTION MARK ORNAMENT}"
CHECK = "\N{WHITE HEAVY CHECK MARK}"
REFUSED = "\N{NO ENTRY SIGN}"  # a rule refused a change, and the server wants no announcements

_RIGHT_TO_LEFT = {"R", "AL", "RLE", "RLO", "LRE", "LRO", "RLI", "LRI", "FSI", "PDF", "PDI"}

# Discord's markdown, escaped as discord.py's escape_markdown does it (links are left alone). The
# two expressions are discord.py's; they are repeated here so that the domain does not depend on a
# Discord library (botgateway/tests/test_markdown.py checks that both escape alike).
_URL = r"(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_MARKDOWN = r"(?P<markdown>[_\\~|\*`]|^>(?:>>)?\s|\[.+\]\(.+\)|^#{1,3}|^\s*-)"
_MARKDOWN_OR_URL = re.compile(f"(?:{_URL}|{_MARKDOWN})", re.MULTILINE)


def escape_markdown(text: str) -> str:
    return _MARKDOWN_OR_URL.sub(lambda match: match.group("url") or "\\" + match.group("markdown"), text)


def shown(name: str) -> str:
    """A name as it appears in a reply: no markdown effects, no line breaks, no text reordering.

    Mentions need nothing here: every reply goes out with allowed mentions disabled.
    """
    # Stored names hold no bidirectional controls (karma/names.py); should one come from elsewhere,
    # it must not close the isolate below early.
    name = without_bidi_controls(" ".join(name.splitlines()))
    name = escape_markdown(name)
    if any(unicodedata.bidirectional(char) in _RIGHT_TO_LEFT for char in name):
        # First-strong isolate: a right-to-left name cannot flip "has N karma." around it.
        name = f"\N{FIRST STRONG ISOLATE}{name}\N{POP DIRECTIONAL ISOLATE}"
    return name


def has_karma(name: str, karma: int, points: Points = KARMA) -> str:
    # The server's name for karma is a placeholder of its own: a server's "cookies" stay as typed
    # in every language (testkit/answers.py reads these sentences back, in each language).
    return _("{name} has {count} {points}.").format(name=shown(name), count=karma, points=points.of(karma))


def duration(seconds: float) -> str:
    """42 s, 5 min, 1 h 5 min: how long, for people. (The units' symbols are the same in every
    language Popple speaks, so they are not translated.)"""
    seconds = max(round(seconds), 1)
    if seconds < 120:
        return f"{seconds} s"
    minutes = (seconds + 59) // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def refused(refusals: list[Refusal]) -> list[str]:
    """What the server's rules refused in one message: a line per rule, in the order they came."""
    lines = {}
    for rule in dict.fromkeys(refusal.rule for refusal in refusals):
        theirs = [refusal for refusal in refusals if refusal.rule == rule]
        first = theirs[0]
        if rule == SELF:
            lines[rule] = _("You cannot give yourself karma.")
        elif rule == MAX_CHANGE:
            lines[rule] = _("max change: at most {limit} karma per name in one message.").format(limit=first.limit)
        elif rule == COOLDOWN:
            # A few names at most, shortened: the line stays well within one Discord message.
            first_wait, *waits = [(shown(shorten(r.subject)), duration(r.wait)) for r in theirs[:EXPLAINED]]
            line = _("cooldown: you can change {name} again in {wait}").format(name=first_wait[0], wait=first_wait[1])
            line += "".join(_(", {name} in {wait}").format(name=name, wait=wait) for name, wait in waits)
            if len(theirs) > EXPLAINED:
                line += _(" and {count} more").format(count=len(theirs) - EXPLAINED)
            lines[rule] = line + "."
        elif rule == BUDGET:
            lines[rule] = ngettext(
                "budget: {limit} change per person per hour; your next one in {wait}.",
                "budget: {limit} changes per person per hour; your next one in {wait}.",
                first.limit,
            ).format(limit=first.limit, wait=duration(first.wait))
    return list(lines.values())


def shorten(name: str) -> str:
    """A name cut to BOARD_NAME_WIDTH characters, for lines that list many names."""
    return name if len(name) <= BOARD_NAME_WIDTH else name[: BOARD_NAME_WIDTH - 1] + "\N{HORIZONTAL ELLIPSIS}"


def gave(name: str, karma: int, points: Points = KARMA) -> str:
    """A line of `givers`: a person, and the karma they gave."""
    return _("* {name} gave {count} {points}.").format(name=shown(shorten(name)), count=karma, points=points.of(karma))


def changed(name: str, karma: int, points: Points = KARMA) -> str:
    """A line of a board of changes in a window: a name, and how much its karma moved."""
    return f"* {shown(shorten(name))} {karma:+d} {points.of(karma)}"  # no words to translate


def on_board(name: str, karma: int, points: Points = KARMA) -> str:
    return f"* {has_karma(shorten(name), karma, points)}"


def because(subject: str, delta: int, author_name: str, when: datetime, reason: str) -> str:
    """One line of `why`: a change, who made it, when (a Discord timestamp, shown in the reader's
    time zone), and why."""
    who = shown(author_name) if author_name else _("someone")  # the ledger forgot them (retention)
    return _("{name} {change} from {who} {when}: {reason}").format(
        name=shown(shorten(subject)),
        change=f"{delta:+d}",
        who=who,
        when=f"<t:{int(when.timestamp())}:R>",
        reason=shown(reason),
    )


def no_reasons(subject: str) -> str:
    return _("No reasons recorded for {name} yet.").format(name=shown(shorten(subject)))


def left_out(count: int) -> str:
    return _("…and {count} more.").format(count=count)  # typed as itself: xgettext reads no \N{...} escapes


def too_many_subjects(limit: int) -> str:
    return _("(Only the first {limit} names in a message count.)").format(limit=limit)


def capped(
    lines: tuple[Line, ...], joiner: str, limit: int = MESSAGE_LIMIT, messages: int = MAX_MESSAGES_PER_ANSWER
) -> tuple[Line, ...]:
    """`lines`, or as many of them as fit in `messages` messages with a last line saying how many
    more were left out."""
    if _messages_needed([line.text for line in lines], joiner, limit) <= messages:
        return lines
    kept = len(lines) - 1
    while (
        kept
        and _messages_needed([line.text for line in lines[:kept]] + [left_out(len(lines) - kept)], joiner, limit)
        > messages
    ):
        kept -= 1
    return (*lines[:kept], Line(left_out(len(lines) - kept)))


def _messages_needed(texts: list[str], joiner: str, limit: int) -> int:
    """How many messages of at most `limit` characters `texts` take, split only between them (a
    longer text takes one of its own). Discord's are cut the same way (botgateway/splitting.py,
    whose tests check that a capped answer takes no more messages there)."""
    count, length = 0, None
    for text in texts:
        if length is not None and length + len(joiner) + len(text) <= limit:
            length += len(joiner) + len(text)
        else:
            count, length = count + 1, len(text)
    return count


# The last line of `@Popple config`: whether `x++` in plain chat reaches Popple in this deployment.
# (Lazy, as every answer's constant: translated when an answer says it, in the server's language.)
CHAT_READ = gettext_lazy("chat: `x++` counts")
CHAT_NOT_READ = gettext_lazy(
    "chat: `x++` and thanks do not count here (Popple runs without Discord's Message Content intent): "
    "use /plus, /minus, Give karma in the menu of a person or a message, or the server's reactions"
)
