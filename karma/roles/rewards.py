"""Which roles a karma earns, and the `roles` setting as people type it and see it.

Stored as [[threshold, "role id"], ...] sorted by threshold (GuildSettings.role_rewards), ids as
text as elsewhere in JSON settings (karma/channels.py), since JavaScript and JSON readers lose
precision above 2^53. The domain never decodes an id: a role is a number to hand back to Discord.
"""

import re

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

MAX_REWARDS = 10  # thresholds per server: each is a request per person whose karma crosses it
MAX_THRESHOLD = 1_000_000_000
# A role as Discord's `@` menu types it into a message: `<@&123>`.
_ROLE = re.compile(r"<@&(\d{1,20})>")
_PAIR = re.compile(r"\s*(-?\d{1,10})\s+(\S+)")

Rewards = list[list]  # [[threshold, "role id"], ...], sorted by threshold

# Said in the server's language (the command words and `off` stay as typed).
HELP = format_lazy(
    gettext_lazy(
        "roles must be thresholds and roles, such as `roles 10 @Helper 50 @Regular` (pick each role from the @ "
        'menu; at most {limit}, each threshold and role once), or "off"'
    ),
    limit=MAX_REWARDS,
)


def parse(text: str) -> Rewards | None:
    """The rewards `text` asks for ([] for off), or None when it is not a valid value."""
    text = text.strip()
    if text.lower() in ("off", "none"):
        return []
    pairs, position = [], 0
    while position < len(text):
        pair = _PAIR.match(text, position)
        if not pair:
            return None
        role = _ROLE.fullmatch(pair.group(2))
        threshold = int(pair.group(1))
        if not role or not 1 <= threshold <= MAX_THRESHOLD:
            return None
        pairs.append([threshold, role.group(1)])
        position = pair.end()
        while position < len(text) and text[position] in " ,":
            position += 1
    roles = [role for _, role in pairs]
    thresholds = [threshold for threshold, _ in pairs]
    if not pairs or len(pairs) > MAX_REWARDS:
        return None
    if len(set(roles)) != len(roles) or len(set(thresholds)) != len(thresholds):
        return None
    return sorted(pairs)


def show(rewards: Rewards) -> str:
    """`10 <@&1>, 50 <@&2>`: Discord shows the roles by name; replies ping no one (no mentions allowed)."""
    return ", ".join(f"{threshold} <@&{role}>" for threshold, role in rewards) if rewards else "off"


def valid(value: object) -> bool:
    """Whether `value` is rewards as stored, in any order (the admin's check; saving sorts them)."""
    if not isinstance(value, list):
        return False
    typed = [_typed(pair) for pair in value]
    return "?" not in typed and parse(" ".join(typed) or "off") == sorted(value)


def _typed(pair: object) -> str:
    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int) and isinstance(pair[1], str):
        return f"{pair[0]} <@&{pair[1]}>"
    return "?"


def earned(karma: int, rewards: Rewards, stack: bool) -> list[int]:
    """The roles `karma` earns: every role whose threshold it reaches (`stack`), or the highest only."""
    reached = [int(role) for threshold, role in rewards if karma >= threshold]
    return reached if stack else reached[-1:]


def managed(rewards: Rewards) -> list[int]:
    """Every role the rewards give: Popple takes back those a person no longer earns, and no other."""
    return [int(role) for _, role in rewards]
