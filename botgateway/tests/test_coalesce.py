"""Which request comes next for a channel's held replies: each alone while the bucket allows, else merged."""

from botgateway.coalesce import REACTION, TEXT, kind_of, next_post
from botgateway.mailbox import Held
from karma.message import Line, Reply


def held(message_id, *lines, joiner=" ", reaction=None):
    return Held.of(Reply(1, message_id, tuple(Line(*line) for line in lines), joiner, reaction))


HOT = [held(10 + n, (f"hot has {n} karma.", "hot", n)) for n in range(1, 7)]


def test_each_reply_alone_while_the_bucket_can_carry_them_all():
    post = next_post(HOT, spare=5)
    assert post["content"] == "hot has 1 karma."
    assert post["covers"] == {"11": [0]}
    assert post["nonce"] == "11.0"


def test_merged_when_it_cannot_and_each_subject_said_once_with_its_latest_value():
    replies = [
        held(1, ("a has 1 karma.", "a", 1), ("b has 1 karma.", "b", 1)),
        held(2, ("* a has 1 karma.",), ("* b has 1 karma.",), joiner="\n"),  # a board: never merged away
        held(3, ("b has 3 karma.", "b", 3)),
        held(4, ("b has 2 karma.", "b", 2)),  # applied before 3, delivered after it: not the latest
    ]
    post = next_post(replies, spare=0)
    assert post["content"] == "a has 1 karma.\n* a has 1 karma.\n* b has 1 karma.\nb has 3 karma."
    assert post["covers"] == {"1": [0, 1], "2": [0, 1], "3": [0], "4": [0]}
    assert post["nonce"] == "1.0"


def test_a_burst_becomes_one_message():
    post = next_post(HOT, spare=0)
    assert post["content"] == "hot has 6 karma."
    assert sorted(post["covers"]) == [str(10 + n) for n in range(1, 7)]


def test_merged_text_is_split_between_lines_at_discords_limit():
    replies = [held(n, (f"{'n' * 100}{n:02} has 1 karma.", f"{n}", 1)) for n in range(40)]
    post = next_post(replies, spare=0)
    assert len(post["content"]) <= 2000
    assert post["content"].count("\n") + 1 == len(post["covers"])
    assert post["content"].startswith(f"{'n' * 100}00 has 1 karma.\n")


def test_reactions_go_after_the_text():
    replies = [held(1, reaction="❓"), held(2, ("x has 1 karma.", "x", 1), reaction="✅")]
    assert kind_of(replies) == TEXT
    assert next_post(replies, spare=5)["content"] == "x has 1 karma."
    after_text = [held(1, reaction="❓"), held(2, reaction="✅")]
    assert kind_of(after_text) == REACTION
    post = next_post(after_text, spare=5)
    assert (post["kind"], post["message_id"], post["emoji"], post["reaction_of"]) == (REACTION, 1, "❓", 1)
    assert kind_of([]) is None
