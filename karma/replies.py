"""What Popple says: sentences about karma, how names are shown, and Discord-sized pieces."""

import re
import unicodedata
from dataclasses import dataclass

DISCORD_MESSAGE_LIMIT = 2000
QUESTION = "\N{BLACK QUESTION MARK ORNAMENT}"
CHECK = "\N{WHITE HEAVY CHECK MARK}"

_RIGHT_TO_LEFT = {"R", "AL", "RLE", "RLO", "LRE", "LRO", "RLI", "LRI", "FSI", "PDF", "PDI"}

# Discord's markdown, escaped as discord.py's escape_markdown does it (links are left alone). The
# two expressions are discord.py's; they are repeated here so that the domain does not depend on a
# Discord library (karma/tests/test_replies.py checks that both escape alike).
_URL = r"(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_MARKDOWN = r"(?P<markdown>[_\\~|\*`]|^>(?:>>)?\s|\[.+\]\(.+\)|^#{1,3}|^\s*-)"
_MARKDOWN_OR_URL = re.compile(f"(?:{_URL}|{_MARKDOWN})", re.MULTILINE)


def escape_markdown(text: str) -> str:
    return _MARKDOWN_OR_URL.sub(lambda match: match.group("url") or "\\" + match.group("markdown"), text)


@dataclass(frozen=True)
class Response:
    """A reply in units (sentences or lines) that are never split, and/or a reaction."""

    lines: tuple = ()
    joiner: str = " "
    reaction: str | None = None

    def __bool__(self) -> bool:
        return bool(self.lines or self.reaction)

    def chunks(self, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
        """The text as messages of at most `limit` characters, split only between units."""
        chunks, current = [], ""
        for line in self.lines:
            candidate = f"{current}{self.joiner}{line}" if current else line
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = line
        if current:
            chunks.append(current)
        return chunks


def shown(name: str) -> str:
    """A name as it appears in a reply: no markdown effects, no line breaks, no text reordering.

    Mentions need nothing here: every reply goes out with allowed mentions disabled.
    """
    name = " ".join(name.splitlines())
    name = escape_markdown(name)
    if any(unicodedata.bidirectional(char) in _RIGHT_TO_LEFT for char in name):
        # First-strong isolate: a right-to-left name cannot flip "has N karma." around it.
        name = f"\N{FIRST STRONG ISOLATE}{name}\N{POP DIRECTIONAL ISOLATE}"
    return name


def has_karma(name: str, karma: int) -> str:
    return f"{shown(name)} has {karma} karma."
