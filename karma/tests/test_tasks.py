"""The tasks as the one-process default runs them: inline, the same code the workers run."""

import logging

import pytest

from karma.models import Karma
from karma.replies import QUESTION
from karma.tasks import handle_message
from testkit.messages import chat

pytestmark = pytest.mark.django_db


def test_message_is_applied_and_answered(sent):
    message = chat("x++ x++ y--", guild_id=7)
    handle_message.delay(message.to_payload())
    assert sent.deliveries == [(70, message.message_id, ["x has 2 karma. y has -1 karma."], None)]
    assert Karma.objects.get(guild_id=7, subject="x").karma == 2


def test_redelivered_message_changes_nothing_and_answers_the_same(sent):
    message = chat("x++", guild_id=7)
    handle_message.delay(message.to_payload())
    handle_message.delay(chat("x++", guild_id=7).to_payload())
    handle_message.delay(message.to_payload())
    assert [d[2] for d in sent.deliveries] == [["x has 1 karma."], ["x has 2 karma."], ["x has 1 karma."]]
    assert Karma.objects.get(guild_id=7, subject="x").karma == 2


def test_no_change_no_reply(sent):
    handle_message.delay(chat("nothing to see", guild_id=7).to_payload())
    assert sent.deliveries == []


def test_reaction_only(sent):
    message = chat("@Popple karma", guild_id=7)
    handle_message.delay(message.to_payload())
    assert sent.deliveries == [(70, message.message_id, [], QUESTION)]


def test_long_reply_is_split_for_discord(sent):
    names = " ".join(f"({'n' * 100}{i:03})++" for i in range(40))
    handle_message.delay(chat(names, guild_id=8).to_payload())
    [(_, _, chunks, _)] = sent.deliveries
    assert len(chunks) == 3
    assert all(len(chunk) <= 2000 for chunk in chunks)


def test_malformed_payload_is_rejected_with_one_log_line(sent, caplog):
    with caplog.at_level(logging.ERROR):
        result = handle_message.apply(args=({"content": "x++"},))
    assert result.state == "REJECTED"
    assert [r.getMessage() for r in caplog.records if r.name == "karma.tasks"] == [
        f"rejected malformed message payload (task {result.id}): payload has no guild_id"
    ]
    assert sent.deliveries == []
    assert not Karma.objects.exists()


@pytest.mark.parametrize(
    "args, kwargs, problem",
    [
        ((), {}, "payload must be an object, not NoneType"),
        (({}, "extra"), {}, "the task takes exactly one argument"),
        (({},), {"surprise": 1}, "the task takes exactly one argument"),
        (("not a dict",), {}, "payload must be an object, not str"),
    ],
)
def test_wrongly_called_task_is_rejected_too(sent, caplog, args, kwargs, problem):
    with caplog.at_level(logging.ERROR):
        result = handle_message.apply(args=args, kwargs=kwargs)
    assert result.state == "REJECTED"
    assert problem in caplog.text
    assert sent.deliveries == []
