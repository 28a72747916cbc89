import pytest
import redis

from testkit.stack import REDIS_URL

PREFIX = "popple:tests:"  # what botgateway.discordapi.redis_prefix gives a real bot


@pytest.fixture
def shared_redis():
    """The test Redis, emptied: what Popple's processes share when REDIS_URL is set."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
