"""What a channel is told of a subject never goes back in the subject's versions: however replies
are reordered on their way, whatever Redis forgot, and whichever database its memory came from.

Real replies (karma/router.py on each database), posted by the real courier to the fake Discord,
with both stores of the channel's memory.
"""

import time

import pytest
import redis
from django.db import connections
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from botgateway import delivery
from botgateway.delivery import Courier
from botgateway.known_versions import KnownVersions
from botgateway.mailbox import MemoryMailbox, RedisMailbox
from botgateway.ratelimits import MemoryLimits
from botgateway.rest import DiscordRest
from botgateway.tests.conftest import PREFIX
from karma.router import respond
from testkit.databases import DATABASES
from testkit.fakediscord import FakeDiscord
from testkit.messages import chat
from testkit.stack import REDIS_URL

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)


@pytest.fixture
def fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def courier_with_memory(request, fake):
    """Makes a courier; `forget=True` makes the next one with a memory lost (Redis emptied)."""
    couriers = []

    def make(forget=False):
        if request.param == "memory":
            mailbox = MemoryMailbox()  # a process's own memory: a new one knows nothing
        else:
            client = redis.Redis.from_url(REDIS_URL)
            if forget or not couriers:
                client.flushdb()
            mailbox = RedisMailbox(client, PREFIX)
        courier = Courier(mailbox, MemoryLimits(fake.global_limit), DiscordRest(fake.api_url, fake.token))
        couriers.append(courier)
        return courier

    yield make
    for courier in couriers:
        courier.stop()


def replies(guild, count, text="x++"):
    """The replies to `count` messages of one channel, in the order they were applied."""
    return [respond(chat(text, guild_id=guild, author_id=500 + n)) for n in range(count)]


def said_in(fake, channel_id):
    return [message.content for message in fake.messages if message.channel_id == channel_id]


def left_out():
    return REGISTRY.get_sample_value("popple_replies_coalesced_total") or 0


def test_a_late_reply_is_left_out(database, courier_with_memory, fake):
    courier = courier_with_memory()
    first, second, third = replies(61, 3)
    before = left_out()
    for reply in (third, first, second):  # two workers, two reply workers: any order
        courier.deliver(reply)
    assert said_in(fake, third.channel_id) == ["x has 3 karma."]
    assert left_out() - before == 2  # counted, so that the metrics add up to the replies handled


def test_a_channel_whose_memory_was_lost_is_told_the_current_value(database, courier_with_memory, fake):
    first, second = replies(62, 2)
    courier_with_memory().deliver(second)
    (third,) = replies(62, 1)
    courier = courier_with_memory(forget=True)  # Redis restarted empty
    courier.deliver(first)  # late, and nothing remembers that 2 was said: the database is asked
    courier.deliver(third)  # said already
    assert said_in(fake, third.channel_id) == ["x has 2 karma.", "x has 3 karma."]


def test_a_memory_of_another_database_is_not_believed(database, courier_with_memory, fake):
    courier = courier_with_memory()
    (reply,) = replies(63, 1)
    # A fresh database behind a Redis that remembers the old one told this channel of x's 50th version.
    token = courier.mailbox.lease(reply.channel_id)
    courier.mailbox.finish(reply.channel_id, token, said={"x": 50})
    courier.deliver(reply)
    assert said_in(fake, reply.channel_id) == ["x has 1 karma."]


def test_lines_without_a_subject_and_other_subjects_are_still_said(database, courier_with_memory, fake):
    courier = courier_with_memory()
    first, second = replies(64, 2, "x++ y++")
    courier.deliver(second)
    (late_y,) = replies(64, 1, "y++")  # y at 3, x still at 2
    courier.deliver(first)  # x 1 and y 1: both said already, in newer versions
    courier.deliver(late_y)
    assert said_in(fake, first.channel_id) == ["x has 2 karma. y has 2 karma.", "y has 3 karma."]


def test_a_late_reply_is_left_out_without_asking_the_database_when_its_newer_line_passed_here(
    database, courier_with_memory, fake
):
    courier = courier_with_memory()
    first, second = replies(65, 2)
    courier.deliver(second)  # this process saw the database reach x's 2nd version: its line says so
    with CaptureQueriesContext(connections[database]) as queries:
        courier.deliver(first)
    assert said_in(fake, first.channel_id) == ["x has 2 karma."]
    assert len(queries) == 0


def test_a_memory_of_another_database_is_not_believed_once_the_evidence_is_old(database, courier_with_memory, fake):
    courier = courier_with_memory()
    courier.known = KnownVersions(seconds=0.05)
    (reply,) = replies(66, 1)
    token = courier.mailbox.lease(reply.channel_id)
    courier.mailbox.finish(reply.channel_id, token, said={"x": 50})
    courier.known.saw(reply.guild_id, "x", 50)  # the database this memory is of, a moment ago
    time.sleep(0.1)  # then replaced by a fresh one
    courier.deliver(reply)
    assert said_in(fake, reply.channel_id) == ["x has 1 karma."]


def test_a_stale_line_reads_the_current_value_only_when_the_database_is_ahead_of_it(
    database, courier_with_memory, fake
):
    first, second = replies(67, 2)
    courier = courier_with_memory()
    with CaptureQueriesContext(connections[database]) as queries:
        courier.deliver(second)  # a channel that never heard of x: its version is read, and is this one
    assert len(queries) == 1
    courier = courier_with_memory(forget=True)
    with CaptureQueriesContext(connections[database]) as queries:
        courier.deliver(first)  # x is at 2 already: its wording is read too
    assert len(queries) == 3  # the version, the karma and the server's wording
    assert said_in(fake, first.channel_id) == ["x has 2 karma.", "x has 2 karma."]


def test_a_new_subject_made_after_the_channels_memory_began_is_said_without_asking(
    database, courier_with_memory, fake, monkeypatch
):
    monkeypatch.setattr(delivery, "CLOCKS_APART_MS", 0)  # one machine's clock
    courier = courier_with_memory()
    (first,) = replies(68, 1, "x++")
    courier.deliver(first)  # the channel's memory begins with this post
    time.sleep(0.01)
    (second,) = replies(68, 1, "y++")  # made after: nothing newer of y can have been said and forgotten
    with CaptureQueriesContext(connections[database]) as queries:
        courier.deliver(second)
    assert said_in(fake, first.channel_id) == ["x has 1 karma.", "y has 1 karma."]
    assert len(queries) == 0
