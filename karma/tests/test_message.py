import time

import pytest

from karma.message import Deletion, IncomingMessage, edit_reply_id, sent_at
from testkit.messages import chat, snowflake


def test_payload_round_trip():
    message = chat("hi++", mentions={"1": "a"})
    assert IncomingMessage.from_payload(message.to_payload()) == message


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda p: p.pop("guild_id"), "payload has no guild_id"),
        (lambda p: p.update(guild_id="1"), "guild_id is not a valid int"),
        (lambda p: p.update(guild_id=True), "guild_id is not a valid int"),
        (lambda p: p.update(message_id=-5), "message_id is not a valid int"),
        (lambda p: p.update(content=None), "content is not a valid str"),
        (lambda p: p.update(can_manage="yes"), "can_manage is not a valid bool"),
        (lambda p: p.update(mentions={"1": 2}), "mentions must map user ids to names"),
        (lambda p: p.update(edited=-1), "edited is not a valid int"),
        (lambda p: p.update(edited=2**62), "edited is not a valid time"),
        (lambda p: p.update(message_forwarded=1), "message_forwarded is not a valid bool"),
    ],
)
def test_malformed_payloads_are_refused_with_the_field_named(change, error):
    payload = chat("hi++").to_payload()
    change(payload)
    with pytest.raises(ValueError, match=error):
        IncomingMessage.from_payload(payload)


@pytest.mark.parametrize("payload", [None, [], "text", 5])
def test_payload_must_be_an_object(payload):
    with pytest.raises(ValueError, match="payload must be an object"):
        IncomingMessage.from_payload(payload)


def test_a_payload_from_before_edits_is_the_message_as_sent():
    payload = chat("hi++").to_payload()
    del payload["edited"]
    assert IncomingMessage.from_payload(payload).edited == 0


def test_an_edit_from_a_gateway_older_than_message_forwarded_may_wait_for_its_message():
    payload = chat("hi++", edited=int(time.time() * 1_000_000)).to_payload()
    del payload["message_forwarded"]
    assert IncomingMessage.from_payload(payload).message_forwarded


def test_a_deletion_round_trip_and_its_checks():
    deletion = Deletion(1, 2, [3, 4], 1_700_000_000.5)
    assert Deletion.from_payload(deletion.to_payload()) == deletion
    partly = Deletion(1, 2, [3, 4], 1_700_000_000.5, not_forwarded=[4])
    assert Deletion.from_payload(partly.to_payload()) == partly
    older = deletion.to_payload()
    del older["not_forwarded"]  # from a gateway older than the field
    assert Deletion.from_payload(older) == deletion
    assert Deletion.is_one(deletion.to_payload())
    assert not Deletion.is_one(chat("x++").to_payload())
    for change, error in [
        ({"deleted": []}, "deleted must list 1 to 100 messages"),
        ({"deleted": list(range(1, 102))}, "deleted must list 1 to 100 messages"),
        ({"deleted": [True]}, "deleted must hold message ids"),
        ({"deleted": "3"}, "deleted is not a valid list"),
        ({"at": float("nan")}, "at must be a time"),
        ({"guild_id": None}, "guild_id is not a valid int"),
        ({"not_forwarded": [5]}, "not_forwarded must hold ids of deleted messages"),
        ({"not_forwarded": [{}]}, "not_forwarded must hold ids of deleted messages"),
        ({"not_forwarded": 3}, "not_forwarded is not a valid list"),
    ]:
        with pytest.raises(ValueError, match=error):
            Deletion.from_payload({**deletion.to_payload(), **change})


def test_an_edits_reply_id_sorts_at_the_edit_and_differs_per_edit():
    message_id = snowflake(seconds_ago=60)
    assert abs(sent_at(message_id) - (time.time() - 60)) < 5
    now = int(time.time() * 1_000_000)
    first, second = edit_reply_id(message_id, now), edit_reply_id(message_id, now + 1000)
    assert message_id < first < second
    assert abs(sent_at(first) - now / 1e6) < 0.001
