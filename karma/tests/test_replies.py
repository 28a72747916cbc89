import discord.utils
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karma.message import Line, Reply
from karma.replies import capped, escape_markdown, has_karma, shown


def reply(lines, joiner=" ", reaction=None):
    return Reply(1, 2, tuple(Line(line) for line in lines), joiner, reaction)


def test_messages_split_between_lines_only():
    lines = tuple(f"name{i:03} has {i} karma." for i in range(300))
    messages = reply(lines).messages()
    assert len(messages) > 1
    assert all(len(message) <= 2000 for message in messages)
    assert " ".join(messages) == " ".join(lines)
    assert all(message.endswith("karma.") for message in messages)


def test_board_lines_are_split_at_line_breaks():
    lines = tuple(f"* {'x' * 120} has 1 karma." for _ in range(40))
    messages = reply(lines, joiner="\n").messages()
    assert all(len(message) <= 2000 for message in messages)
    assert [line for message in messages for line in message.split("\n")] == list(lines)


def test_short_reply_is_one_message():
    assert reply(["a has 1 karma.", "b has 2 karma."]).messages() == ["a has 1 karma. b has 2 karma."]
    assert reply([], reaction="x").messages() == []


def test_an_answer_is_capped_at_two_messages_with_a_count_of_what_was_left_out():
    lines = tuple(Line(f"* {'y' * 100} has {i} karma.") for i in range(100))
    kept = capped(lines, "\n")
    assert len(Reply(1, 2, kept, "\n").messages()) == 2
    assert kept[:-1] == lines[: len(kept) - 1]
    assert kept[-1] == Line(f"\N{HORIZONTAL ELLIPSIS}and {100 - (len(kept) - 1)} more.")
    assert capped(lines[:10], "\n") == lines[:10]


def test_reply_payload_round_trip():
    original = Reply(5, 6, (Line("x has 1 karma.", "x", 3), Line("note")), "\n", "\N{WHITE HEAVY CHECK MARK}")
    assert Reply.from_payload(original.to_payload()) == original


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda p: p.pop("lines"), "payload has no lines"),
        (lambda p: p.update(lines="x has 1 karma."), "lines must be a list"),
        (lambda p: p.update(lines=[["", None, 0]]), "lines must be a list"),
        (lambda p: p.update(lines=[["x" * 2001, None, 0]]), "lines must be a list"),
        (lambda p: p.update(joiner="\t"), "joiner must be a space or a line break"),
        (lambda p: p.update(reaction=""), "reaction must be an emoji or null"),
        (lambda p: p.update(channel_id="1"), "channel_id is not a valid int"),
    ],
)
def test_malformed_reply_payloads_are_refused(change, error):
    payload = Reply(5, 6, (Line("x has 1 karma.", "x", 3),)).to_payload()
    change(payload)
    with pytest.raises(ValueError, match=error):
        Reply.from_payload(payload)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("plain", "plain"),
        ("**bold**", "\\*\\*bold\\*\\*"),
        ("# heading", "\\# heading"),
        ("> quote", "\\> quote"),
        ("a\nb", "a b"),
        ("@everyone", "@everyone"),
        ("zero\u200bwidth", "zero\u200bwidth"),
        ("\u202eevil", "evil"),  # bidirectional controls are dropped, whatever the name held
        ("\u2069\u202eevil", "evil"),  # a name cannot close the isolate early
        ("שלום", "\u2068שלום\u2069"),
    ],
)
def test_names_are_shown_without_formatting_effects(name, expected):
    assert shown(name) == expected


def test_has_karma():
    assert has_karma("Popple", -3) == "Popple has -3 karma."


@given(st.text(alphabet=st.sampled_from(list("ab _*~|`\\>#-[]():/.<> \nhtps")), max_size=60))
def test_markdown_is_escaped_as_discordpy_escapes_it(text):
    assert escape_markdown(text) == discord.utils.escape_markdown(text)
