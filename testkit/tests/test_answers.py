"""testkit/answers.py reads Popple's announcements back in every language it speaks, as the
end-to-end tests read them in English."""

import re

import pytest
from django.utils import translation

from karma import language
from karma.points import Points
from karma.replies import has_karma, left_out
from testkit import answers

LANGUAGES = list(language.DJANGO_CODES.values())
NAMES = ["alice", "snake_case", "the build server", "café", "🎉", "@everyone", "שלום", "a.b", "c++"]


@pytest.mark.parametrize("code", LANGUAGES)
def test_announcements_are_read_back_in_every_language(code):
    with translation.override(code):
        text = " ".join(has_karma(name, karma) for karma, name in enumerate(NAMES, start=-3))
        text += " " + left_out(3)  # a line that is not an announcement is passed over
    said = answers.announced(text, code, name=r"\S.*?", alone=True)
    shown = [re.sub(r"[\u2068\u2069\\]", "", name) for name, _ in said]  # isolates and escapes as said
    assert shown == NAMES
    assert [karma for _, karma in said] == list(range(-3, len(NAMES) - 3))


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_servers_points_are_read_too(code):
    cookies = Points("cookie", "cookies")
    with translation.override(code):
        text = f"{has_karma('tea', 1, cookies)} {has_karma('milk', 2, cookies)}"
    assert answers.announced(text, code, points="cookies") == [("milk", 2)]
    assert answers.announced(text, code, points="cookie") == [("tea", 1)]


def test_in_english_they_read_what_the_end_to_end_tests_read():
    text = "alpha has 3 karma. (the build server) has -1 karma. the build server has 2 karma.\n🎉 has 0 karma."
    # The patterns tests/test_announcements.py and tests/test_faults.py had before, for English.
    one_word = [(name, int(value)) for name, value in re.findall(r"(\S+) has (-?\d+) karma\.", text)]
    assert answers.announced(text) == one_word
    spaced = [(n, int(v)) for n, v in re.findall(r"(?<!\S)(\S.*?) has (-?\d+) karma\.(?!\S)", text)]
    assert answers.announced(text, name=r"\S.*?", alone=True) == spaced
    assert ("the build server", 2) in spaced


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_rules_tables_answers_are_said_in_each_language(code):
    with translation.override(code):
        no_one = translation.gettext("No one has any {points} yet.").format(points="karma")
        said = has_karma("a", 2) + " " + has_karma("b (c)", -1)
    assert answers.in_language("No one has any karma yet.", code) == no_one
    assert answers.in_language("a has 2 karma. b (c) has -1 karma.", code) == said


def test_the_fake_refuses_localizations_discord_would():
    from botgateway.slash_commands import commands
    from testkit.fakediscord import _localizations_valid

    assert all(_localizations_valid(command) for command in commands())
    top = {"name": "top", "type": 1, "description": "x", "description_localizations": {"de": "x"}}
    assert _localizations_valid(top)
    assert not _localizations_valid({**top, "description_localizations": {"xx": "x"}})  # not a locale of Discord's
    assert not _localizations_valid({**top, "description_localizations": {"de": "x" * 101}})
    assert not _localizations_valid({**top, "name_localizations": {"de": "die top"}})  # a slash name has no space
    assert _localizations_valid({"name": "Give karma", "type": 2, "name_localizations": {"de": "Karma geben"}})
    option = {"name": "size", "type": 4, "required": False, "description": "x", "name_localizations": {"fr": "Taille"}}
    assert not _localizations_valid({**top, "options": [option]})  # an option's name is lowercase
