"""The gateway forwards only what may matter: chat without karma or a command never reaches RabbitMQ,
nor do its edits and deletions."""

import json
import random

import kombu
import pytest

from testkit.stack import BROKER_URL, purge_queues, queued

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

CHATTER = [
    "good morning",
    "has anyone seen the deploy logs?",
    "c'est la vie",
    "see https://x.test/a-b",
    "see you later",
]


def taken(name):
    """The (task, payload) of each message in the queue, oldest first, taken off it; chat messages
    that went in one task (karma.handle_messages) each as karma.handle_message."""
    found = []
    with kombu.Connection(BROKER_URL) as connection:
        while message := connection.default_channel.basic_get(name, no_ack=True):
            [payload], _, _ = json.loads(message.body)  # Celery's protocol 2: [args, kwargs, embed]
            if message.headers["task"] == "karma.handle_messages":
                found.extend(("karma.handle_message", each) for each in payload)
            else:
                found.append((message.headers["task"], payload))
    return found


def gathered(fake, gateway, at_least):
    """What the gateway published to `karma` once it holds at least this many payloads, and the
    rest after the gateway stopped."""
    found = []

    def enough():
        found.extend(taken("karma"))
        return len(found) >= at_least

    fake.wait_until(enough, timeout=30)  # the callers check what was found
    gateway.stop()  # its last report comes at the end
    return found + taken("karma")


def a_gateway_alone(stack_factory, fake, name):
    """A gateway and no worker (what it publishes stays in the queue), in a server of its own with
    alice in it; its queue empty."""
    guild = fake.add_guild(name)
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    gateway = stack_factory().connected_gateway()
    # At connect the gateway says which servers it is in (one "present" event): not chat.
    assert fake.wait_until(lambda: queued("karma") >= 1, timeout=30)
    purge_queues()
    return gateway, guild, alice


def test_a_chat_stream_with_five_percent_karma_publishes_only_those(stack_factory, fake_discord):
    fake = fake_discord
    gateway, guild, alice = a_gateway_alone(stack_factory, fake, "chatty")

    rng = random.Random(5)
    stream = [f"thanks friend{n}++" if n % 20 == 0 else rng.choice(CHATTER) for n in range(199)]
    stream.append("@Popple top")  # a command is forwarded too
    for content in stream:
        fake.send(guild, alice, content)
    matters = sum(1 for content in stream if "++" in content or content.startswith("@Popple"))
    assert matters == 11

    assert len(gathered(fake, gateway, matters)) == matters
    assert "forwarded 11 messages, dropped 189 without karma or a command" in gateway.log()
    purge_queues()


def test_edits_and_a_purge_of_chat_without_karma_publish_nothing(stack_factory, fake_discord):
    """50 edits of messages without a karma sign and a bulk delete of 100 of them reach no queue; the
    versions that can change karma still go, each once: a message with a sign, its edits (with a
    sign or without: the message may have changed karma), an edit that now holds a sign, and the
    deletion of the messages they are versions of."""
    fake = fake_discord
    gateway, guild, alice = a_gateway_alone(stack_factory, fake, "purged")
    chatter = [fake.send(guild, alice, f"chat {n}") for n in range(100)]
    for n in range(50):
        fake.edit(guild, chatter[n % 10], f"chat, edited {n}")
    fake.bulk_delete(guild, chatter)
    fake.delete(guild, fake.send(guild, alice, "see you later"))

    karma = fake.send(guild, alice, "bob++")
    fake.edit(guild, karma, "bob++ thanks")
    fake.edit(guild, karma, "thanks")  # takes bob's karma back
    hello = fake.send(guild, alice, "hello")
    fake.edit(guild, hello, "carol++")  # may change karma, if hello was counted (it was not)
    fake.bulk_delete(guild, [karma, hello])
    published = gathered(fake, gateway, 5)
    assert [(task, p.get("content"), p.get("edited", 0) > 0) for task, p in published] == [
        ("karma.handle_message", "bob++", False),
        ("karma.handle_message", "bob++ thanks", True),
        ("karma.handle_message", "thanks", True),
        ("karma.handle_message", "carol++", True),
        ("karma.message_deleted", None, False),
    ]
    # Only an edit of a message forwarded as sent may wait for it at a worker (karma/ledger/writes.py).
    assert [p.get("message_forwarded") for _, p in published[:4]] == [True, True, True, False]
    assert published[4][1]["deleted"] == sorted([karma, hello])
    assert published[4][1]["not_forwarded"] == [hello]
    assert "dropped 50 edits and 101 deleted messages that cannot change karma" in gateway.log()


def test_only_mentions_and_replies_that_may_thank_are_published(stack_factory, fake_discord):
    """A reply or a mention goes on only with a thank-word (karma/thanks.py), carrying whom it
    replies to and which of those it mentions are bots; the rest of such chat stays behind."""
    fake = fake_discord
    gateway, guild, alice = a_gateway_alone(stack_factory, fake, "grateful")
    bob, helper = fake.add_user("bob"), fake.add_user("helper", bot=True)
    fake.add_member(guild, bob)
    fake.add_member(guild, helper)
    question = fake.send(guild, bob, "which port?")
    build = fake.send(guild, helper, "build passed")  # a bot's: not chat at all
    fake.send(guild, alice, f"<@{bob}> lunch?", mentions=[bob])
    fake.send(guild, alice, "8080, I think", reply_to=question)
    fake.send(guild, alice, "thanks everyone")  # no one to thank
    fake.send(guild, alice, "thanksgiving plans?", reply_to=question)  # whole words only
    fake.send(guild, alice, "ty!", reply_to=build)  # a bot is never thanked
    fake.send(guild, alice, "Thank you!", reply_to=question)
    fake.send(guild, alice, f"merci <@{helper}> and <@{bob}>", mentions=[helper, bob])
    found = gathered(fake, gateway, 2)
    published = [(p["content"], p["replied_to_id"], p["replied_to_name"], p["bots"]) for _, p in found]
    assert published == [
        ("Thank you!", bob, "bob", []),
        (f"merci <@{helper}> and <@{bob}>", 0, "", [str(helper)]),
    ]
    assert "forwarded 2 messages, dropped 6 without karma or a command" in gateway.log()
