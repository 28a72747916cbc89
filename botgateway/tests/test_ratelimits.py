"""The shared budget of Discord requests, the same rules in memory and in Redis."""

import json
import time

import pytest
from urllib3 import HTTPHeaderDict

from botgateway.ratelimits import GLOBAL_WINDOW_MS, Grant, MemoryLimits, RedisLimits, Route
from botgateway.rest import Answer
from botgateway.tests.conftest import PREFIX

MESSAGES = "POST /channels/{channel_id}/messages"
REACTIONS = "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def make_limits(request):
    """Makes budgets that share state as processes would: through Redis, or not at all in memory."""
    if request.param == "memory":
        return MemoryLimits
    client = request.getfixturevalue("shared_redis")
    return lambda global_limit: RedisLimits(client, global_limit, PREFIX)


def answer(status=200, limit=5, remaining=4, reset_after=5.0, bucket="abc", **extra):
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
               "X-RateLimit-Reset-After": f"{reset_after:.3f}", "X-RateLimit-Bucket": bucket, **extra}  # fmt: skip
    return Answer(status, HTTPHeaderDict(headers), b"{}")


def too_many(retry_after, scope="user"):
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": scope == "global"}
    headers = HTTPHeaderDict({"Retry-After": str(retry_after), "X-RateLimit-Scope": scope})
    return Answer(429, headers, json.dumps(body).encode())


def test_an_unknown_bucket_is_probed_once_then_followed(make_limits):
    limits, route = make_limits(50), Route(MESSAGES, 1)
    assert limits.acquire(route).wait == 0  # the probe
    assert 0 < limits.acquire(route).wait <= 2  # the others wait for its answer
    limits.learn(route, answer(limit=5, remaining=4, reset_after=5.0))
    assert [limits.acquire(route).spare for _ in range(4)] == [3, 2, 1, 0]
    refused = limits.acquire(route)
    assert 4 < refused.wait <= 5  # until Discord said the bucket refills
    assert limits.acquire(Route(MESSAGES, 2)).wait == 0  # another channel has its own bucket


def test_a_bucket_refills_when_discord_said(make_limits):
    limits, route = make_limits(50), Route(MESSAGES, 1)
    limits.acquire(route)
    limits.learn(route, answer(limit=2, remaining=0, reset_after=0.2))
    assert limits.acquire(route).wait > 0
    time.sleep(0.25)
    assert limits.acquire(route) == Grant(0, 1)  # a new window of 2
    assert limits.acquire(route) == Grant(0, 0)
    assert limits.acquire(route).wait > 0


def test_an_answer_never_gives_back_grants_still_on_their_way(make_limits):
    limits, route = make_limits(50), Route(MESSAGES, 1)
    limits.acquire(route)
    limits.learn(route, answer(limit=5, remaining=4))
    for _ in range(3):
        limits.acquire(route)  # three requests in flight
    limits.learn(route, answer(limit=5, remaining=3))  # the first of them answered
    assert limits.acquire(route).spare == 0
    assert limits.acquire(route).wait > 0


def test_the_global_limit_covers_every_route(make_limits):
    limits = make_limits(3)
    grants = [limits.acquire(Route(MESSAGES, channel), answer=True) for channel in (1, 2, 3)]
    assert [grant.wait for grant in grants] == [0, 0, 0]
    refused = limits.acquire(Route(REACTIONS, 4), answer=True)
    assert 0 < refused.wait <= GLOBAL_WINDOW_MS / 1000


def test_announcements_leave_a_tenth_of_the_global_budget_to_answers(make_limits):
    limits = make_limits(20)  # a tenth: 2
    announced = [limits.acquire(Route(MESSAGES, channel)) for channel in range(1, 20)]
    assert [grant.wait for grant in announced[:18]] == [0] * 18
    assert 0 < announced[18].wait <= GLOBAL_WINDOW_MS / 1000  # the 19th announcement waits
    assert limits.acquire(Route(MESSAGES, 30), answer=True).wait == 0  # an answer goes at once
    assert limits.acquire(Route(REACTIONS, 31), answer=True).wait == 0  # (a reaction that answers too)
    assert limits.acquire(Route(MESSAGES, 32), answer=True).wait > 0  # the whole budget is spent


def test_a_saturated_budget_is_shared_fairly_between_servers(make_limits):
    """One server with many channels takes what is free until another server is refused for the
    global limit; from then on, each server that asks has an equal share of the window."""
    limits = make_limits(11)  # announcements may take 10 in a window (a tenth is the answers')
    busy = [limits.acquire(Route(MESSAGES, channel), server=1) for channel in range(1, 11)]
    assert [grant.wait for grant in busy] == [0] * 10  # nobody else asked: the busy server takes it all
    refused = limits.acquire(Route(MESSAGES, 100), server=2)
    assert refused.wait > 0  # the budget is spent; server 2, below its share, was refused
    # Servers 1 and 2 asked in this window: a share is 5. Server 1 has 10 already, so it waits for
    # its oldest grants to age, however the global window frees.
    assert limits.acquire(Route(MESSAGES, 11), server=1).wait > 0
    assert limits.acquire(Route(MESSAGES, 200), answer=True).wait == 0  # answers are outside shares


@pytest.mark.parametrize("servers", [2, 5])
def test_under_saturation_no_server_takes_more_than_its_share(make_limits, servers):
    limits = make_limits(11)
    granted = dict.fromkeys(range(1, servers + 1), 0)
    deadline = time.monotonic() + 2 * GLOBAL_WINDOW_MS / 1000
    channel = 0
    # Server 1 asks ten times as often as each other server, for two windows.
    while time.monotonic() < deadline:
        for server in granted:
            for _ in range(10 if server == 1 else 1):
                channel += 1
                if limits.acquire(Route(MESSAGES, channel), server=server).wait == 0:
                    granted[server] += 1
        time.sleep(0.01)
    share = 10 // servers
    windows = 3  # two windows of asking, and the grants that began the first
    assert granted[1] <= share * windows + 10  # at most its first, unshared, grab more than its share
    assert all(granted[server] >= share for server in granted)  # and no server was starved


def test_a_global_429_stops_every_route(make_limits):
    limits = make_limits(50)
    limits.acquire(Route(MESSAGES, 1))
    assert limits.learn(Route(MESSAGES, 1), too_many(2.0, scope="global")) == 2.0
    assert 1.5 < limits.acquire(Route(REACTIONS, 9)).wait <= 2.0


def test_a_route_429_stops_that_route_only(make_limits):
    limits, route = make_limits(50), Route(MESSAGES, 1)
    limits.acquire(route)
    limits.learn(route, answer(limit=5, remaining=4, reset_after=1.0))
    assert limits.learn(route, too_many(3.0, scope="shared")) == 3.0
    assert 2.5 < limits.acquire(route).wait <= 3.0
    assert limits.acquire(Route(MESSAGES, 2)).wait == 0


def test_routes_that_discord_puts_in_one_bucket_share_it(make_limits):
    limits = make_limits(50)
    first, second = Route("POST /a/{channel_id}", 1), Route("POST /b/{channel_id}", 1)
    limits.acquire(first)
    limits.learn(first, answer(limit=1, remaining=0, bucket="same"))
    limits.acquire(second)
    limits.learn(second, answer(limit=1, remaining=0, bucket="same"))
    assert limits.acquire(first).wait > 0
    assert limits.acquire(second).wait > 0


def test_pause_stops_everything(make_limits):
    limits = make_limits(50)
    limits.pause(1.0)
    assert 0.5 < limits.acquire(Route(MESSAGES, 1)).wait <= 1.0


def test_processes_sharing_redis_share_the_budget(shared_redis):
    """What one worker learns (a 429, a spent bucket, the global count) holds for every other."""
    one, other = RedisLimits(shared_redis, 4, PREFIX), RedisLimits(shared_redis, 4, PREFIX)
    route = Route(MESSAGES, 1)
    one.acquire(route, answer=True)
    one.learn(route, answer(limit=2, remaining=1))
    assert other.acquire(route, answer=True).wait == 0
    assert other.acquire(route, answer=True).wait > 0  # the bucket is spent, whoever spent it
    other.acquire(Route(MESSAGES, 2), answer=True)
    assert one.acquire(Route(MESSAGES, 3), answer=True).wait == 0
    assert one.acquire(Route(MESSAGES, 4), answer=True).wait > 0  # four grants in all: the global limit
    shared_redis.delete(one.prefix + "global")
    other.learn(Route(MESSAGES, 2), too_many(2.0, scope="global"))
    assert one.acquire(Route(MESSAGES, 9), answer=True).wait > 1.5
