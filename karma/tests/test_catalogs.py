"""The message catalogs (locale/): every answer translated into every language Popple speaks, with
the same placeholders, within Discord's limits, and compiled as committed."""

import ast
import gettext
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from karma import language
from karma.message import MESSAGE_LIMIT
from karma.models import MAX_NAME_LENGTH, MAX_REASON_LENGTH
from karma.points import MAX_POINTS_NAME
from testkit.answers import catalog, catalogs

LANGUAGES = sorted(catalogs())
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%(?:\([^)]*\))?[sd]")
# The longest each placeholder can be once filled in, every character of a name escaped (a
# backslash before each) and set in direction isolates (karma/replies.py: shown).
_NAME = 2 * MAX_NAME_LENGTH + 2
LONGEST = {
    "{name}": _NAME,
    "{who}": 2 * 100 + 2,  # a Discord username, escaped
    "{reason}": 2 * MAX_REASON_LENGTH + 2,
    "{points}": MAX_POINTS_NAME,
    "{count}": 20,
    "{limit}": 20,
    "{given}": 20,
    "{number}": 6,
    "{last}": 20,
    "{change}": 21,
    "{wait}": 20,
    "{when}": 30,  # <t:...:R>
    "{start}": 30,
    "{end}": 30,
    "{dates}": 120,  # one of the sentences of dates, filled in
    "{season}": 60 + 2 * 50,  # "Season N (name)" in any language, its name escaped
    "{channels}": 50 * 25,  # 50 channels, <#id>, separated by commas
    "{names}": 200,  # the settings' names
    "{bot}": 100,
    "{languages}": 40,
    "{words}": 300,  # the thank-words Popple knows
    "{role}": 24,  # <@&id>
}
ROOT = Path(settings.BASE_DIR)
# Where answers are worded: every gettext call in these is an answer (or a command's description).
SOURCES = [
    path
    for path in [*ROOT.glob("karma/**/*.py"), *ROOT.glob("botgateway/**/*.py")]
    if not {"tests", "migrations"} & set(path.parts)
]
_GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def placeholders(text):
    return Counter(_PLACEHOLDER.findall(text))


def filled(text):
    for placeholder in placeholders(text):
        text = text.replace(placeholder, "x" * LONGEST[placeholder])
    return text


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(code):
    entries = catalog(catalogs()[code])
    assert entries
    for entry in entries:
        assert "fuzzy" not in entry.flags, entry.msgid
        assert entry.msgstr, entry.msgid
        assert all(form.strip() for form in entry.msgstr), entry.msgid
        assert len(entry.msgstr) == (2 if entry.msgid_plural else 1), entry.msgid


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_translation_keeps_exactly_its_messages_placeholders(code):
    for entry in catalog(catalogs()[code]):
        for index, form in enumerate(entry.msgstr):
            original = entry.msgid_plural if index and entry.msgid_plural else entry.msgid
            assert placeholders(form) == placeholders(original), (entry.msgid, form)


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_fits_in_one_discord_message_whatever_fills_it(code):
    for entry in catalog(catalogs()[code]):
        for text in (entry.msgid, entry.msgid_plural, *entry.msgstr):
            assert len(filled(text)) <= MESSAGE_LIMIT, text


def test_the_catalogs_know_every_message_the_code_says():
    """A new answer, or a changed one, must be in the catalogs (manage.py makemessages, then
    translated: CONTRIBUTING.md): otherwise it would be said in English only."""
    said = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in _GETTEXT:
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    said.add(first.value)
    assert len(said) > 80  # the walk found the answers
    for code in LANGUAGES:
        assert said == {entry.msgid for entry in catalog(catalogs()[code])}, code


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_compiled_catalogs_are_the_po_files(code):
    """The .mo files are committed (no process needs GNU gettext): they must say what the .po files
    say. After editing a .po file: `manage.py compilemessages`."""
    po = catalogs()[code]
    with open(po.with_suffix(".mo"), "rb") as file:
        compiled = dict(gettext.GNUTranslations(file)._catalog)  # type: ignore[attr-defined]
    compiled = {key: value for key, value in compiled.items() if key != ""}  # the header
    expected = {}
    for entry in catalog(po):
        if entry.msgid_plural:
            expected.update({(entry.msgid, index): form for index, form in enumerate(entry.msgstr)})
        else:
            expected[entry.msgid] = entry.msgstr[0]
    assert compiled == expected


def test_each_language_popple_speaks_has_its_catalog():
    assert {code for code in language.SUPPORTED if code != language.ENGLISH} == set(LANGUAGES)
    assert set(language.DJANGO_CODES.values()) == {code for code, _ in settings.LANGUAGES}
    assert all(path.exists() for path in catalogs().values())
