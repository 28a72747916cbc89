"""A reply's text cut into Discord messages, and the domain's cap agreeing with the cut."""

from hypothesis import given
from hypothesis import strategies as st

from botgateway.splitting import DISCORD_MESSAGE_LIMIT, messages
from karma.message import MESSAGE_LIMIT, Line, Reply
from karma.replies import capped


def reply(lines, joiner=" ", reaction=None):
    return Reply(1, 2, tuple(Line(line) for line in lines), joiner, reaction)


def test_messages_split_between_lines_only():
    lines = tuple(f"name{i:03} has {i} karma." for i in range(300))
    said = messages(reply(lines))
    assert len(said) > 1
    assert all(len(message) <= 2000 for message in said)
    assert " ".join(said) == " ".join(lines)
    assert all(message.endswith("karma.") for message in said)


def test_board_lines_are_split_at_line_breaks():
    lines = tuple(f"* {'x' * 120} has 1 karma." for _ in range(40))
    said = messages(reply(lines, joiner="\n"))
    assert all(len(message) <= 2000 for message in said)
    assert [line for message in said for line in message.split("\n")] == list(lines)


def test_short_reply_is_one_message():
    assert messages(reply(["a has 1 karma.", "b has 2 karma."])) == ["a has 1 karma. b has 2 karma."]
    assert messages(reply([], reaction="x")) == []


def test_an_answer_is_capped_at_two_messages_with_a_count_of_what_was_left_out():
    lines = tuple(Line(f"* {'y' * 100} has {i} karma.") for i in range(100))
    kept = capped(lines, "\n")
    assert len(messages(Reply(1, 2, kept, "\n"))) == 2
    assert kept[:-1] == lines[: len(kept) - 1]
    assert kept[-1] == Line(f"\N{HORIZONTAL ELLIPSIS}and {100 - (len(kept) - 1)} more.")
    assert capped(lines[:10], "\n") == lines[:10]


def test_the_domain_measures_answers_in_discord_messages():
    assert MESSAGE_LIMIT == DISCORD_MESSAGE_LIMIT


@given(
    st.lists(st.integers(min_value=1, max_value=900), max_size=40),
    st.sampled_from([" ", "\n"]),
    st.integers(min_value=1, max_value=3),
)
def test_a_capped_answer_takes_no_more_messages_than_allowed(lengths, joiner, allowed):
    lines = tuple(Line("x" * length) for length in lengths)
    kept = capped(lines, joiner, messages=allowed)
    assert len(messages(Reply(1, 2, kept, joiner))) <= allowed
    if kept == lines:  # nothing left out: it needed no more than allowed
        assert len(messages(Reply(1, 2, lines, joiner))) <= allowed
