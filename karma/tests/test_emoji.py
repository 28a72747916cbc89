"""Emoji as moderators list them and as Discord names a reaction's: one key for both."""

import pytest

from karma.emoji import emoji_key, parse_list, reaction_key


@pytest.mark.parametrize(
    "typed, key",
    [
        ("👍", "👍"),
        ("⬆️", "⬆"),  # the variation selector some clients add, and some do not
        ("⬆", "⬆"),
        ("1️⃣", "1⃣"),  # a keycap
        ("🇫🇷", "🇫🇷"),  # a flag: two regional indicators
        ("👨‍👩‍👧", "👨‍👩‍👧"),  # joined by zero-width joiners
        ("<:upvote:123456>", "123456"),  # a server's own: its id, whatever its name becomes
        ("<a:party:42>", "42"),
    ],
)
def test_what_people_list_and_what_discord_sends_have_one_key(typed, key):
    assert emoji_key(typed) == key
    custom = typed.startswith("<")
    assert reaction_key(None if custom else typed, int(key) if custom else None) == key


@pytest.mark.parametrize("typed", ["a", "1", "++", ":thumbsup:", "thanks", "<:name:>", "", "é", "👍" * 17])
def test_anything_else_is_not_an_emoji(typed):
    assert emoji_key(typed) is None


def test_a_list_is_each_emoji_once_in_the_order_typed():
    assert parse_list("👍, ⬆️ ⬆ <:up:1>") == ["👍", "⬆️", "<:up:1>"]
    assert parse_list("👍 up") is None
