"""Fixtures for the end-to-end tests: real services, real Popple processes, the fake Discord.

RabbitMQ, MariaDB and Redis must be running (the README's test command starts them); a missing
one fails the tests that need it, it never skips them.
"""

import kombu
import pytest
import redis

from testkit.fakediscord import FakeDiscord
from testkit.stack import BROKER_URL, REDIS_URL, Stack, mariadb_test_url, purge_queues


@pytest.fixture(scope="session")
def services():
    problems = []
    try:
        with kombu.Connection(BROKER_URL, connect_timeout=5) as connection:
            connection.connect()
    except Exception as exc:
        problems.append(f"RabbitMQ at {BROKER_URL}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except Exception as exc:
        problems.append(f"Redis at {REDIS_URL}: {exc}")
    if problems:
        pytest.fail(
            "services the end-to-end tests need are unreachable (scripts/test starts them): " + "; ".join(problems)
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    purge_queues()


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack_factory(services, django_db_setup, django_db_blocker, fake_discord, tmp_path_factory):
    stacks = []

    def make(**variables):
        stack = Stack(fake_discord, tmp_path_factory.mktemp("stack"), mariadb_test_url(), **variables)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="module")
def stack(stack_factory):
    """The Procfile's deployment for a module: a karma worker, a reply worker, a connected gateway
    (a module that needs another defines its own `stack`)."""
    stack = stack_factory()
    stack.deployed("karma", "worker")
    stack.deployed("replies", "replies")
    stack.connected_gateway()
    return stack
