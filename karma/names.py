"""What a subject's name is, once it cannot masquerade as another.

Names are stored in Unicode NFC, so that `café` typed with one code point or with two is one
name, and without the characters that show nothing but change what a name compares as or how
the text around it is ordered: format characters (zero-width spaces and joiners, bidirectional
controls, invisible operators...) and the few other invisible ones (fillers, the combining
grapheme joiner). `ad\u200bmin++` is `admin`; a name that is empty afterwards counts for
nothing. A name is one line: line breaks, tabs and other control characters become one space
with the spaces around them (`(foo⏎bar)++` is `foo bar`), so that a name reads the same in a
reply, on a web page and in a URL. Two format characters stay where they build an emoji rather than hide anything: the
zero-width joiner inside an emoji sequence (👨‍👩‍👧, 🏳️‍🌈, 🧑🏽‍💻) and the tags of a
subdivision flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
"""

import re
import unicodedata

JOINER = "\u200d"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Invisible, but not format characters: Hangul fillers, Khmer inherent vowels, Mongolian
# variation selectors and vowel separator, the combining grapheme joiner.
_OTHER_INVISIBLE = set("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u180b\u180c\u180d\u180e\u034f")
_TAGS = range(0xE0020, 0xE0080)
_EMOJI_PARTS = {"So", "Sk", "Mn"}  # a symbol, a skin tone, a variation selector
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # control characters, line separators
_GAP = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # (one character class: linear time)


def clean(name: str) -> str:
    """`name` in NFC, on one line, without invisible characters, and with its edges trimmed."""
    if _CONTROL.search(name):
        name = _GAP.sub(lambda gap: " " if _CONTROL.search(gap.group()) else gap.group(), name)
    if name.isascii():
        return name.strip()  # the usual case: nothing to normalize, nothing invisible
    name = unicodedata.normalize("NFC", name)
    kept = []
    for index, char in enumerate(name):
        if char == JOINER:
            if 0 < index < len(name) - 1 and _emoji_part(name[index - 1]) and _emoji_part(name[index + 1]):
                kept.append(char)
        elif char in _OTHER_INVISIBLE:
            continue
        elif unicodedata.category(char) != "Cf" or ord(char) in _TAGS:
            kept.append(char)
    return "".join(kept).strip()


def folded(name: str) -> str:
    """The form in which names compare without case (self-karma, ignored names)."""
    return unicodedata.normalize("NFC", clean(name).casefold())


def _emoji_part(char: str) -> bool:
    return unicodedata.category(char) in _EMOJI_PARTS


def without_bidi_controls(text: str) -> str:
    return text.translate(dict.fromkeys(map(ord, BIDI_CONTROLS)))
