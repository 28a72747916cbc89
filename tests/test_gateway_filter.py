"""The gateway forwards only what may matter: chat without karma or a command never reaches RabbitMQ."""

import random

import kombu
import pytest

from testkit.stack import BROKER_URL, purge_queues

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

CHATTER = [
    "good morning",
    "has anyone seen the deploy logs?",
    "c'est la vie",
    "see https://x.test/a-b",
    "see you later",
]


def queued(name):
    with kombu.Connection(BROKER_URL) as connection:
        return connection.default_channel.queue_declare(name, passive=True).message_count


def test_a_chat_stream_with_five_percent_karma_publishes_only_those(stack_factory, fake_discord):
    fake = fake_discord
    guild = fake.add_guild("chatty")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    stack = stack_factory()  # a gateway and no worker: what it publishes stays in the queue
    gateway = stack.gateway("gateway")
    gateway.wait_for_log("connected to Discord as Popple")
    # At connect the gateway says which servers it is in (one "present" event): not chat.
    assert fake.wait_until(lambda: queued("karma") >= 1, timeout=30)
    purge_queues()

    rng = random.Random(5)
    stream = [f"thanks friend{n}++" if n % 20 == 0 else rng.choice(CHATTER) for n in range(199)]
    stream.append("@Popple top")  # a command is forwarded too
    for content in stream:
        fake.send(guild, alice, content)
    matters = sum(1 for content in stream if "++" in content or content.startswith("@Popple"))
    assert matters == 11

    assert fake.wait_until(lambda: queued("karma") >= matters, timeout=30)
    gateway.stop()  # its last report comes at the end
    assert queued("karma") == matters
    assert "forwarded 11 messages, dropped 189 without karma or a command" in gateway.log()
    purge_queues()
