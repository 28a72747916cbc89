"""The web side end to end: servers known by name through the gateway and a real worker, and the
moderators' revert and merge exact while two workers apply chat at the same time."""

import pytest
from django.contrib.auth import get_user_model

from karma.models import GuildSettings, Karma, LedgerEntry
from karma.moderation import actions
from testkit.databases import pinned

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

BURST = 60


@pytest.fixture(scope="module")
def world(fake_discord):
    alice, spammer = fake_discord.add_user("alice"), fake_discord.add_user("spammer")
    return fake_discord.add_guilds(("Café ☕", "moderated"), alice, spammer), alice, spammer


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.deployed("karma1", "worker")
    stack.deployed("karma2", "worker")
    stack.deployed("replies1", "replies")
    stack.connected_gateway()
    return stack


def server(guild):
    return GuildSettings.objects.using("mariadb").filter(guild_id=guild.id).first()


def karma(guild):
    return dict(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", "karma"))


def test_servers_get_their_names_at_connect_on_join_and_on_rename(stack, world, fake_discord):
    fake, (guilds, _, _) = fake_discord, world
    # Found at connect.
    assert fake.wait_until(
        lambda: server(guilds["Café ☕"]) is not None and server(guilds["Café ☕"]).name == "Café ☕"
    )
    # Renamed, with an icon.
    fake.rename(guilds["Café ☕"], "Tea room 🍵", icon="0123abcd")
    assert fake.wait_until(lambda: server(guilds["Café ☕"]).name == "Tea room 🍵")
    assert server(guilds["Café ☕"]).icon == "0123abcd"
    # Joined later.
    joined = fake.add_guild("newcomers")
    assert fake.wait_until(lambda: server(joined) is not None and server(joined).name == "newcomers")
    assert server(joined).joined_at is not None
    assert "rejected" not in stack.processes["karma1"].log() + stack.processes["karma2"].log()


def test_revert_and_merge_stay_exact_while_two_workers_apply_chat(stack, world, fake_discord):
    fake, (guilds, alice, spammer) = fake_discord, world
    guild = guilds["moderated"]
    with pinned("mariadb"):
        moderator = get_user_model().objects.db_manager("mariadb").create_user("moderator", password="x")
        for _ in range(BURST):
            fake.send(guild, spammer, "spam++ (the build)++")
        # Replies to a burst are merged: the channel is told the last value, not every one.
        said = f"spam has {BURST} karma. the build has {BURST} karma."
        assert fake.wait_until(lambda: said in [m.content for m in fake.messages], timeout=60)
        # While alice keeps giving karma to both names and to the spam, a moderator merges and reverts.
        for _ in range(BURST):
            fake.send(guild, alice, "(the build)++ (the build server)++ spam++")
        moved = actions.merge(guild.id, "the build", "the build server", moderator)
        undone = actions.revert(LedgerEntry.objects.filter(author_id=spammer).order_by("id"), moderator)
        given = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id, author_id=alice)
        assert fake.wait_until(lambda: sum(given.values_list("delta", flat=True)) == 3 * BURST, timeout=60)
        stack.wait_idle()
    assert moved >= BURST
    assert undone == 2 * BURST
    # Everything alice gave counts; none of the spammer's does; the build's karma is the server's.
    assert karma(guild) == {"spam": BURST, "the build": 0, "the build server": 2 * BURST}
    ledger = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id)
    assert sum(ledger.values_list("delta", flat=True)) == 3 * BURST
    assert set(ledger.filter(source__in=["merge", "revert"]).values_list("admin_user__username", flat=True)) == {
        "moderator"
    }
