"""Answers before announcements, through the reply workers the Procfile starts, when the bot's
global request budget is saturated: the fake Discord allows 5 requests a second, and 40 channels'
announcements ask for more at once."""

import time

import pytest

from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
CHANNELS = 40


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
    stack.deployed("replies", "replies")
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
    assert fake.wait_until(lambda: all(fake.replies_to(message) for message in announced), timeout=60)
    assert fake.rate_limit_violations() == 0  # and no 429 for it
