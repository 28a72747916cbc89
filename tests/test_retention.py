"""Retention end to end: Celery beat starts the housekeeping, a real worker runs it, and the gateway
tells the workers when the fake Discord removes Popple from a server or adds it back."""

import sqlite3
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from karma.ledger.rollup import cutoff
from karma.models import GuildSettings, Karma, LedgerEntry, LedgerRollup
from testkit.fakediscord import FakeDiscord
from testkit.processes import Process, clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

DELETE_TASK = r"Sending due task \S+ \(karma\.delete_departed_servers\)"


@pytest.fixture(scope="module")
def world(fake_discord):
    alice = fake_discord.add_user("alice")
    return fake_discord.add_guilds(("kept", "gone", "back", "offline"), alice), alice


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory(
        HOUSEKEEPING_INTERVAL=1, LEDGER_RETENTION_DAYS=8, LEDGER_DETAIL_DAYS=31, DEPARTED_SERVER_RETENTION_DAYS=0
    )
    stack.deployed("karma1", "worker")
    stack.deployed("replies1", "replies")
    stack.beat()
    stack.connected_gateway()
    return stack


def say(fake, guild, author, content):
    message = fake.send(guild, author, content)
    assert fake.wait_until(lambda: fake.replies_to(message))
    return message


def karma(guild):
    return dict(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", "karma"))


def settings_of(guild):
    return GuildSettings.objects.using("mariadb").filter(guild_id=guild.id).first()


def test_beat_has_old_ledger_rows_forget_their_author(stack, world, fake_discord):
    fake, (guilds, alice) = fake_discord, world
    old, new = say(fake, guilds["kept"], alice, "x++"), say(fake, guilds["kept"], alice, "y++")
    ledger = LedgerEntry.objects.using("mariadb")
    # As if it had just aged past the 8 days (beat runs every second: earlier rows are done).
    ledger.filter(message_id=old).update(created_at=timezone.now() - timedelta(days=8, minutes=30))
    assert fake.wait_until(lambda: ledger.get(message_id=old).author_id is None)
    assert ledger.get(message_id=old).author_name == ""
    assert ledger.filter(message_id=new, author_id=alice, author_name="alice").exists()
    assert karma(guilds["kept"]) == {"x": 1, "y": 1}


def test_beat_has_ledger_rows_older_than_the_detail_rolled_up(stack, world, fake_discord):
    fake, (guilds, alice) = fake_discord, world
    message = say(fake, guilds["kept"], alice, "r++")
    ledger = LedgerEntry.objects.using("mariadb")
    # As if it had just aged past the 31 days of detail (beat runs every second: earlier days are done).
    aged = cutoff(31) - timedelta(minutes=30)
    ledger.filter(message_id=message).update(created_at=aged)
    assert fake.wait_until(lambda: not ledger.filter(message_id=message).exists())
    day = LedgerRollup.objects.using("mariadb").get(guild_id=guilds["kept"].id, subject="r")
    assert (day.day, day.delta, day.changes, day.total) == (aged.date(), 1, 1, 1)
    assert karma(guilds["kept"])["r"] == 1


def test_a_server_popple_was_removed_from_is_deleted_and_the_others_stay(stack, world, fake_discord):
    fake, (guilds, alice) = fake_discord, world
    for guild in (guilds["kept"], guilds["gone"]):
        say(fake, guild, alice, "z++")
    fake.remove_bot(guilds["gone"])
    # Recorded through the gateway, then deleted by the next housekeeping run (retention 0 days).
    worker = stack.processes["karma1"]
    worker.wait_for_log(f"Popple left server {guilds['gone'].id}")
    worker.wait_for_log(f"deleted data of server {guilds['gone'].id}, left 0 days ago")
    assert not karma(guilds["gone"])
    assert not LedgerEntry.objects.using("mariadb").filter(guild_id=guilds["gone"].id).exists()
    assert settings_of(guilds["gone"]) is None
    assert karma(guilds["kept"]) == {"z": 1}


def test_a_server_popple_is_added_back_to_keeps_its_data(stack, world, fake_discord):
    fake, (guilds, alice) = fake_discord, world
    guild = guilds["back"]
    say(fake, guild, alice, "w++")
    beat = stack.processes["beat"]
    beat.stop()  # no housekeeping until Popple is back
    fake.remove_bot(guild)
    assert fake.wait_until(lambda: settings_of(guild) is not None and settings_of(guild).left_at is not None)
    fake.add_bot(guild)
    assert fake.wait_until(lambda: settings_of(guild).left_at is None)
    beat.start()
    beat.wait_for_log(DELETE_TASK, count=3)
    stack.wait_idle()
    assert karma(guild) == {"w": 1}
    assert settings_of(guild).left_at is None
    # And Popple answers there again.
    message = fake.send(guild, alice, "w++")
    assert fake.wait_until(lambda: fake.replies_to(message))
    assert fake.replies_to(message) == ["w has 2 karma."]
    assert "rejected" not in stack.processes["karma1"].log()


def test_a_server_popple_is_added_back_to_while_no_gateway_runs_keeps_its_data(stack, world, fake_discord):
    fake, (guilds, alice) = fake_discord, world
    guild = guilds["offline"]
    say(fake, guild, alice, "v++")
    beat = stack.processes["beat"]
    beat.stop()
    fake.remove_bot(guild)
    assert fake.wait_until(lambda: settings_of(guild) is not None and settings_of(guild).left_at is not None)
    stack.processes["gateway"].stop()
    fake.add_bot(guild)  # no gateway hears it: the next one finds the server among those it is in
    stack.connected_gateway()
    assert fake.wait_until(lambda: settings_of(guild).left_at is None)
    beat.start()
    beat.wait_for_log(DELETE_TASK, count=3)
    stack.wait_idle()
    assert karma(guild) == {"v": 1}


def test_runbot_runs_the_housekeeping_itself(tmp_path):
    """One process, no broker and no beat: `runbot` runs the same housekeeping on the same interval."""
    fake = FakeDiscord().start()
    guild, other = fake.add_guild("gone"), fake.add_guild("kept")
    alice = fake.add_user("alice")
    for server in (guild, other):
        fake.add_member(server, alice)
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/popple.sqlite3",
        GATEWAY_OUTBOX_PATH=f"{tmp_path}/outbox.sqlite3",
        HOUSEKEEPING_INTERVAL=1,
        DEPARTED_SERVER_RETENTION_DAYS=0,
        **fake.environment(),
    )
    bot = Process("runbot", [sys.executable, "manage.py", "runbot"], env, tmp_path).start()
    try:
        bot.wait_for_log("connected to Discord as Popple")
        for server in (guild, other):
            say(fake, server, alice, "x++")
        fake.remove_bot(guild)
        bot.wait_for_log(f"deleted data of server {guild.id}, left 0 days ago")
        bot.wait_for_log("anonymised 0 ledger rows older than 365 days")
    finally:
        bot.stop()
        fake.stop()
    with sqlite3.connect(tmp_path / "popple.sqlite3") as db:
        assert db.execute("SELECT guild_id, subject, karma FROM karma_karma").fetchall() == [(other.id, "x", 1)]
