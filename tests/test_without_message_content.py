"""Popple on an app Discord has not granted the Message Content intent: the gateway is refused it
(close code 4014), says so in one line and connects without it; what needs no chat read works,
`x++` in plain chat changes nothing, and `@Popple config` says which mode the server gets."""

import pytest

from karma.models import Karma, LedgerEntry
from karma.replies import CHAT_NOT_READ
from karma.slash import GIVE_KARMA
from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord()
    fake.message_content_allowed = False  # the developer portal's switch, off
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def world(fake_discord):
    alice, bob = fake_discord.add_user("alice"), fake_discord.add_user("bob")
    guild = fake_discord.add_guilds(("unread",), alice, bob)["unread"]
    fake_discord.add_member(guild, alice, manager=True)
    return guild, alice, bob


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.deployed("karma", "worker")
    stack.deployed("replies", "replies")
    stack.connected_gateway()  # asks for the intent (DISCORD_MESSAGE_CONTENT's default), is refused
    return stack


def addressed(fake, guild, user, text):
    """A command that mentions Popple, which Discord shows the bot whatever its intents."""
    bot = int(fake.bot["id"])
    message = fake.send(guild, user, f"<@{bot}> {text}", mentions=[bot])
    assert fake.wait_until(lambda: fake.replies_to(message), timeout=30)
    return fake.replies_to(message)


def test_refused_the_intent_popple_says_so_once_and_counts_what_needs_no_chat(stack, world, fake_discord):
    fake, (guild, alice, bob) = fake_discord, world
    log = stack.processes["gateway"].log()
    assert log.count("Discord refused the Message Content intent (close code 4014)") == 1
    assert "`x++` in plain chat changes nothing" in log
    assert "Traceback" not in log

    plain = fake.send(guild, alice, "bob++ for the review")  # Discord shows the bot an empty message
    assert addressed(fake, guild, alice, "karma bob") == ["bob has 0 karma."]
    plus = fake.interact(guild, alice, "plus", {"name": "bob", "reason": "the review"})
    menu = fake.interact(guild, bob, GIVE_KARMA, menu=("user", alice))
    for interaction_id, said in ((plus, "bob has 1 karma."), (menu, "alice has 1 karma.")):
        assert fake.wait_until(lambda i=interaction_id: fake.interaction(i).content is not None, timeout=30)
        assert fake.interaction(interaction_id).content == said
    assert addressed(fake, guild, bob, "config")[0].splitlines()[-1] == CHAT_NOT_READ
    # Reactions need no chat read.
    addressed(fake, guild, alice, "config reactions 👍")
    blank = fake.send(guild, bob, "a message the bot sees blank")
    fake.react(guild, blank, alice)
    assert fake.wait_until(lambda: any(m.content == "bob has 2 karma." for m in fake.messages), timeout=30)

    stack.wait_idle()
    assert fake.replies_to(plain) == []
    assert dict(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", "karma")) == {
        "bob": 2,
        "alice": 1,
    }
    assert not LedgerEntry.objects.using("mariadb").filter(message_id=plain).exists()
    # Refused once, it connected without the intent, and stayed connected: no loop on 4014.
    assert len(fake.identifies) == 1


def test_told_not_to_ask_the_gateway_never_asks(stack_factory, fake_discord):
    """DISCORD_MESSAGE_CONTENT=false: no refused IDENTIFY, one line saying what works."""
    quiet = stack_factory()
    gateway = quiet.connected_gateway("unasked", DISCORD_MESSAGE_CONTENT="false")
    log = gateway.log()
    assert log.count("DISCORD_MESSAGE_CONTENT is false: reading chat without") == 1
    assert "4014" not in log
    assert "Traceback" not in log
    quiet.stop()
