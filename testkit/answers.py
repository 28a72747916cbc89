"""Popple's answers read back, in any language it speaks: what tests parse out of them (a name's
karma in an announcement), and its message catalogs (locale/) as text.

The announcement's pattern is made from the catalog's own sentence ("{name} has {count}
{points}."), so that the same parser reads every language, and a translation that moved or lost a
placeholder fails the tests that parse it.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import translation

from karma import language

LOCALE = Path(settings.BASE_DIR) / "locale"
ANNOUNCEMENT = "{name} has {count} {points}."  # the msgid of karma/replies.py: has_karma


def announcement(language_code: str = language.ENGLISH, points: str = "karma", name: str = r"\S+") -> re.Pattern[str]:
    """A pattern that finds `name has N karma.` in the language of Django code `language_code`:
    groups `name` and `count`. `name` is the pattern a name matches (by default one without
    spaces); `points` the server's name for karma."""
    with translation.override(language_code):
        sentence = translation.gettext(ANNOUNCEMENT)
    pattern = re.escape(sentence)
    for placeholder, part in (
        ("name", f"(?P<name>{name})"),
        ("count", r"(?P<count>-?\d+)"),
        ("points", re.escape(points)),
    ):
        pattern = pattern.replace(re.escape("{" + placeholder + "}"), part, 1)
    return re.compile(pattern)


def announced(text: str, language_code: str = language.ENGLISH, points: str = "karma", name: str = r"\S+",
              alone: bool = False) -> list[tuple[str, int]]:  # fmt: skip
    """(name, karma) of each announcement in `text`, in order. `alone`: only announcements that are
    words of their own (nothing but spaces or line breaks around them)."""
    pattern = announcement(language_code, points, name)
    if alone:
        pattern = re.compile(rf"(?<!\S){pattern.pattern}(?!\S)")
    return [(found["name"], int(found["count"])) for found in pattern.finditer(text)]


@dataclass
class Entry:
    """One message of a catalog."""

    msgid: str
    msgid_plural: str = ""
    msgstr: list[str] = field(default_factory=list)  # one, or one per plural form
    flags: set[str] = field(default_factory=set)
    context: str = ""


def catalog(path: Path) -> list[Entry]:
    """The entries of a .po file (the header, whose msgid is empty, left out)."""
    entries, entry, part = [], None, ""
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry, part = None, ""
            continue
        if line.startswith("#,"):
            entry = entry or Entry("")
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        entry = entry or Entry("")
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = part, line
        part = keyword
        text = _unquote(rest)
        if keyword == "msgctxt":
            entry.context += text
        elif keyword == "msgid":
            entry.msgid += text
        elif keyword == "msgid_plural":
            entry.msgid_plural += text
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword != "msgstr" else 0
            while len(entry.msgstr) <= index:
                entry.msgstr.append("")
            entry.msgstr[index] += text
    return [entry for entry in entries if entry.msgid]


def _unquote(quoted: str) -> str:
    if not (quoted.startswith('"') and quoted.endswith('"')):
        raise ValueError(f"not a quoted string in a catalog: {quoted}")
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], quoted[1:-1])


def catalogs() -> dict[str, Path]:
    """Each language's .po file, by Discord's code of the language."""
    return {
        code: LOCALE / translation.to_locale(django) / "LC_MESSAGES" / "django.po"
        for code, django in language.DJANGO_CODES.items()
        if code != language.ENGLISH
    }


def in_language(english: str | None, language_code: str) -> str | None:
    """What an English answer of testkit/rules.py's table says in another language: a message of
    the catalog translated, or each `name has N karma.` of an announcement said in that language
    (read with the English parser, so the table's answers must be one or the other)."""
    if english is None:
        return None
    if language_code == language.ENGLISH:
        return english
    for msgid in _messages():  # a message of the catalogs, its placeholders filled in
        found = re.fullmatch(_as_pattern(msgid), english)
        if found:
            with translation.override(language_code):
                return translation.gettext(msgid).format(**found.groupdict())
    with translation.override(language_code):
        sentence = translation.gettext(ANNOUNCEMENT)
    english_sentences = re.compile(announcement(name=".+?").pattern + "(?: |$)")
    found = list(english_sentences.finditer(english))
    if "".join(match.group(0) for match in found) != english:
        raise ValueError(f"neither a message of the catalogs nor announcements: {english!r}")
    said = [sentence.format(name=match["name"], count=match["count"], points="karma") for match in found]
    return " ".join(said)


def _messages() -> list[str]:
    """The catalogs' messages (singular), announcements last: they are read sentence by sentence."""
    messages = [entry.msgid for entry in catalog(catalogs()["de"]) if entry.msgid != ANNOUNCEMENT]
    return sorted(messages, key=lambda msgid: "{" in msgid)  # whole messages before patterns


def _as_pattern(msgid: str) -> str:
    parts = re.split(r"\{(\w+)\}", msgid)
    return "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)" for index, part in enumerate(parts))
