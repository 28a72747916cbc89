"""What a message on a task queue may ask of a worker: only the task its queue carries, with no
Celery options that make the worker publish or run other tasks (links, errbacks, chains, chords).

A process that may publish to `karma` (gateway, web, beat) must not get the bot to post through
the reply workers, which only the workers' account may publish to.
"""

import itertools
import json
import uuid

import kombu
import pytest

from poppleproject import rabbitmq
from testkit.messages import chat
from testkit.stack import BROKER_URL, broker_url, purge_queues

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

INJECTED = "injected by a karma publisher"
_ids = itertools.count(1)


def reply(channel_id):
    """A reply the bot would post: what an attacker wants karma.send_reply to deliver."""
    # Each its own message id: the reply workers post each reply once.
    return {
        "channel_id": channel_id,
        "message_id": next(_ids),
        "lines": [[INJECTED, None, 0]],
        "joiner": " ",
        "reaction": None,
    }


def signature(task, payload):
    # An immutable signature, as `.si()` makes it: the worker runs it with exactly these arguments.
    return {"task": task, "args": [payload], "kwargs": {}, "options": {}, "subtask_type": None, "immutable": True}


def publish_as_gateway(task, args, embed=None, **headers):
    """A task message as Celery's protocol 2 lays it out, published with the gateway's account to
    the `karma` exchange, the only one it may publish to."""
    body = [args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None, **(embed or {})}]
    with kombu.Connection(broker_url("gateway"), transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            json.dumps(body),
            exchange="karma",
            routing_key="karma",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": task, "id": str(uuid.uuid4()), "lang": "py", **headers},
            timeout=10,
        )


def dead_letters():
    """The messages in the dead-letter queue, taken out of it."""
    taken = []
    with kombu.Connection(BROKER_URL) as connection:
        queue = kombu.Queue(rabbitmq.DEAD_LETTERS, no_declare=True, channel=connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            taken.append(message)
    return taken


def test_a_karma_publisher_cannot_make_the_worker_post(stack_factory, fake_discord):
    purge_queues()
    guild = fake_discord.add_guild("attacked")
    user = fake_discord.add_user("mallory-publisher")
    fake_discord.add_member(guild, user)
    channel = guild.channel_ids[0]
    stack = stack_factory()
    worker = stack.worker("worker")
    stack.connected_gateway()
    message = chat("nothing to count here", guild_id=guild.id).to_payload()
    follow_up = [signature("karma.send_reply", reply(channel))]

    publish_as_gateway("karma.handle_message", [message], {"callbacks": follow_up})  # link
    publish_as_gateway("karma.handle_message", [{"not": "a message"}], {"errbacks": follow_up})  # link_error
    publish_as_gateway("karma.handle_message", [message], {"chain": follow_up})
    publish_as_gateway("karma.handle_message", [message], callbacks=follow_up)  # in the headers, read alike
    publish_as_gateway("karma.send_reply", [reply(channel)])  # a reply task, on the karma queue
    # Celery's own tasks, likewise: starmap runs the task it is given in the worker itself.
    publish_as_gateway("celery.starmap", [signature("karma.send_reply", None), [[reply(channel)]]])
    refused = 6

    # The worker is still at work; once it is idle, nothing of the above was posted.
    after = fake_discord.send(guild, user, "still++")
    assert fake_discord.wait_until(lambda: fake_discord.replies_to(after))
    stack.wait_idle()
    assert not [m for m in fake_discord.messages if INJECTED in m.content]
    # One line each, without the message's contents.
    worker.wait_for_log("refused a message on queue karma", count=refused)
    log = worker.log()
    assert log.count("refused a message on queue karma") == refused
    assert INJECTED not in log
    assert "Traceback" not in log
    # Each went to the dead-letter queue, as rejected from `karma`, once.
    deaths = [message.headers["x-death"][0] for message in dead_letters()]
    assert [(death["queue"], death["reason"], death["count"]) for death in deaths] == [
        ("karma", "rejected", 1)
    ] * refused
