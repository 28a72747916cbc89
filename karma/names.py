"""What a subject's name is, once it cannot masquerade as another.

Names are stored in Unicode NFC, so that `café` typed with one code point or with two is one
name, and without the characters that show nothing but change what a name compares as or how
the text around it is ordered: zero-width characters and bidirectional controls. `ad\u200bmin++`
is `admin`; a name that is empty afterwards counts for nothing. The zero-width joiner stays
between two symbols, where it joins an emoji sequence (👨‍👩‍👧) rather than hides anything.
"""

import unicodedata

ZERO_WIDTH = "\u00ad\u180e\u200b\u200c\u2060\ufeff"  # soft hyphen, Mongolian vowel separator, ZW*
JOINER = "\u200d"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = dict.fromkeys(map(ord, ZERO_WIDTH + BIDI_CONTROLS))


def clean(name: str) -> str:
    """`name` in NFC, without invisible characters, and with its edges trimmed."""
    name = unicodedata.normalize("NFC", name).translate(_INVISIBLE)
    if JOINER in name:
        name = "".join(
            char
            for index, char in enumerate(name)
            if char != JOINER or (0 < index < len(name) - 1 and _symbol(name[index - 1]) and _symbol(name[index + 1]))
        )
    return name.strip()


def _symbol(char: str) -> bool:
    return unicodedata.category(char) == "So"


def without_bidi_controls(text: str) -> str:
    return text.translate(dict.fromkeys(map(ord, BIDI_CONTROLS)))
