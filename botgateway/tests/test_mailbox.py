"""Held replies and the channel lease, the same in memory and in Redis."""

import time

import pytest

from botgateway.mailbox import MEMORY_SINCE, Held, MemoryMailbox, RedisMailbox
from botgateway.tests.conftest import PREFIX
from karma.message import Line, Reply

CHANNEL = 42


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def mailbox(request):
    if request.param == "memory":
        return MemoryMailbox()
    return RedisMailbox(request.getfixturevalue("shared_redis"), PREFIX)


def reply(message_id, text="x has 1 karma."):
    return Reply(CHANNEL, message_id, (Line(text, "x", message_id),))


def post_of(message_id, said=None):
    return {"kind": "text", "content": "x", "nonce": f"{message_id}.0", "message_id": message_id,
            "covers": {str(message_id): [0]}, "reaction_of": None, "said": said or {}}  # fmt: skip


def held_ids(mailbox, token):
    return [entry.message_id for entry in mailbox.state(CHANNEL, token).held]


def test_an_idle_channel_hands_its_reply_over_and_holds_those_that_come_meanwhile(mailbox):
    token, held, _ = mailbox.add(reply(1))
    assert token is not None
    assert held is False  # nothing held, lease free: the new holder posts it at once
    assert mailbox.add(reply(2)) == (None, True, {})  # the holder is busy: held for it
    assert mailbox.add(reply(2)) == (None, True, {})  # held once, however often it comes
    assert held_ids(mailbox, token) == [2]


def test_a_reply_posted_is_not_held_again(mailbox):
    token, _, _ = mailbox.add(reply(1))
    mailbox.add(reply(2))
    state = mailbox.state(CHANNEL, token)
    assert mailbox.commit(CHANNEL, token, post_of(2), state)
    assert mailbox.finish(CHANNEL, token) is False  # nothing left: the lease is given back
    token, held, _ = mailbox.add(reply(3))
    assert held is False  # goes straight to a new holder
    assert mailbox.add(reply(2)) == (None, True, {})  # the posted reply, delivered again (a redelivered task)
    assert held_ids(mailbox, token) == []


def subjects_in(said):
    return {subject: version for subject, version in said.items() if subject != MEMORY_SINCE}


def test_a_channel_remembers_what_it_was_told_of_each_subject(mailbox):
    token, _, said = mailbox.add(reply(1))
    assert said == {}  # told nothing yet, and remembers nothing
    mailbox.add(reply(2))
    state = mailbox.state(CHANNEL, token)
    before = time.time() * 1000
    mailbox.commit(CHANNEL, token, post_of(2, said={"x": 2}), state)
    assert mailbox.finish(CHANNEL, token) is False
    # A late reply about x learns what the channel was told of x, whoever posted it, and since when
    # the channel remembers every post.
    token, held, said = mailbox.add(reply(1))
    assert (held, subjects_in(said)) == (False, {"x": 2})
    since = said[MEMORY_SINCE]
    assert before - 1000 <= since <= time.time() * 1000 + 1000
    # A post made without holding the reply (Courier.deliver) is remembered as it gives the lease back.
    assert mailbox.finish(CHANNEL, token, said={"x": 3}) is False
    assert mailbox.add(reply(4))[2] == {"x": 3, MEMORY_SINCE: since}


def test_a_post_whose_lease_ran_out_begins_the_memory_again(mailbox):
    token, _, _ = mailbox.add(reply(1))
    mailbox.finish(CHANNEL, token, said={"x": 1})
    since = mailbox.add(reply(2))[2][MEMORY_SINCE]
    time.sleep(0.01)
    # A holder that stalled past its lease made a post it can no longer note: the memory no longer
    # knows everything that was said since it began.
    mailbox.give_back(CHANNEL, "not-the-lease", said={"x": 5})
    said = mailbox.add(reply(3))[2]
    assert said["x"] == 1  # what the stalled holder said is not noted
    assert said[MEMORY_SINCE] > since


def test_two_bots_sharing_redis_keep_apart(shared_redis):
    ours, theirs = RedisMailbox(shared_redis, "popple:1:"), RedisMailbox(shared_redis, "popple:2:")
    token, _, _ = ours.add(reply(1))
    ours.finish(CHANNEL, token, said={"x": 9})
    assert subjects_in(ours.add(reply(2))[2]) == {"x": 9}
    assert theirs.add(reply(2))[1:] == (False, {})  # the other bot's channel is idle and told nothing


def test_a_holder_whose_lease_ran_out_changes_nothing(mailbox):
    stalled, _, _ = mailbox.add(reply(1))
    assert mailbox.hold(CHANNEL, stalled, Held.of(reply(1)))
    state = mailbox.state(CHANNEL, stalled)
    mailbox.give_back(CHANNEL, stalled)  # as if its lease had run out
    other = mailbox.lease(CHANNEL)
    assert mailbox.state(CHANNEL, stalled) is None
    assert not mailbox.set_intent(CHANNEL, stalled, post_of(1))
    assert not mailbox.commit(CHANNEL, stalled, post_of(1), state)
    assert not mailbox.hold(CHANNEL, stalled, Held.of(reply(5)))
    assert held_ids(mailbox, other) == [1]


def test_finish_keeps_the_lease_while_replies_remain(mailbox):
    token, _, _ = mailbox.add(reply(1))
    mailbox.add(reply(2))
    mailbox.add(reply(3))
    state = mailbox.state(CHANNEL, token)
    mailbox.commit(CHANNEL, token, post_of(2), state)
    assert mailbox.finish(CHANNEL, token) is True
    assert held_ids(mailbox, token) == [3]


def test_a_held_channel_is_due_until_claimed_and_again_when_given_back(mailbox):
    token, _, _ = mailbox.add(reply(1))
    mailbox.add(reply(2))
    assert mailbox.claim_due() == [CHANNEL]
    assert mailbox.claim_due() == []  # claimed: pushed a lease's length ahead
    mailbox.give_back(CHANNEL, token, due_in=0)
    assert mailbox.claim_due() == [CHANNEL]


def test_a_poller_learns_how_long_it_may_sleep(mailbox):
    assert mailbox.claim_due_next() == ([], None)  # nothing held: until the idle limit
    token, _, _ = mailbox.add(reply(1))
    mailbox.add(reply(2))  # held: the channel is due now
    mailbox.give_back(CHANNEL, token, due_in=3)  # its bucket refills in 3 s
    claimed, following = mailbox.claim_due_next()
    assert claimed == []
    assert 2.5 < following <= 3
    again = mailbox.lease(CHANNEL)  # someone takes it on, and gives it back due at once
    mailbox.give_back(CHANNEL, again, due_in=0)
    claimed, following = mailbox.claim_due_next()
    assert claimed == [CHANNEL]
    assert following > 3  # claimed: a lease's length ahead


def test_a_busy_channel_holds_every_announcement(mailbox):
    """No cap on one channel: the newest announcement, the final value, is never the one left out
    (botgateway/delivery.py merges what a burst piles up)."""
    token, _, _ = mailbox.add(reply(1))  # the channel's lease: reply 1 is its holder's to post
    assert all(mailbox.add(reply(n))[:2] == (None, True) for n in range(2, 300))
    assert len(held_ids(mailbox, token)) == 298


def test_a_mailbox_holding_for_many_channels_takes_no_new_one(mailbox, monkeypatch):
    monkeypatch.setattr("botgateway.mailbox.HELD_CHANNELS", 1)
    first, other = reply(1), Reply(CHANNEL + 1, 2, (Line("y has 1 karma.", "y", 1),))
    mailbox.add(first)
    assert mailbox.add(reply(3))[:2] == (None, True)  # channel 42 holds: it is due
    mailbox.lease(CHANNEL + 1)  # the other channel is busy, so its announcement would be held
    assert mailbox.add(other)[:2] == (None, False)  # but one channel holds already: dropped
    answer = Reply(CHANNEL + 1, 4, (Line("y has 1 karma."),))  # answers a command: no subject
    assert mailbox.add(answer)[:2] == (None, True)  # always held
