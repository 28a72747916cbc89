"""A server's own ways, through the whole distributed path (gateway, karma worker, reply worker):
answers in its language, and its moderators' log."""

import pytest

from testkit.answers import announcement

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


def moderator_in(fake, guild, name):
    person = fake.add_user(name)
    fake.add_member(guild, person, manager=True)
    bot = int(fake.bot["id"])

    def command(text):
        sent = fake.send(guild, person, f"<@{bot}> {text}", mentions=[bot])
        assert fake.wait_until(lambda: fake.replies_to(sent) or fake.reactions_to(sent), timeout=30)
        return fake.replies_to(sent)

    return person, command


def test_a_german_server_is_answered_in_german_until_it_picks_french(stack, fake_discord):
    fake = fake_discord
    guild = fake.add_guild("heim", locale="de")  # its GUILD_CREATE says so, before any message
    alice, command = moderator_in(fake, guild, "alice")
    first = fake.send(guild, alice, "tee++")
    assert fake.wait_until(lambda: fake.replies_to(first), timeout=30)
    assert announcement("de").fullmatch(fake.replies_to(first)[0])["count"] == "1"
    command("config language fr")
    second = fake.send(guild, alice, "tee++")
    assert fake.wait_until(lambda: fake.replies_to(second), timeout=30)
    assert announcement("fr").fullmatch(fake.replies_to(second)[0])["count"] == "2"


def test_the_moderators_log_gets_each_settings_change_once(stack, fake_discord):
    fake = fake_discord
    guild = fake.add_guild("logged", channels=2)
    general, log = guild.channel_ids
    bob, command = moderator_in(fake, guild, "bob")
    command(f"config log <#{log}>")
    command("config cooldown 5m")
    command("config budget 20")
    stack.wait_idle()
    assert fake.wait_until(lambda: len([m for m in fake.messages if m.channel_id == log]) >= 3, timeout=30)
    logged = "\n".join(m.content for m in fake.messages if m.channel_id == log).splitlines()
    assert [line.split(" set ", 1)[1] for line in logged] == [
        f"log to <#{log}> (was off).",
        "cooldown to 5 min (was off).",
        "budget to 20 changes per person per hour (was off).",
    ]
    assert all(f"bob ({bob})" in line for line in logged)
    assert general not in {m.channel_id for m in fake.messages if "set cooldown" in m.content}
