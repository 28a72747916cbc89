import pytest

from karma.message import Line, Reply
from karma.replies import has_karma, shown


def test_reply_payload_round_trip():
    original = Reply(5, 6, (Line("x has 1 karma.", "x", 3), Line("note")), "\n", "\N{WHITE HEAVY CHECK MARK}")
    assert Reply.from_payload(original.to_payload()) == original
    made = Reply(5, 6, (Line("x has 1 karma.", "x", 3),), made_at=1764849600.25)
    assert Reply.from_payload(made.to_payload()) == made


def test_a_reply_payload_from_before_made_at_or_with_a_whole_number_is_read():
    payload = Reply(5, 6, (Line("x has 1 karma.", "x", 3),), made_at=2.5).to_payload()
    assert Reply.from_payload({**payload, "made_at": 3}).made_at == 3.0  # JSON's 3, not 3.0
    del payload["made_at"]
    assert Reply.from_payload(payload).made_at == 0.0  # queued by an older karma worker: not known


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
        (lambda p: p.update(made_at="now"), "made_at is not a valid float"),
        (lambda p: p.update(made_at=True), "made_at is not a valid float"),
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
