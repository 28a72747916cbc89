"""Where karma counts in a server: everywhere (the default), only in some channels, or everywhere
but some (`@Popple config channels only #karma #thanks`, `channels except #off-topic`, `channels
all`). A category listed stands for every channel in it, and a channel for its threads.

Commands answer everywhere. Chat, thanks and reactions in a channel where karma does not count
change nothing and say nothing (people are used to `++` anywhere; a reply to each would be noise);
`/plus`, `/minus` and the Give karma menus, which someone used on purpose, say why, to them alone.
"""

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ONLY, EXCEPT = "only", "except"
MAX_CHANNELS = 50
_CHANNEL = re.compile(r"<#(\d{1,20})>")
NOT_HERE = gettext_lazy("Karma does not count in this channel (`@Popple config channels` says where it does).")


def listens(rule: dict, channel_id: int, within: list[int]) -> bool:
    """Whether karma counts in the channel, given the server's rule ({} / {ONLY: ids} / {EXCEPT:
    ids}) and the channels and category the channel is within (a thread's channel, a category)."""
    if not rule:
        return True
    listed = {int(place) for place in rule.get(ONLY) or rule.get(EXCEPT) or []}
    named = channel_id in listed or any(place in listed for place in within)
    return named if ONLY in rule else not named


def parse(text: str) -> dict | None:
    """What a moderator typed: `all`, or `only`/`except` then channel (or category) mentions."""
    word, _space, rest = text.strip().partition(" ")
    word = word.lower()
    if word in ("all", "everywhere") and not rest.strip():
        return {}
    mentioned = _CHANNEL.findall(rest)
    if word not in (ONLY, EXCEPT) or not mentioned or _CHANNEL.sub("", rest).replace(",", " ").strip():
        return None
    ids = list(dict.fromkeys(mentioned))
    return {word: ids} if len(ids) <= MAX_CHANNELS else None


def channel_of(text: str) -> int | None:
    """The channel a mention names (`<#123>`), when the text is one mention and nothing else."""
    found = _CHANNEL.fullmatch(text.strip())
    return int(found.group(1)) if found else None


def show(rule: dict) -> str:
    if not rule:
        return _("everywhere")
    places = ", ".join(f"<#{place}>" for place in rule.get(ONLY) or rule.get(EXCEPT) or [])
    shown = _("only in {channels}") if ONLY in rule else _("everywhere but {channels}")
    return shown.format(channels=places)


def valid(rule: object) -> bool:
    """Whether a stored rule has the form parse() gives (the admin's form is checked against it)."""
    if rule == {}:
        return True
    if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in (ONLY, EXCEPT):
        return False
    ids = next(iter(rule.values()))
    return (
        isinstance(ids, list)
        and 0 < len(ids) <= MAX_CHANNELS
        and all(isinstance(place, str) and place.isdigit() for place in ids)
    )
