"""The courier against a fake Discord that enforces Discord's real limits, with both stores.

The `redis` cases share their state as separate worker processes would, through the test Redis.
"""

import logging
import threading
import time
from dataclasses import replace

import pytest

from botgateway.delivery import Courier
from botgateway.mailbox import Held, MemoryMailbox, RedisMailbox
from botgateway.ratelimits import MemoryLimits, RedisLimits
from botgateway.rest import DiscordRest
from botgateway.tests.conftest import PREFIX
from karma.message import Line, Reply
from monitoring.metrics import ANNOUNCEMENTS_LATE
from testkit.fakediscord import FakeDiscord

CHECK = "\N{WHITE HEAVY CHECK MARK}"


@pytest.fixture
def fake():
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    yield fake
    fake.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def make_courier(request, fake):
    """Makes couriers; with Redis, each stands for a worker process of its own."""
    couriers = []

    def make(start=True, max_delay=60.0):
        if request.param == "memory":
            mailbox, limits = MemoryMailbox(), MemoryLimits(fake.global_limit)
        else:
            client = request.getfixturevalue("shared_redis")
            mailbox, limits = RedisMailbox(client, PREFIX), RedisLimits(client, fake.global_limit, PREFIX)
        courier = Courier(mailbox, limits, DiscordRest(fake.api_url, fake.token), max_delay=max_delay)
        couriers.append(courier)
        return courier.start() if start else courier

    yield make
    for courier in couriers:
        courier.stop()


def karma_reply(channel_id, message_id, subject, karma, version):
    return Reply(channel_id, message_id, (Line(f"{subject} has {karma} karma.", subject, version),))


def deliver_from_threads(courier, replies, threads=8):
    """As a pool of worker threads would: every thread delivers its share at once."""
    shares = [replies[n::threads] for n in range(threads)]
    workers = [threading.Thread(target=lambda share=share: [courier.deliver(r) for r in share]) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_a_burst_in_one_channel_is_held_then_said_merged(make_courier, fake):
    courier = make_courier()
    hot = fake.add_guild("hot").channel_ids[0]
    deliver_from_threads(courier, [karma_reply(hot, 1000 + n, "hot", n, n) for n in range(1, 61)])
    # Every delivery has returned, and Discord's bucket (5 per 5 s) let only a few messages out.
    assert len(fake.messages) <= 5
    assert fake.wait_until(lambda: any("hot has 60 karma." in m.content for m in fake.messages), timeout=15)
    assert fake.messages[-1].content == "hot has 60 karma."
    assert len(fake.messages) <= 7
    assert fake.rate_limit_violations() == 0


def test_other_channels_are_not_slowed_by_a_busy_one(make_courier, fake):
    courier = make_courier()
    busy, quiet = fake.add_guild("busy").channel_ids[0], fake.add_guild("quiet").channel_ids[0]
    deliver_from_threads(courier, [karma_reply(busy, 2000 + n, "hot", n, n) for n in range(1, 21)])
    courier.deliver(karma_reply(quiet, 3000, "calm", 1, 1))
    assert [m.content for m in fake.messages if m.channel_id == quiet] == ["calm has 1 karma."]
    assert fake.rate_limit_violations() == 0


def test_reactions_respect_their_own_bucket(make_courier, fake):
    courier = make_courier()
    channel = fake.add_guild("reactions").channel_ids[0]
    for message_id in range(4000, 4006):
        courier.deliver(Reply(channel, message_id, reaction=CHECK))
    assert fake.wait_until(lambda: len(fake.reactions) == 6, timeout=10)
    assert fake.rate_limit_violations() == 0


def test_held_replies_outlive_a_killed_worker(fake, shared_redis):
    """Held in Redis, replies wait for any worker. (In memory they die with their process.)"""

    def worker():
        return Courier(
            RedisMailbox(shared_redis, PREFIX),
            RedisLimits(shared_redis, 50, PREFIX),
            DiscordRest(fake.api_url, fake.token),
        )

    dying = worker()
    channel = fake.add_guild("survivor").channel_ids[0]
    for n in range(1, 11):
        dying.deliver(karma_reply(channel, 5000 + n, f"s{n}", 1, 1))
    dying.stop()  # as if killed: it will never post again
    assert len(fake.messages) == 5  # the bucket's worth went out; the rest is held in Redis
    survivor = worker().start()  # another worker, which finds them due once the bucket refills
    try:
        assert fake.wait_until(lambda: any("s10 has 1 karma." in m.content for m in fake.messages), timeout=15)
    finally:
        survivor.stop()
    said = " ".join(m.content for m in fake.messages)
    assert all(said.count(f"s{n} has 1 karma.") == 1 for n in range(1, 11))


def test_a_post_made_before_a_crash_is_not_made_twice(make_courier, fake):
    courier = make_courier(start=False)
    channel = fake.add_guild("crash").channel_ids[0]
    reply = karma_reply(channel, 6000, "x", 1, 1)
    # A worker held the reply, wrote down its post, made it, and died before it could note that
    # it was made; its lease ran out since.
    token, _, _ = courier.mailbox.add(reply)
    assert courier.mailbox.hold(channel, token, Held.of(reply))
    intent = {"kind": "text", "content": "x has 1 karma.", "nonce": "6000.0", "message_id": 6000,
              "covers": {"6000": [0]}, "reaction_of": None, "attempts": 0}  # fmt: skip
    assert courier.mailbox.set_intent(channel, token, intent)
    courier.rest.create_message(channel, intent["content"], intent["nonce"])
    courier.mailbox.give_back(channel, token)
    courier.flush(channel)  # whoever takes over makes the same post again
    assert [m.content for m in fake.messages] == ["x has 1 karma."]
    assert fake.nonce_replays == 1
    assert courier.mailbox.held(channel) == []


def test_server_errors_hold_the_reply_until_discord_answers(make_courier, fake):
    courier = make_courier()
    channel = fake.add_guild("flaky").channel_ids[0]
    fake.fail_rest(502, seconds=1.0)
    courier.deliver(karma_reply(channel, 7000, "x", 1, 1))
    assert fake.messages == []
    assert fake.wait_until(lambda: fake.messages, timeout=10)
    assert [m.content for m in fake.messages] == ["x has 1 karma."]


def test_a_channel_closed_to_the_bot_drops_the_reply_with_one_line(make_courier, fake, caplog):
    courier = make_courier()
    channel = fake.add_guild("closed").channel_ids[0]
    fake.fail_rest(403, seconds=5)
    with caplog.at_level(logging.WARNING):
        courier.deliver(karma_reply(channel, 8000, "x", 1, 1))
    assert f"reply to message 8000 in channel {channel} dropped: Discord answered 403" in caplog.text
    assert courier.mailbox.held(channel) == []


def test_answers_go_before_announcements_when_the_global_budget_runs_short(make_courier, fake):
    courier = make_courier()
    # Discord's 50 requests a second, asked for by announcements in 80 channels at once.
    announcements = [karma_reply(1000 + n, 5000 + n, "x", 1, 1) for n in range(80)]
    deliver_from_threads(courier, announcements)
    answer = Reply(2000, 9000, (Line("x has 1 karma."),))  # `@Popple karma x`: no subject, an answer
    courier.deliver(answer)
    assert fake.wait_until(lambda: len(fake.messages) == 81, timeout=30)
    said = [message.channel_id for message in fake.messages]
    assert said.index(2000) < 50  # in the first second's budget, which the announcements could not take whole
    assert fake.rate_limit_violations() == 0


def late(outcome):
    return ANNOUNCEMENTS_LATE.labels(outcome)._value.get()


def hold_as_if_since(courier, channel, replies, seconds_ago):
    """Hold `replies` in the channel as if delivery had taken them in `seconds_ago` (a saturated
    budget or an outage kept them); returns the lease, which the caller gives back."""
    token = courier.mailbox.lease(channel)
    for reply in replies:
        courier.mailbox.hold(channel, token, replace(Held.of(reply), since=time.time() - seconds_ago))
    return token


def test_a_stale_announcement_alone_is_dropped_and_counted(make_courier, fake):
    courier = make_courier(start=False, max_delay=60)
    channel = fake.add_guild("stale").channel_ids[0]
    dropped = late("dropped")
    token = hold_as_if_since(courier, channel, [karma_reply(channel, 10_000, "x", 1, 1)], seconds_ago=61)
    courier.mailbox.give_back(channel, token)
    courier.flush(channel)
    assert fake.messages == []  # not said a minute late
    assert courier.mailbox.held(channel) == []  # nor held any longer
    assert late("dropped") == dropped + 1


def test_a_stale_announcement_goes_out_merged_with_a_fresh_one(make_courier, fake):
    courier = make_courier(start=False, max_delay=60)
    channel = fake.add_guild("merged").channel_ids[0]
    merged = late("merged")
    token = hold_as_if_since(courier, channel, [karma_reply(channel, 11_000, "old", 1, 1)], seconds_ago=61)
    courier.mailbox.hold(channel, token, Held.of(karma_reply(channel, 11_001, "new", 1, 1)))
    courier.mailbox.give_back(channel, token)
    courier.flush(channel)
    assert [m.content for m in fake.messages] == ["old has 1 karma.\nnew has 1 karma."]  # one post
    assert late("merged") == merged + 1


def test_an_answer_is_never_dropped_however_late(make_courier, fake):
    courier = make_courier(start=False, max_delay=60)
    channel = fake.add_guild("answer").channel_ids[0]
    answer = Reply(channel, 12_000, (Line("x has 1 karma."),))  # `@Popple karma x`
    token = hold_as_if_since(courier, channel, [answer], seconds_ago=600)
    courier.mailbox.give_back(channel, token)
    courier.flush(channel)
    assert [m.content for m in fake.messages] == ["x has 1 karma."]


def test_a_post_that_failed_until_it_was_stale_is_given_up(make_courier, fake):
    courier = make_courier(max_delay=1)
    channel = fake.add_guild("outage").channel_ids[0]
    failing_until = time.monotonic() + 2.5
    fake.fail_rest(502, seconds=2.5)  # Discord fails longer than an announcement may wait
    dropped = late("dropped")
    courier.deliver(karma_reply(channel, 13_000, "x", 1, 1))
    assert fake.wait_until(lambda: late("dropped") == dropped + 1, timeout=15)
    time.sleep(max(0.0, failing_until - time.monotonic()))
    courier.deliver(karma_reply(channel, 13_001, "x", 2, 2))  # what comes after goes out as usual
    assert fake.wait_until(lambda: fake.messages, timeout=10)
    assert [m.content for m in fake.messages] == ["x has 2 karma."]
