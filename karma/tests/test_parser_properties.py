"""Properties of the parser and router over arbitrary text (hypothesis)."""

import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from karma.message import may_matter
from karma.parser import parse_changes, parse_names
from karma.router import respond, split_command
from testkit.messages import BOT_ID, chat, discord_messages

# Text that stresses the parser: its own syntax, mentions, whitespace of all kinds, and anything.
SYNTAX = st.sampled_from(["(", ")", "`", "```", "++", "--", "+", "-", "@", "<@42>", "<@!42>", "<@&1>", " ", "\n", "\t",
                          "\x00", "!", ".", "Popple", "\u200b", "\u202e", "é", "🎉"])  # fmt: skip
ANY_TEXT = st.lists(st.one_of(SYNTAX, st.text(max_size=20)), max_size=200).map("".join).map(lambda t: t[:4000])
# A word that is one token however it is surrounded: no whitespace, parentheses or backticks.
WORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="()`"), min_size=1, max_size=12).filter(
    lambda w: not any(c.isspace() for c in w)
)
SIGNED_WORD = st.tuples(WORD, st.sampled_from(["++", "--", "", "++!", "--.", "+", "+-"])).map("".join)
WHITESPACE = st.text(st.sampled_from(" \t\n\r\u00a0\u3000"), min_size=1, max_size=3)
MENTIONS = {"42": "alice"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # control characters, line breaks


@given(ANY_TEXT)
def test_parsing_never_raises_and_stays_in_bounds(text):
    changes = parse_changes(text, MENTIONS)
    assert all(1 <= len(name) <= 128 and delta != 0 for name, delta in changes)
    assert len({name for name, _ in changes}) == len(changes)
    assert not any(_CONTROL.search(name) for name, _ in changes)  # one line, nothing hidden
    assert all(1 <= len(name) <= 128 for name in parse_names(text, MENTIONS))
    split_command(text, BOT_ID, "Popple")


@given(st.lists(SIGNED_WORD, max_size=30), st.data())
def test_whitespace_between_tokens_does_not_matter(words, data):
    """A message of words is the sum of its words, whatever whitespace separates them."""
    spaces = [data.draw(WHITESPACE) for _ in words]
    text = "".join(space + word for space, word in zip(spaces, words, strict=True))
    total = Counter()
    for word in words:
        for name, delta in parse_changes(word, MENTIONS):
            total[name] += delta
    assert dict(parse_changes(text, MENTIONS)) == {name: delta for name, delta in total.items() if delta}


@given(st.lists(SIGNED_WORD, max_size=10), st.text(min_size=1, max_size=40).filter(lambda t: "`" not in t))
def test_code_spans_hide_whatever_they_hold(words, code):
    """Inserting `code` anywhere between tokens changes nothing."""
    text = " ".join(words)
    assert parse_changes(text.replace(" ", f" `{code}` ", 1), MENTIONS) == parse_changes(text, MENTIONS)


LONG_NAME = st.text(st.characters(categories=("L", "N", "P", "S"), exclude_characters="()`"), min_size=60, max_size=128)
MANY_NAMES = st.lists(LONG_NAME.map(lambda name: f"({name})++"), min_size=30, max_size=45, unique=True).map(" ".join)


@pytest.mark.django_db
@settings(
    max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(st.one_of(ANY_TEXT, MANY_NAMES), st.sampled_from(["", f"<@{BOT_ID}> ", "@Popple ", "@Popple karma "]))
def test_any_message_gets_an_answer_that_fits_discord(text, prefix):
    reply = respond(chat(prefix + text, mentions=MENTIONS))
    messages = discord_messages(reply)
    target(float(len(messages)))  # steer hypothesis towards replies that must be split
    assert len(messages) <= 2
    assert all(0 < len(message) <= 2000 for message in messages)
    # Nothing is lost in the split: the pieces are the reply's lines, in order.
    assert reply.joiner.join(messages) == reply.text()


@given(ANY_TEXT)
def test_what_the_gateway_drops_would_get_no_answer(text):
    # may_matter may say yes to more than matters, never less: a dropped message changes nothing.
    if not may_matter(text, BOT_ID, "Popple"):
        assert parse_changes(text, MENTIONS) == []
        assert split_command(text, BOT_ID, "Popple") is None
