import pytest

from karma.message import IncomingMessage
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
