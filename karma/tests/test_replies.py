import discord.utils
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karma.replies import Response, escape_markdown, has_karma, shown


def test_chunks_split_between_units_only():
    lines = tuple(f"name{i:03} has {i} karma." for i in range(300))
    chunks = Response(lines=lines).chunks()
    assert len(chunks) > 1
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert " ".join(chunks) == " ".join(lines)
    assert all(chunk.endswith("karma.") for chunk in chunks)


def test_lines_are_split_at_line_breaks():
    lines = tuple(f"* {'x' * 120} has 1 karma." for _ in range(40))
    chunks = Response(lines=lines, joiner="\n").chunks()
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert [line for chunk in chunks for line in chunk.split("\n")] == list(lines)


def test_short_reply_is_one_chunk():
    assert Response(lines=("a has 1 karma.", "b has 2 karma.")).chunks() == ["a has 1 karma. b has 2 karma."]
    assert Response(reaction="x").chunks() == []


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
        ("\u202eevil", "\u2068\u202eevil\u2069"),
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
