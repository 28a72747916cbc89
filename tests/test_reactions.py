"""Reactions give karma through the whole distributed path: the fake Discord sends reaction events,
the gateway forwards them stamped in order, two karma workers and a reply worker as the Procfile
starts them apply and announce them; a karma worker is killed mid-stream."""

import signal

import pytest

from karma.models import Karma, LedgerEntry
from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
PEOPLE = 24


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def world(fake_discord):
    fake = fake_discord
    moderator, author, veteran = fake.add_user("mod"), fake.add_user("author"), fake.add_user("veteran")
    people = [fake.add_user(f"fan{n}") for n in range(PEOPLE)]
    robot = fake.add_user("robot", bot=True)
    guild = fake.add_guilds(("reacting",), author, veteran, robot, *people)["reacting"]
    fake.add_member(guild, moderator, manager=True)
    # Sent before any gateway listens: the gateway must ask Discord who wrote it.
    early = fake.send(guild, veteran, "an old message")
    return guild, moderator, author, veteran, people, robot, early


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.deployed("karma1", "worker")
    stack.deployed("karma2", "worker")
    stack.deployed("replies", "replies")
    stack.connected_gateway()
    return stack


def karma(guild, subject="author"):
    row = Karma.objects.using("mariadb").filter(guild_id=guild.id, subject=subject).first()
    return row.karma if row else 0


def said(fake, channel_id):
    return [message.content for message in fake.messages if message.channel_id == channel_id]


def test_reactions_count_once_each_through_a_killed_worker(stack, world, fake_discord):
    fake, (guild, moderator, author, veteran, people, robot, early) = fake_discord, world
    bot = int(fake.bot["id"])
    configured = fake.send(guild, moderator, f"<@{bot}> config reactions 👍 ⬆️", mentions=[bot])
    assert fake.wait_until(lambda: fake.reactions_to(configured), timeout=30)

    post = fake.send(guild, author, "a message worth reacting to")
    other = fake.send(guild, robot, "a bot's message")
    stack.wait_idle()
    fake.react(guild, post, author)  # to your own message: nothing
    fake.react(guild, other, people[0])  # to a bot's: nothing
    fake.react(guild, post, robot)  # by a bot: nothing
    fake.react(guild, post, people[0], emoji="😂")  # not listed: nothing
    fake.react(guild, early, people[0])  # the gateway asks Discord who wrote it
    for person in people:
        fake.react(guild, post, person)
        fake.react(guild, post, person, emoji="⬆️")
    stack.processes["karma1"].kill()  # SIGKILL mid-stream: its tasks go to the other worker
    assert stack.processes["karma1"].popen.returncode == -signal.SIGKILL
    stack.deployed("karma1", "worker")
    stack.wait_idle()
    # Only adds so far: what the channel was told of the author only rose, to the final value.
    told = [int(text.split()[2]) for text in said(fake, guild.channel_ids[0]) if text.startswith("author has")]
    assert told == sorted(told)
    assert told[-1] == karma(guild) == PEOPLE * 2
    for person in people[: PEOPLE // 2]:
        fake.unreact(guild, post, person, emoji="⬆️")
    stack.wait_idle()
    assert karma(guild) == PEOPLE * 2 - PEOPLE // 2
    assert karma(guild, "veteran") == 1
    assert fake.users_fetched == [veteran]  # once, then remembered
    rows = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id, source="react")
    assert rows.count() == 1 + PEOPLE * 2 + PEOPLE // 2  # no change twice
    # What the channel was told last is the final value.
    told = [int(text.split()[2]) for text in said(fake, guild.channel_ids[0]) if text.startswith("author has")]
    assert told[-1] == karma(guild)

    fake.clear_reactions(guild, post, emoji="👍")
    stack.wait_idle()
    assert karma(guild) == PEOPLE - PEOPLE // 2
    fake.clear_reactions(guild, post)
    stack.wait_idle()
    assert karma(guild) == 0
    assert fake.wait_until(lambda: said(fake, guild.channel_ids[0])[-1] == "author has 0 karma.", timeout=30)
    assert "Traceback" not in stack.processes["gateway"].log()
