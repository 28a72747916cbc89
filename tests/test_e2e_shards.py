"""Gateways split Discord's shards: one process running every shard, or one process per shard."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


@pytest.fixture(scope="module")
def world(fake_discord):
    fake_discord.recommended_shards = 2
    guilds = [fake_discord.add_guild(f"shard-{shard}", shard=shard, shard_count=2) for shard in (0, 1)]
    alice = fake_discord.add_user("alice")
    for guild in guilds:
        fake_discord.add_member(guild, alice)
    return guilds, alice


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.worker("worker")
    return stack


def karma_everywhere(fake, guilds, alice, subject):
    sent = [fake.send(guild, alice, f"{subject}++") for guild in guilds]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in sent), timeout=30)
    return [fake.replies_to(m) for m in sent]


def test_one_process_runs_the_shards_discord_recommends(stack, world, fake_discord):
    guilds, alice = world
    gateway = stack.gateway("gateway-all")
    gateway.wait_for_log(r"shards \[0, 1\] of 2, 1 servers|shards \[0, 1\] of 2, 2 servers", timeout=60)
    assert karma_everywhere(fake_discord, guilds, alice, "everywhere") == [["everywhere has 1 karma."]] * 2
    gateway.stop()
    assert fake_discord.identify_rate_violations() == 0


def test_two_processes_split_the_shards(stack, world, fake_discord):
    guilds, alice = world
    first = stack.gateway("gateway-0", DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS="0")
    second = stack.gateway("gateway-1", DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS="1")
    first.wait_for_log(r"shards \[0\] of 2, 1 servers", timeout=60)
    second.wait_for_log(r"shards \[1\] of 2, 1 servers", timeout=60)
    assert karma_everywhere(fake_discord, guilds, alice, "split") == [["split has 1 karma."]] * 2
    assert sorted((shard, count) for _, shard, count in fake_discord.identifies[-2:]) == [(0, 2), (1, 2)]
    assert fake_discord.identify_rate_violations() == 0
    for gateway in (first, second):
        gateway.stop()
