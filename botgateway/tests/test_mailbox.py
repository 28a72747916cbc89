"""Held replies and the channel lease, the same in memory and in Redis."""

import pytest

from botgateway.mailbox import MemoryMailbox, RedisMailbox
from karma.message import Line, Reply

CHANNEL = 42


@pytest.fixture(params=["memory", "redis"])
def mailbox(request):
    if request.param == "memory":
        return MemoryMailbox()
    return RedisMailbox(request.getfixturevalue("shared_redis"))


def reply(message_id, text="x has 1 karma."):
    return Reply(CHANNEL, message_id, (Line(text, "x", message_id),))


def post_of(message_id):
    return {"kind": "text", "content": "x", "nonce": f"{message_id}.0", "message_id": message_id,
            "covers": {str(message_id): [0]}, "reaction_of": None}  # fmt: skip


def test_a_reply_is_held_once_and_never_again_once_posted(mailbox):
    token = mailbox.add(reply(1))
    assert token is not None
    assert mailbox.add(reply(1)) is None  # the lease is taken; the reply is held once
    state = mailbox.state(CHANNEL, token)
    assert [entry.message_id for entry in state.held] == [1]
    assert mailbox.commit(CHANNEL, token, post_of(1), state)
    assert mailbox.finish(CHANNEL, token) is False  # nothing left: the lease is given back
    token = mailbox.add(reply(1))  # the same reply delivered again (a redelivered task)
    assert mailbox.state(CHANNEL, token).held == []


def test_a_holder_whose_lease_ran_out_changes_nothing(mailbox):
    stalled = mailbox.add(reply(1))
    state = mailbox.state(CHANNEL, stalled)
    mailbox.give_back(CHANNEL, stalled)  # as if its lease had run out
    other = mailbox.lease(CHANNEL)
    assert mailbox.state(CHANNEL, stalled) is None
    assert not mailbox.set_intent(CHANNEL, stalled, post_of(1))
    assert not mailbox.commit(CHANNEL, stalled, post_of(1), state)
    assert [entry.message_id for entry in mailbox.state(CHANNEL, other).held] == [1]


def test_finish_keeps_the_lease_while_replies_remain(mailbox):
    token = mailbox.add(reply(1))
    mailbox.add(reply(2))
    state = mailbox.state(CHANNEL, token)
    mailbox.commit(CHANNEL, token, post_of(1), state)
    assert mailbox.finish(CHANNEL, token) is True
    assert [entry.message_id for entry in mailbox.state(CHANNEL, token).held] == [2]


def test_a_held_channel_is_due_until_claimed_and_again_when_given_back(mailbox):
    token = mailbox.add(reply(1))
    assert mailbox.claim_due() == [CHANNEL]
    assert mailbox.claim_due() == []  # claimed: pushed a lease's length ahead
    mailbox.give_back(CHANNEL, token, due_in=0)
    assert mailbox.claim_due() == [CHANNEL]
