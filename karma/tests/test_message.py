import time

import pytest

from karma.message import Deletion, IncomingMessage
from testkit.messages import chat


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


def test_a_message_from_a_gateway_older_than_its_times_is_kept_without_them():
    """Payloads queued by a gateway older than sent_at and reply_id (a rolling upgrade) still parse."""
    payload = chat("hi++", edited=int(time.time() * 1_000_000)).to_payload()
    del payload["sent_at"], payload["reply_id"]
    message = IncomingMessage.from_payload(payload)
    assert (message.sent_at, message.reply_id) == (0.0, 0)
    older = Deletion(1, 2, [3, 4], 1_700_000_000.5).to_payload()
    del older["sent_at"]
    assert Deletion.from_payload(older).sent_times() == {}


def test_the_times_a_gateway_gives_are_checked():
    message = chat("hi++").to_payload()
    for change, error in [
        ({"sent_at": float("nan")}, "sent_at must be a time"),
        ({"sent_at": -1.0}, "sent_at must be a time"),
        ({"sent_at": "now"}, "sent_at is not a valid float"),
        ({"reply_id": 2**63}, "reply_id is not a valid id"),
    ]:
        with pytest.raises(ValueError, match=error):
            IncomingMessage.from_payload({**message, **change})
    deletion = Deletion(1, 2, [3, 4], 1_700_000_000.5, sent_at=[1_699_999_999.0, 1_700_000_000.0])
    assert Deletion.from_payload(deletion.to_payload()) == deletion
    assert deletion.sent_times() == {3: 1_699_999_999.0, 4: 1_700_000_000.0}
    for sent in ([1.0], [1.0, "x"], [1.0, float("inf")]):
        with pytest.raises(ValueError, match="sent_at must give the time each deleted message was sent"):
            Deletion.from_payload({**deletion.to_payload(), "sent_at": sent})
