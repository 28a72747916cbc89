"""An answer to a command does not wait behind a backlog of announcements: it has a queue of its
own, which the reply worker the Procfile starts takes beside `replies` (poppleproject/rabbitmq.py).

The backlog is published straight to the queues before the worker starts, as karma workers would
have published it while the reply workers were away (or too few for a raid)."""

import time

import pytest
from celery import Celery

from karma.message import Line, Reply
from poppleproject import rabbitmq
from testkit.stack import BROKER_URL, queued

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
BACKLOG = 3000


def test_an_answer_goes_before_a_backlog_of_announcements(stack_factory, fake_discord):
    fake = fake_discord
    guild = fake.add_guild("backlog", channels=100)
    publisher = Celery(broker=BROKER_URL, set_as_current=False)
    publisher.conf.task_queues = rabbitmq.task_queues()  # declared already: the publisher declares nothing
    for n in range(BACKLOG):
        channel = guild.channel_ids[n % 100]
        reply = Reply(channel, 10_000 + n, (Line(f"s{n} has 1 karma.", f"s{n}", 1),), guild_id=guild.id)
        publisher.send_task("karma.send_reply", args=[reply.to_payload()], queue="replies")
    answer = Reply(guild.channel_ids[0], 9_999, (Line("No one has any karma yet."),), guild_id=guild.id)
    publisher.send_task("karma.send_answer", args=[answer.to_payload()], queue="answers")
    assert queued("replies") == BACKLOG
    stack = stack_factory()
    stack.deployed("replies", "replies")
    assert fake.wait_until(lambda: fake.replies_to(9_999), timeout=30)
    left = queued("replies")
    assert left > BACKLOG // 3  # most of the backlog was still waiting when the answer went out
    assert fake.wait_until(lambda: queued("replies") == 0, timeout=120)  # and all of it then goes
    assert fake.wait_until(lambda: fake.replies_to(10_000 + BACKLOG - 1), timeout=60)
    time.sleep(0.5)
    assert fake.replies_to(9_999) == ["No one has any karma yet."]
