"""Where karma counts, through the whole distributed path: a server that counts karma only in one
channel and in a category; the gateway says which category a channel is in; chat, thanks and
reactions elsewhere change nothing, and commands answer everywhere."""

import pytest

from karma.models import Karma, LedgerEntry

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


def test_karma_counts_only_in_the_listed_channel_and_category(stack, fake_discord):
    fake = fake_discord
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    guild = fake.add_guild("focused", channels=3)
    for user in (alice, bob):
        fake.add_member(guild, user, manager=user == alice)
    listed, elsewhere, moved = guild.channel_ids
    category = fake.add_category(guild, [moved])  # while the gateway is connected: CHANNEL_UPDATE
    bot = int(fake.bot["id"])

    def command(text, channel_id=listed):
        sent = fake.send(guild, alice, f"<@{bot}> {text}", channel_id=channel_id, mentions=[bot])
        assert fake.wait_until(lambda: fake.replies_to(sent) or fake.reactions_to(sent), timeout=30)
        return fake.replies_to(sent)

    command(f"config channels only <#{listed}> <#{category}>")
    command("config reactions 👍")
    command("config thanks on")
    counted = fake.send(guild, alice, "bob++", channel_id=listed)
    ignored = fake.send(guild, alice, "bob++", channel_id=elsewhere)
    thanks = fake.send(guild, alice, f"thanks <@{bob}>", channel_id=elsewhere, mentions=[bob])
    post = fake.send(guild, bob, "a post", channel_id=elsewhere)
    fake.react(guild, post, alice)
    in_category = fake.send(guild, alice, "bob++", channel_id=moved)
    stack.wait_idle()
    # Each answered (with what bob has by then: the worker's threads apply them at once, and a
    # channel that was told nothing of bob is told his karma as it is now).
    assert fake.replies_to(counted) in (["bob has 1 karma."], ["bob has 2 karma."])
    assert fake.replies_to(in_category) in (["bob has 1 karma."], ["bob has 2 karma."])
    assert fake.replies_to(ignored) == fake.replies_to(thanks) == []
    assert command("karma bob", channel_id=elsewhere) == ["bob has 2 karma."]  # commands answer everywhere
    row = Karma.objects.using("mariadb").get(guild_id=guild.id, subject="bob")
    assert row.karma == 2
    rows = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id)
    assert sorted(rows.values_list("channel_id", "message_id")) == sorted([(listed, counted), (moved, in_category)])
