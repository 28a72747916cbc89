"""Redis with a password, read as JSON: no one who reaches it can read or plant held replies
without the password, and what the cache reads is data, never code (poppleproject/cache.py).

Against a redis-server of the test's own (testkit/redis_server.py), started with a password.
"""

import pathlib
import pickle

import pytest
import redis

from testkit.processes import manage
from testkit.redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


class Planted:
    """What someone who can write to Redis could leave under a cache key: unpickled, it creates
    a file (it could as well read the bot's token from the environment and send it away)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


@pytest.fixture
def server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_popple_runs_on_a_redis_with_a_password(server, stack_factory, fake_discord):
    guild = fake_discord.add_guild("guarded")
    user = fake_discord.add_user("erin")
    fake_discord.add_member(guild, user)
    stack = stack_factory()
    stack.deployed("karma", "worker")
    stack.deployed("replies", "replies", REDIS_URL=server.url)
    stack.connected_gateway(REDIS_URL=server.url)
    message = fake_discord.send(guild, user, "guarded++")
    assert fake_discord.wait_until(lambda: fake_discord.replies_to(message) == ["guarded has 1 karma."])
    # The gateway and the reply workers kept their shared state in it, through the password.
    assert server.client().dbsize() > 0
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port).ping()  # without it: nothing
    for name in ("gateway", "replies"):
        assert "Traceback" not in stack.processes[name].log()
    stack.stop()


def test_the_cache_reads_json_and_never_runs_what_it_reads(server, tmp_path):
    marker = tmp_path / "unpickled"
    client = server.client()
    client.set(":1:planted", pickle.dumps(Planted(marker)))  # Django's key for "planted"
    script = (
        "from django.core.cache import cache; cache.set('mark', {'done': True}); "
        "print(repr(cache.get('planted')), repr(cache.get('mark')))"
    )
    done = manage("shell", "-c", script, REDIS_URL=server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "None {'done': True}"
    assert not marker.exists()
    assert client.get(":1:mark") == b'{"done":true}'
