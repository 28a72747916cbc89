"""The karma task as the one-process default runs it: inline, the same code the workers run.

Its answers go through the reply task and the courier to the fake Discord, over the wire. Inline,
the reply task hands a reply over to the courier's threads and returns: tests wait for the post.
"""

import logging

import pytest
from django.db import OperationalError, connection

from karma import tasks
from karma.ledger import writes
from karma.message import Line, Reply
from karma.models import Karma, MessageVersion
from karma.replies import QUESTION
from karma.tasks import handle_message, handle_messages
from testkit.messages import chat

pytestmark = pytest.mark.django_db


def test_message_is_applied_and_answered(discord):
    message = chat("x++ x++ y--", guild_id=7)
    handle_message.delay(message.to_payload())
    assert discord.wait_until(lambda: discord.replies_to(message.message_id))
    assert discord.replies_to(message.message_id) == ["x has 2 karma. y has -1 karma."]
    assert [m.channel_id for m in discord.messages] == [70]
    assert Karma.objects.get(guild_id=7, subject="x").karma == 2


def test_redelivered_message_changes_nothing_and_says_nothing_older(discord):
    first, second, third = chat("x++", guild_id=7), chat("x++", guild_id=7), chat("y++", guild_id=7)
    for count, message in enumerate((first, second), start=1):
        handle_message.delay(message.to_payload())
        assert discord.wait_until(lambda count=count: len(discord.rest_log) == count)  # one post each, in order
    handle_message.delay(first.to_payload())  # redelivered, after its channel was told x has 2
    handle_message.delay(third.to_payload())
    assert discord.wait_until(lambda: discord.replies_to(third.message_id))
    assert discord.replies_to(first.message_id) == ["x has 1 karma."]  # once: 1 is older than what was said
    assert discord.replies_to(second.message_id) == ["x has 2 karma."]
    assert [m.content for m in discord.messages] == ["x has 1 karma.", "x has 2 karma.", "y has 1 karma."]
    assert Karma.objects.get(guild_id=7, subject="x").karma == 2


def test_no_change_no_reply(discord):
    handle_message.delay(chat("nothing to see", guild_id=7).to_payload())
    assert discord.rest_log == []


def test_reaction_only(discord):
    message = chat("@Popple karma", guild_id=7)
    handle_message.delay(message.to_payload())
    assert discord.wait_until(lambda: discord.reactions_to(message.message_id))
    assert discord.reactions_to(message.message_id) == [QUESTION]
    assert discord.messages == []


def test_long_reply_is_split_for_discord_and_capped(discord):
    names = " ".join(f"({'n' * 100}{i:03})++" for i in range(40))
    message = chat(names, guild_id=8)
    handle_message.delay(message.to_payload())
    assert discord.wait_until(lambda: len(discord.replies_to(message.message_id)) == 2)
    parts = discord.replies_to(message.message_id)
    assert len(parts) == 2
    assert all(len(part) <= 2000 for part in parts)
    assert parts[-1].endswith("(Only the first 20 names in a message count.)")


def test_malformed_payload_is_rejected_with_one_log_line(discord, caplog):
    with caplog.at_level(logging.ERROR):
        result = handle_message.apply(args=({"content": "x++"},))
    assert result.state == "REJECTED"
    assert [r.getMessage() for r in caplog.records if r.name == "karma.tasks"] == [
        f"rejected malformed message payload (task {result.id}): payload has no guild_id"
    ]
    assert discord.rest_log == []
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
def test_wrongly_called_task_is_rejected_too(discord, caplog, args, kwargs, problem):
    with caplog.at_level(logging.ERROR):
        result = handle_message.apply(args=args, kwargs=kwargs)
    assert result.state == "REJECTED"
    assert problem in caplog.text
    assert discord.rest_log == []


def test_messages_that_waited_together_are_applied_and_answered_each(discord):
    # Several chat messages in one task (a backlog in the gateway's outbox): each answered, in its
    # channel (channels post independently, and a busy one may merge its replies); the fourth,
    # which changes nothing, is not.
    messages = [chat("x++", guild_id=7), chat("x++ y++", guild_id=7), chat("z--", guild_id=9), chat("hi", guild_id=7)]
    handle_messages.delay([message.to_payload() for message in messages])
    assert discord.wait_until(
        lambda: discord.replies_to(messages[1].message_id) and discord.replies_to(messages[2].message_id)
    )
    assert discord.replies_to(messages[1].message_id) == ["x has 2 karma. y has 1 karma."]
    assert discord.replies_to(messages[2].message_id) == ["z has -1 karma."]
    assert discord.replies_to(messages[3].message_id) == []
    assert {m.channel_id for m in discord.messages} == {70, 90}
    assert Karma.objects.get(guild_id=7, subject="x").karma == 2


def test_a_malformed_message_among_others_is_skipped_with_one_log_line(discord, caplog):
    good = chat("x++", guild_id=7)
    with caplog.at_level(logging.ERROR):
        result = handle_messages.apply(args=([{"content": "x++"}, good.to_payload()],))
    assert result.state == "SUCCESS"
    assert [r.getMessage() for r in caplog.records if r.name == "karma.tasks"] == [
        f"skipped a malformed message payload (task {result.id}): payload has no guild_id"
    ]
    assert discord.wait_until(lambda: discord.replies_to(good.message_id) == ["x has 1 karma."])


@pytest.mark.parametrize("payloads", [None, [], {"content": "x++"}, "x++"])
def test_messages_that_are_no_list_are_rejected(discord, caplog, payloads):
    with caplog.at_level(logging.ERROR):
        result = handle_messages.apply(args=(payloads,))
    assert result.state == "REJECTED"
    assert "the payload must be a non-empty list" in caplog.text
    assert not Karma.objects.exists()


def failing(monkeypatch, content, error, times):
    """Make the karma task's `respond` raise `error` for a message saying `content`, `times` times;
    returns the messages it failed."""
    failed = []

    def respond(message, respond=tasks.respond):
        if message.content == content and len(failed) < times:
            failed.append(message)
            raise error
        return respond(message)

    monkeypatch.setattr(tasks, "respond", respond)
    return failed


def test_a_message_that_fails_among_others_costs_only_itself(discord, caplog, monkeypatch):
    # As a task of its own would: logged with its traceback, not tried again; the others applied.
    messages = [chat("x++", guild_id=7), chat("broken++", guild_id=7), chat("y++", guild_id=7)]
    failing(monkeypatch, "broken++", RuntimeError("a bug"), times=1)
    with caplog.at_level(logging.ERROR):
        result = handle_messages.apply(args=([message.to_payload() for message in messages],))
    assert result.state == "SUCCESS"
    [failure] = [r for r in caplog.records if r.name == "karma.tasks"]
    assert failure.getMessage() == f"task {result.id}: a message failed"
    assert "RuntimeError: a bug" in caplog.text
    assert discord.wait_until(lambda: discord.replies_to(messages[2].message_id))
    assert sorted(Karma.objects.filter(guild_id=7).values_list("subject", flat=True)) == ["x", "y"]


@pytest.mark.django_db(transaction=True)  # real commits: no test transaction around the task
def test_a_group_commits_once_on_sqlite_and_a_message_failing_after_its_changes_leaves_nothing(discord, monkeypatch):
    # One commit for the group (writes.together); each message's work in a savepoint, so one that
    # fails after its karma was applied rolls back alone. (Elsewhere each message commits alone.)
    messages = [chat("x++", guild_id=7), chat("broken++", guild_id=7), chat("y++", guild_id=7)]

    def respond(message, respond=tasks.respond):
        reply = respond(message)
        if message.content == "broken++":
            raise RuntimeError("a bug after applying")
        return reply

    monkeypatch.setattr(tasks, "respond", respond)
    commits = []
    monkeypatch.setattr(connection, "commit", lambda commit=connection.commit: commits.append(1) or commit())
    result = handle_messages.apply(args=([message.to_payload() for message in messages],))
    assert result.state == "SUCCESS"
    assert discord.wait_until(lambda: discord.replies_to(messages[2].message_id))
    assert dict(Karma.objects.filter(guild_id=7).values_list("subject", "karma")) == {"x": 1, "y": 1}
    assert len(commits) == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_that_fails_after_writing_leaves_nothing_and_the_others_commit(discord, monkeypatch):
    # Its karma row was written when its ledger rows failed: rolled back alone (on SQLite, to its
    # savepoint in the group's transaction).
    messages = [chat("x++", guild_id=7), chat("broken++", guild_id=7), chat("y++", guild_id=7)]

    def record(cursor, origin, changes, *args, record=writes._record):
        if changes[0][0] == "broken":
            raise RuntimeError("a bug")
        return record(cursor, origin, changes, *args)

    monkeypatch.setattr(writes, "_record", record)
    result = handle_messages.apply(args=([message.to_payload() for message in messages],))
    assert result.state == "SUCCESS"
    assert discord.wait_until(lambda: discord.replies_to(messages[2].message_id))
    assert dict(Karma.objects.filter(guild_id=7).values_list("subject", "karma")) == {"x": 1, "y": 1}
    assert not MessageVersion.objects.filter(message_id=messages[1].message_id).exists()


@pytest.mark.django_db(transaction=True)  # real commits: no test transaction around the task
def test_replies_are_handed_over_once_the_group_committed(discord, monkeypatch):
    committed = []

    def publish(name, payload, publish=tasks.publish):
        committed.append(not connection.in_atomic_block)
        publish(name, payload)

    monkeypatch.setattr(tasks, "publish", publish)
    messages = [chat("x++", guild_id=7), chat("y++", guild_id=9)]
    handle_messages.apply(args=([message.to_payload() for message in messages],))
    assert committed == [True]  # one task for both announcements, after the commit


def test_a_database_error_retries_the_whole_task(discord, caplog, monkeypatch):
    messages = [chat("x++", guild_id=7), chat("y++", guild_id=7)]
    failures = failing(monkeypatch, "y++", OperationalError("the database went away"), times=1)
    with caplog.at_level(logging.INFO):
        result = handle_messages.apply(args=([message.to_payload() for message in messages],))
    # Inline, Celery runs the retry at once, and y is applied. On SQLite the group was one
    # transaction (writes.together), rolled back whole: x is applied by the retry. Elsewhere x
    # committed alone, and the retry replays it.
    assert result.state == "SUCCESS"
    assert failures
    replayed = f"message {messages[0].message_id} was applied before (redelivered)" in caplog.text
    assert replayed == (connection.vendor != "sqlite")
    assert discord.wait_until(lambda: discord.replies_to(messages[1].message_id))
    assert dict(Karma.objects.filter(guild_id=7).values_list("subject", "karma")) == {"x": 1, "y": 1}


def test_an_answer_goes_to_its_own_queue_and_announcements_together(discord, monkeypatch):
    published = []

    def publish(name, payload, publish=tasks.publish):
        published.append((name, payload))
        publish(name, payload)

    monkeypatch.setattr(tasks, "publish", publish)
    messages = [chat("x++", guild_id=7), chat("@Popple karma x", guild_id=7), chat("y++", guild_id=9)]
    handle_messages.delay([message.to_payload() for message in messages])
    assert discord.wait_until(lambda: all(discord.replies_to(message.message_id) for message in messages))
    assert discord.replies_to(messages[1].message_id) == ["x has 1 karma."]
    answer, announcements = published
    assert answer[0] == tasks.ANSWER_TASK
    assert answer[1]["message_id"] == messages[1].message_id
    assert announcements[0] == tasks.REPLIES_TASK
    assert [payload["message_id"] for payload in announcements[1]] == [messages[0].message_id, messages[2].message_id]


def test_what_answers_someone_and_what_only_announces():
    # As the reply side tells them apart (botgateway/mailbox.py, Held.announces_only).
    assert not Reply(1, 2, (Line("x has 1 karma.", "x", 1),)).answers()
    assert Reply(1, 2, (Line("x has 1 karma.", "x", 1), Line("You can't give yourself karma."))).answers()
    assert Reply(1, 2, reaction="\N{WHITE HEAVY CHECK MARK}").answers()
    assert Reply(1, 2, (Line("No one has any karma yet."),)).answers()
