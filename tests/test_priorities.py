"""A saturated global budget, through the reply workers the Procfile starts: the fake Discord
allows 5 requests a second, and announcements in tens of channels ask for more. Answers go first,
servers share the budget fairly, and an announcement that waited longer than ANNOUNCE_MAX_DELAY
(5 s here) is merged or dropped, and counted: each is posted or counted, none held forever."""

import threading
import time

import pytest
import redis

from testkit.fakediscord import FakeDiscord
from testkit.metrics import scrape, value
from testkit.stack import REDIS_URL, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
CHANNELS = 40
METRICS_PORT = free_port()


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord(global_limit=5)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(stack_factory):
    stack = stack_factory()
    stack.deployed("karma", "worker")
    stack.deployed("replies", "replies", ANNOUNCE_MAX_DELAY="5", METRICS_PORT=str(METRICS_PORT))
    stack.connected_gateway()
    return stack


def test_a_command_is_answered_while_announcements_wait_for_the_budget(stack, fake_discord):
    fake = fake_discord
    alice = fake.add_user("alice")
    guild = fake.add_guild("busy", channels=CHANNELS + 1)
    fake.add_member(guild, alice)
    *busy, quiet = guild.channel_ids
    announced = [fake.send(guild, alice, f"thing{n}++", channel_id=channel) for n, channel in enumerate(busy)]
    assert fake.wait_until(lambda: len(fake.messages) >= 5, timeout=30)  # the budget is spent from here on
    bot = int(fake.bot["id"])
    asked_at = time.monotonic()
    asked = fake.send(guild, alice, f"<@{bot}> karma thing0", channel_id=quiet, mentions=[bot])
    assert fake.wait_until(lambda: fake.replies_to(asked), timeout=30)
    waited = time.monotonic() - asked_at
    still_held = sum(1 for message in announced if not fake.replies_to(message))
    assert still_held > 10  # the announcements were still waiting for the budget
    assert waited < 3  # the answer was not: it had its reserve
    # Each announcement is posted, or waited too long and was dropped (one line each, counted).
    assert fake.wait_until(lambda: posted_or_dropped(fake, announced) == len(announced), timeout=60)
    assert fake.rate_limit_violations() == 0  # and no 429 for it
    assert fake.wait_until(lambda: not held_anywhere(), timeout=30)


def late(outcome):
    return value(scrape(METRICS_PORT), "popple_announcements_late_total", outcome=outcome)


def posted_or_dropped(fake, messages):
    return sum(1 for message in messages if fake.replies_to(message)) + late("dropped")


def held_anywhere():
    return redis.Redis.from_url(REDIS_URL).keys("*replies:held:*")


def test_a_server_that_talks_far_more_than_the_others_does_not_starve_them(stack, fake_discord):
    """One server's 30 channels ask for 30 announcements a second for 8 seconds; eight quiet
    servers say one thing each meanwhile. Each quiet announcement waits for at most a few of the
    busy server's posts (its fair share), not for every busy channel that was due before it."""
    fake = fake_discord
    alice = fake.add_user("carol")
    busy = fake.add_guild("chatty", channels=30)
    quiet = [fake.add_guild(f"quiet{n}") for n in range(8)]
    for guild in (busy, *quiet):
        fake.add_member(guild, alice)
    dropped_before = late("dropped")

    def stream():
        for round_ in range(8):
            for channel in busy.channel_ids:
                fake.send(busy, alice, f"chatter{channel % 7}++", channel_id=channel)
            time.sleep(max(0.0, 1 - (time.monotonic() - started) % 1))
            if round_ == 3:
                sent_quiet.set()

    started, sent_quiet = time.monotonic(), threading.Event()
    talker = threading.Thread(target=stream)
    talker.start()
    assert sent_quiet.wait(30)
    asked = []
    for guild in quiet:
        asked.append((len(fake.messages), fake.send(guild, alice, f"{guild.name}++")))
    talker.join()
    assert fake.wait_until(lambda: all(fake.replies_to(message) for _, message in asked), timeout=60)
    busy_channels = set(busy.channel_ids)
    for before, message in asked:
        answered = next(i for i, m in enumerate(fake.messages) if m.nonce and m.nonce.startswith(f"{message}."))
        busy_in_between = sum(1 for m in fake.messages[before:answered] if m.channel_id in busy_channels)
        # Without shares it waited behind each of the 30 busy channels due before it.
        assert busy_in_between <= 12, (message, busy_in_between)
    assert fake.rate_limit_violations() == 0
    # The busy channels' announcements that waited too long were merged or dropped, and counted.
    assert fake.wait_until(lambda: not held_anywhere(), timeout=60)
    assert late("dropped") + late("merged") > dropped_before
