"""Fixtures for every test folder."""

import pytest
from django.core.cache import cache

from botgateway.delivery import courier
from testkit.databases import DATABASES, pinned
from testkit.fakediscord import FakeDiscord


@pytest.fixture(params=DATABASES)
def database(request):
    """The database the models use in this test, each in turn: the test settings route them to it
    (testkit/databases.py), the store's raw SQL included."""
    with pinned(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache (this process's memory in tests): pages cached by one
    test (the public servers, the admin's server filter) are not another's."""
    cache.clear()


@pytest.fixture
def discord(settings):
    """The fake Discord, and this process's replies pointed at it (no Redis: limits in memory).

    Replies to tasks run inline go through the real courier and REST client to the fake, over the
    wire; the courier's poller posts what had to be held.
    """
    fake = FakeDiscord().start()
    settings.DISCORD_TOKEN = fake.token
    settings.DISCORD_API_BASE_URL = fake.api_url
    settings.DISCORD_GLOBAL_RATE_LIMIT = fake.global_limit
    settings.REDIS_URL = None
    courier().start()
    yield fake
    courier().stop()
    fake.stop()
