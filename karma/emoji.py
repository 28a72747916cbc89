"""Emoji as a server lists them for reactions (`@Popple config reactions 👍 ⬆️`) and as the gateway
names the emoji of a reaction: both reduce to one key, so that they compare.

A Unicode emoji's key is the emoji without variation selectors: people type `⬆️` or `⬆`, and
Discord's clients differ in which they send. A server's own emoji is written `<:name:id>` (or
`<a:name:id>` when animated) and its key is its id: its name may change.
"""

import re
import unicodedata

CUSTOM = re.compile(r"<a?:(\w{1,32}):(\d{1,20})>")
MAX_EMOJI_LENGTH = 16  # characters in the longest Unicode emoji sequences (families, flags of regions)
_VARIATION_SELECTORS = dict.fromkeys(range(0xFE00, 0xFE10))
_KEYCAP_BASES = set("#*0123456789")
# Symbols, their modifiers and combining marks (keycaps, skin tones), joiners: what emoji are made of.
_EMOJI_CATEGORIES = {"So", "Sk", "Mn", "Me", "Cf"}


def emoji_key(text: str) -> str | None:
    """The key of one emoji as typed or listed, or None when `text` is not one emoji."""
    custom = CUSTOM.fullmatch(text)
    if custom:
        return custom.group(2)
    bare = text.translate(_VARIATION_SELECTORS)
    if not 0 < len(bare) <= MAX_EMOJI_LENGTH or bare.isascii():
        return None
    categories = [unicodedata.category(char) for char in bare]
    if not all(
        category in _EMOJI_CATEGORIES or char in _KEYCAP_BASES for char, category in zip(bare, categories, strict=True)
    ):
        return None
    return bare if "So" in categories or "Me" in categories else None


def reaction_key(name: str | None, emoji_id: int | None) -> str:
    """The key of a reaction's emoji as Discord names it: its id for a server's own, else the emoji."""
    return str(emoji_id) if emoji_id else (name or "").translate(_VARIATION_SELECTORS)


def parse_list(text: str) -> list[str] | None:
    """The emoji a moderator typed, separated by spaces or commas, each once; None when something
    else is among them. (Discord's clients send `:thumbsup:` typed in chat as the emoji itself.)"""
    found: dict[str, str] = {}
    for word in text.replace(",", " ").split():
        key = emoji_key(word)
        if key is None:
            return None
        found.setdefault(key, word)
    return list(found.values())


def keys(listed: list[str]) -> set[str]:
    """The keys of a server's listed emoji."""
    return {key for key in map(emoji_key, listed) if key is not None}
