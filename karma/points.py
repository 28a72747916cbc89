"""What a server calls its points: karma by default, or its own name (`@Popple config points
cookies`, or `cookie/cookies` for one and for many), which every answer then says."""

import re
import unicodedata
from typing import NamedTuple

MAX_POINTS_NAME = 20
# Letters, digits, spaces, hyphens and apostrophes, and emoji: nothing Discord's markdown or
# mentions read (the name is said as typed, in every announcement).
_ALLOWED = re.compile(r"[\w '\-]+")


class Points(NamedTuple):
    one: str
    many: str

    def of(self, count: int) -> str:
        return self.one if abs(count) == 1 else self.many

    def stored(self) -> str:
        return self.one if self.one == self.many else f"{self.one}/{self.many}"


KARMA = Points("karma", "karma")


def from_stored(value: str) -> Points:
    one, _, many = (value or KARMA.one).partition("/")
    return Points(one, many or one)


def parse(text: str) -> str | None:
    """The name a moderator typed, as stored; None when it is not one."""
    one, slash, many = " ".join(text.split()).partition("/")
    names = [one.strip(), many.strip()] if slash else [one.strip()]
    if not all(_is_name(name) for name in names):
        return None
    return Points(names[0], names[-1]).stored()


def _is_name(name: str) -> bool:
    if not 0 < len(name) <= MAX_POINTS_NAME or "_" in name:
        return False
    return all(_ALLOWED.fullmatch(char) or unicodedata.category(char) in ("So", "Mn", "Cf") for char in name)
