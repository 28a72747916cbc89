"""Hostile and odd input through the real processes, and the token kept out of sight.

The gateway and workers here log at DEBUG, discord.py included, so that the token check below
covers everything they could say.
"""

import base64
import json
import time
import urllib.request

import kombu
import pytest
from celery import Celery

from karma.models import Karma
from poppleproject import rabbitmq
from testkit.stack import BROKER_URL, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

HOSTILE = [
    ("(@everyone)++", "@everyone"),
    ("(@here)++", "@here"),
    ("(<@&123456789>)++", "<@&123456789>"),
    ("(<#987654321>)++", "<#987654321>"),
    ("(**bold** _it_ ~~gone~~ ||spoiler||)++", "**bold** _it_ ~~gone~~ ||spoiler||"),
    ("(# heading)++", "# heading"),
    ("zero\u200bwidth++", "zerowidth"),  # invisible characters are not part of a name
    ("(\u202eevil name)++", "evil name"),
    ("(line\nbreak)++", "line break"),  # a name is one line: its page works (leaderboard/urls.py)
    ("(\u200b\u2067)++", None),  # nothing left of it
    ("שלום++", "שלום"),
    ("(" + "x" * 128 + ")++", "x" * 128),
    ("(" + "y" * 129 + ")++", None),
]


@pytest.fixture(scope="module")
def world(fake_discord):
    guild = fake_discord.add_guild("hostile")
    user = fake_discord.add_user("mallory")
    fake_discord.add_member(guild, user)
    return guild, user


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory(LOG_LEVEL="DEBUG", DISCORD_LOG_LEVEL="DEBUG")
    stack.worker("worker")
    stack.connected_gateway()
    port = free_port()
    stack.flower(port, FLOWER_BASIC_AUTH="ops:flower-password")
    stack.flower_url = f"http://127.0.0.1:{port}"
    return stack


def test_hostile_names_are_stored_exactly_and_echoed_harmlessly(stack, world, fake_discord):
    guild, user = world
    fake = fake_discord
    sent = [(fake.send(guild, user, content), name) for content, name in HOSTILE]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m, name in sent if name), timeout=60)
    stack.wait_idle()
    stored = set(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", flat=True))
    assert stored == {name for _, name in HOSTILE if name}
    for message_id, name in sent:
        assert len(fake.replies_to(message_id)) == (1 if name else 0)
    assert all(m.allowed_mentions == {"parse": []} for m in fake.messages)
    assert all(len(m.content) <= 2000 for m in fake.messages)


def test_long_replies_are_split_between_sentences_and_capped(stack, world, fake_discord):
    guild, user = world
    names = [f"{'n' * 120}{i:02}" for i in range(40)]
    message = fake_discord.send(guild, user, " ".join(f"{name}++" for name in names))
    assert fake_discord.wait_until(lambda: len(fake_discord.replies_to(message)) == 2, timeout=60)
    parts = fake_discord.replies_to(message)
    assert all(len(part) <= 2000 for part in parts)
    counted = " ".join(f"{name} has 1 karma." for name in names[:20])
    assert " ".join(parts) == counted + " (Only the first 20 names in a message count.)"


def test_malformed_tasks_are_rejected_once_with_one_line(stack, world, fake_discord):
    worker = stack.processes["worker"]
    publisher = Celery(broker=BROKER_URL, set_as_current=False)
    publisher.conf.task_queues = rabbitmq.task_queues()  # Popple's quorum queues, declared already
    publisher.send_task("karma.handle_message", args=[{"content": "x++"}], queue="karma")
    publisher.send_task("karma.handle_message", args=["just a string"], queue="karma")
    publisher.send_task("karma.handle_message", args=[], kwargs={"payload": {}, "extra": 1}, queue="karma")
    with kombu.Connection(BROKER_URL) as connection:  # not even a Celery message
        connection.Producer().publish(b"\xff not json", routing_key="karma", content_type="application/json")
    worker.wait_for_log("rejected malformed message payload", count=3)
    stack.wait_idle()
    time.sleep(2)  # a looping message would show up again by now
    log = worker.log()
    assert log.count("rejected malformed message payload") == 3
    assert "payload has no guild_id" in log
    assert "payload must be an object, not str" in log
    assert "the task takes exactly one argument" in log
    # Not a task at all: refused in one line, before Celery reads it (poppleproject/consumer.py).
    assert log.count("refused a message on queue karma (task None") == 1
    # The worker is still at work.
    guild, user = world
    after = fake_discord.send(guild, user, "still++")
    assert fake_discord.wait_until(lambda: fake_discord.replies_to(after))


def test_the_token_never_appears(stack, world, fake_discord):
    guild, user = world
    request = urllib.request.Request(
        stack.flower_url + "/api/tasks",
        headers={"Authorization": "Basic " + base64.b64encode(b"ops:flower-password").decode()},
    )

    def flower_saw_one():  # Flower turns task events on within 5 s of its start: until then, again
        message = fake_discord.send(guild, user, "secretive++")
        assert fake_discord.wait_until(lambda: fake_discord.replies_to(message))
        with urllib.request.urlopen(request, timeout=10) as response:
            tasks.update(json.load(response))
        return any(task["name"] == "karma.handle_message" for task in tasks.values())

    tasks = {}
    assert fake_discord.wait_until(flower_saw_one, timeout=30, interval=1)
    seen = json.dumps(tasks) + "".join(process.log() for process in stack.processes.values())
    assert "IDENTIFY" in seen  # the logs are at DEBUG: they show what the gateway sent
    assert fake_discord.token not in seen
