"""What people see: for a stream of `++`, each channel's announced values only rise, and its last
announcement is the final value. Through the processes the Procfile starts (two karma workers, two
reply workers, the gateway), RabbitMQ, MariaDB, Redis, and a fake Discord with Discord's limits.

tests/test_faults.py checks the same of its streams under each fault it injects.
"""

import itertools
import threading
import time

import pytest
import redis

from karma.models import Karma
from testkit import answers
from testkit.fakediscord import FakeDiscord
from testkit.stack import REDIS_URL

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

MESSAGES = 800
SERVERS = 4
PEOPLE = 25
RATE = 100  # messages per second


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def people(fake_discord):
    return [fake_discord.add_user(f"person{n}") for n in range(PEOPLE)]


@pytest.fixture(scope="module")
def stack(stack_factory, fake_discord):
    stack = stack_factory()
    for name in ("karma1", "karma2"):
        stack.deployed(name, "worker")
    for name in ("replies1", "replies2"):
        stack.deployed(name, "replies")
    stack.connected_gateway()
    return stack


def announced(fake, channel_id, subject):
    """The values a channel was told of `subject`, in the order they were posted."""
    return [
        int(value)
        for message in fake.messages
        if message.channel_id == channel_id
        for name, value in answers.announced(message.content)
        if name == subject
    ]


def regressions(values):
    return [(before, after) for before, after in itertools.pairwise(values) if after < before]


def stream(fake, servers, people, subject, during=None):
    """MESSAGES `subject++` from many people over the servers, at RATE; `during` runs mid-stream."""
    sender = threading.Thread(
        target=lambda: [
            (fake.send(servers[n % len(servers)], people[n % len(people)], f"{subject}++"), time.sleep(1 / RATE))
            for n in range(MESSAGES)
        ],
        daemon=True,
    )
    sender.start()
    if during:
        time.sleep(MESSAGES / RATE / 2)
        during()
    sender.join(120)
    assert not sender.is_alive()
    return MESSAGES // len(servers)  # each server's final value


def check_what_was_said(fake, stack, servers, subject, final):
    channels = [server.channel_ids[0] for server in servers]
    assert fake.wait_until(
        lambda: all(announced(fake, c, subject)[-1:] == [final] for c in channels), timeout=180, interval=0.2
    ), {c: announced(fake, c, subject)[-3:] for c in channels}
    stack.wait_idle(timeout=120)
    for server in servers:
        row = Karma.objects.using("mariadb").get(guild_id=server.id, subject=subject)
        assert row.karma == final  # nothing lost, nothing doubled
    for channel in channels:
        values = announced(fake, channel, subject)
        assert regressions(values) == [], f"channel {channel} went back: {regressions(values)[:5]}"
        assert values[-1] == final


def test_announcements_only_rise(stack, fake_discord, people):
    servers = [fake_discord.add_guild(f"order-{n}") for n in range(SERVERS)]
    for server in servers:
        for person in people:
            fake_discord.add_member(server, person)
    final = stream(fake_discord, servers, people, "drill")
    check_what_was_said(fake_discord, stack, servers, "drill", final)


def test_a_redis_that_lost_everything_costs_no_older_value(stack, fake_discord, people):
    """Redis emptied mid-stream: held replies, leases, and every channel's memory of what it was told."""
    servers = [fake_discord.add_guild(f"amnesia-{n}") for n in range(SERVERS)]
    for server in servers:
        for person in people:
            fake_discord.add_member(server, person)
    final = stream(fake_discord, servers, people, "amnesia", during=lambda: redis.Redis.from_url(REDIS_URL).flushdb())
    check_what_was_said(fake_discord, stack, servers, "amnesia", final)
