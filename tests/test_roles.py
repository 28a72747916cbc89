"""Role rewards through the double, which enforces Manage Roles and the role hierarchy: `runbot` in
one process, and (services) a gateway, a karma worker and a reply worker on the real services."""

import pytest

from botgateway.roles import notice_text
from testkit.fakediscord import BOT_ROLE_POSITION, FakeDiscord
from tests.test_runbot import configure, runbot


@pytest.fixture
def fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


@pytest.fixture
def server(fake):
    """A server where alice moderates and bob chats, with a Helper role Popple may give."""
    guild = fake.add_guild("home")
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild, alice, manager=True)
    fake.add_member(guild, bob)
    return guild, alice, bob, fake.add_role(guild, "Helper", position=1)


def role_puts(fake):
    return [path for method, path, status in fake.rest_log if method == "PUT" and "/roles/" in path]


def introduce(fake, guild, person):
    """`person` says something with karma: once applied, Popple knows them by their username."""
    said = fake.send(guild, person, "tea++")
    assert fake.wait_until(lambda: fake.replies_to(said))


def notices(fake):
    return [message.content for message in fake.messages if message.content.startswith("I could not give")]


def test_runbot_gives_the_role_at_the_threshold_once_and_takes_it_back_below(fake, server, tmp_path):
    guild, alice, bob, helper = server
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, f"roles 10 <@&{helper}>")
        introduce(fake, guild, bob)
        nine = fake.send(guild, alice, " ".join(["bob++"] * 9))
        assert fake.wait_until(lambda: fake.replies_to(nine) == ["bob has 9 karma."])
        assert helper not in fake.roles_of(guild, bob)
        ten = fake.send(guild, alice, "bob++")
        assert fake.wait_until(lambda: helper in fake.roles_of(guild, bob))
        fake.deliver_again(guild, ten)  # Discord delivers the message once more
        fake.send(guild, alice, "bob--")
        assert fake.wait_until(lambda: helper not in fake.roles_of(guild, bob))
    finally:
        bot.stop()
    assert fake.role_changes == [(guild.id, bob, helper, "add"), (guild.id, bob, helper, "remove")]
    assert len(role_puts(fake)) == 1  # the redelivered message gave the role no second time
    assert notices(fake) == []
    assert bot.popen.returncode == 0


def test_runbot_tells_the_moderators_once_without_manage_roles(fake, server, tmp_path):
    guild, alice, bob, helper = server
    fake.set_bot_permissions(guild, manage_roles=False)
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, f"roles 1 <@&{helper}>")
        introduce(fake, guild, bob)
        for text in ("bob++", "bob--", "bob++"):  # three crossings
            said = fake.send(guild, alice, text)
            assert fake.wait_until(lambda said=said: fake.replies_to(said))
        assert fake.wait_until(lambda: notices(fake))
        fake.set_bot_permissions(guild, manage_roles=True)  # a moderator gives Popple Manage Roles
        fake.send(guild, alice, "bob++")
        assert fake.wait_until(lambda: helper in fake.roles_of(guild, bob))
    finally:
        bot.stop()
    assert notices(fake) == [notice_text(helper)]
    [notice] = [message for message in fake.messages if message.content == notice_text(helper)]
    assert notice.channel_id == guild.channel_ids[0]  # where the karma changed
    assert notice.allowed_mentions == {"parse": []}  # the role is named, no one is pinged


def test_runbot_tells_the_moderators_once_of_a_role_above_its_own(fake, server, tmp_path):
    guild, alice, bob, helper = server
    legend = fake.add_role(guild, "Legend", position=BOT_ROLE_POSITION + 5)
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, f"roles 1 <@&{helper}> 2 <@&{legend}>")
        configure(fake, guild, alice, "rolestack on")
        introduce(fake, guild, bob)
        for text in ("bob++ bob++", "bob--", "bob++", "bob++"):  # Legend's threshold crossed twice
            said = fake.send(guild, alice, text)
            assert fake.wait_until(lambda said=said: fake.replies_to(said))
        assert fake.wait_until(lambda: helper in fake.roles_of(guild, bob) and notices(fake))
    finally:
        bot.stop()
    assert fake.roles_of(guild, bob) == {helper}
    assert notices(fake) == [notice_text(legend)]
