"""The reply task as the one-process default runs it: inline, the same code the workers run.

Inline, the task hands the reply over to the courier's threads and returns; tests wait for the post.
"""

import logging
import re

import pytest

from botgateway import tasks
from botgateway.tasks import send_reply
from karma.message import Line, Reply
from karma.models import Karma
from karma.tasks import handle_messages
from testkit.messages import chat

CHANNEL, MESSAGE = 10, 20


def payload(text="hi", reaction=None):
    return Reply(CHANNEL, MESSAGE, (Line(text),), reaction=reaction).to_payload()


def test_a_reply_is_posted_without_pinging_anyone(discord):
    send_reply.apply(args=(payload("(@everyone) has 1 karma.", reaction="\N{WHITE HEAVY CHECK MARK}"),))
    assert discord.wait_until(lambda: discord.reactions_to(MESSAGE))
    assert discord.replies_to(MESSAGE) == ["(@everyone) has 1 karma."]
    assert discord.messages[0].allowed_mentions == {"parse": []}
    assert discord.reactions_to(MESSAGE) == ["\N{WHITE HEAVY CHECK MARK}"]


def test_server_errors_and_rate_limits_hold_the_reply_until_discord_takes_it(discord):
    discord.fail_rest((502, 429), seconds=1.5, retry_after=0.5)
    result = send_reply.apply(args=(payload(),))
    assert result.state == "SUCCESS"  # the task is done: the reply is held, not waited for
    assert discord.wait_until(lambda: discord.replies_to(MESSAGE), timeout=15)
    assert discord.replies_to(MESSAGE) == ["hi"]
    assert {status for _, _, status in discord.rest_log} >= {200}


def test_permanent_discord_errors_drop_the_reply(discord, caplog):
    discord.fail_rest(403, seconds=5)
    dropped = f"reply to message {MESSAGE} in channel {CHANNEL} dropped: Discord answered 403"
    with caplog.at_level(logging.WARNING):
        result = send_reply.apply(args=(payload(),))
        assert discord.wait_until(lambda: dropped in caplog.text)
    assert result.state == "SUCCESS"
    assert discord.messages == []


@pytest.mark.parametrize(
    "args, kwargs, problem",
    [
        (("x has 1 karma.",), {}, "payload must be an object, not str"),
        (({**payload(), "lines": "abc"},), {}, "lines must be a list"),
        ((payload(), "extra"), {}, "the task takes exactly one argument"),
        ((), {}, "payload must be an object, not NoneType"),
    ],
)
def test_malformed_replies_are_rejected_with_one_line(discord, caplog, args, kwargs, problem):
    with caplog.at_level(logging.ERROR):
        result = send_reply.apply(args=args, kwargs=kwargs)
    assert result.state == "REJECTED"
    assert problem in caplog.text
    assert discord.rest_log == []


def test_answers_and_announcements_are_routed_to_their_own_queues():
    from poppleproject.celery import app

    def queue(name):
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("karma.send_answer") == "answers"
    assert queue("karma.send_reply") == queue("karma.send_replies") == "replies"
    assert queue("karma.complete_interaction") == queue("karma.apply_roles") == "replies"  # as before


def test_a_redelivered_group_goes_on_alone_each_by_its_own_queue(monkeypatch):
    # As an older karma worker may have grouped them: an announcement, an answer, a reaction.
    from types import SimpleNamespace

    from karma import tasks
    from karma.tasks import alone_if_redelivered, reply_task

    published = []
    monkeypatch.setattr(tasks, "publish", lambda name, payload: published.append((name, payload["message_id"])))
    replies = [
        Reply(CHANNEL, 1, (Line("x has 1 karma.", "x", 1),)),
        Reply(CHANNEL, 2, (Line("x has 1 karma.", "x", 1), Line("You can't give yourself karma."))),
        Reply(CHANNEL, 3, reaction="\N{WHITE HEAVY CHECK MARK}"),
    ]
    task = SimpleNamespace(request=SimpleNamespace(id="t", delivery_info={"redelivered": True}))
    assert alone_if_redelivered(task, replies, reply_task)
    assert published == [("karma.send_reply", 1), ("karma.send_answer", 2), ("karma.send_answer", 3)]
    task.request.delivery_info = {"redelivered": False}
    assert not alone_if_redelivered(task, replies, reply_task)  # the first time: together, as sent


@pytest.mark.django_db
def test_inline_a_reply_task_that_fails_is_logged_and_the_message_stays_applied(discord, caplog, monkeypatch):
    def deliver(reply):
        raise RuntimeError("a bug on the reply side")

    monkeypatch.setattr(tasks, "deliver", deliver)
    messages = [chat("x++", guild_id=7), chat("y++", guild_id=9)]
    with caplog.at_level(logging.ERROR):
        result = handle_messages.apply(args=([message.to_payload() for message in messages],))
    assert result.state == "SUCCESS"  # not retried: the messages are applied
    failures = [r.getMessage() for r in caplog.records if r.name == "botgateway.tasks"]
    assert len(failures) == 2  # each reply alone, as in a worker, logged with its task's id
    assert all(re.fullmatch(r"task [0-9a-f-]{36}: a reply failed", failure) for failure in failures)
    assert "RuntimeError: a bug on the reply side" in caplog.text
    assert dict(Karma.objects.values_list("subject", "karma")) == {"x": 1, "y": 1}
