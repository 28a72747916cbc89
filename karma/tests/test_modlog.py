"""The moderators' log, as the one-process default runs it: tasks inline, replies through the real
courier to the fake Discord (the `discord` fixture)."""

import pytest

from karma.ledger import writes
from karma.models import GuildSettings, LedgerEntry, SettingChange
from karma.moderation import actions
from karma.modlog import log_id
from karma.replies import QUESTION
from karma.tasks import handle_message, post_log
from testkit.messages import chat

pytestmark = pytest.mark.django_db(transaction=True)  # log lines are posted on commit
GUILD, LOG = 7, 7777


def said_in(discord, channel):
    return [m.content for m in discord.messages if m.channel_id == channel]


def command(discord, text, author_id=500, can_manage=True):
    message = chat(f"@Popple {text}", guild_id=GUILD, author_id=author_id, can_manage=can_manage)
    handle_message.delay(message.to_payload())
    assert discord.wait_until(
        lambda: discord.replies_to(message.message_id) or discord.reactions_to(message.message_id)
    )
    return message


def test_settings_changes_are_logged_in_the_channel_set(discord):
    command(discord, f"config log <#{LOG}>")
    assert GuildSettings.objects.get(guild_id=GUILD).log_channel == LOG
    assert discord.wait_until(lambda: said_in(discord, LOG))
    assert said_in(discord, LOG) == [f"\N{GEAR}\N{VARIATION SELECTOR-16} user500 (500) set log to <#{LOG}> (was off)."]
    command(discord, "config cooldown 5m")
    assert discord.wait_until(lambda: len(said_in(discord, LOG)) == 2)
    assert said_in(discord, LOG)[1].endswith("user500 (500) set cooldown to 5 min (was off).")
    command(discord, "config log off")  # said in the channel it leaves
    assert discord.wait_until(lambda: len(said_in(discord, LOG)) == 3)
    assert said_in(discord, LOG)[2].endswith(f"set log to off (was <#{LOG}>).")
    command(discord, "config cooldown off")
    assert len(said_in(discord, LOG)) == 3  # no log any more
    assert SettingChange.objects.filter(guild_id=GUILD, setting="log").count() == 2


def test_a_log_that_is_not_a_channel_gets_the_help_and_changes_nothing(discord):
    message = command(discord, "config log the mod channel")
    # The reaction goes after the text, a request of its own.
    assert discord.wait_until(lambda: discord.reactions_to(message.message_id) == [QUESTION])
    assert "log must be a channel" in discord.replies_to(message.message_id)[0]
    assert not GuildSettings.objects.filter(guild_id=GUILD, log_channel__isnull=False).exists()


def test_seasons_reverts_and_merges_are_logged(discord, django_user_model):
    command(discord, f"config log <#{LOG}>")
    moderator = django_user_model.objects.create_user("mod", password="x")
    handle_message.delay(chat("spam++ spam++ ham++", guild_id=GUILD, author_id=666).to_payload())
    assert discord.wait_until(lambda: LedgerEntry.objects.filter(guild_id=GUILD, author_id=666).count() == 2)
    command(discord, "season new Spring")
    actions.revert(LedgerEntry.objects.filter(guild_id=GUILD, author_id=666).order_by("id"), moderator)
    actions.merge(GUILD, "ham", "spam", moderator)
    actions.unmerge(GUILD, "ham", moderator)
    assert discord.wait_until(lambda: len(said_in(discord, LOG)) == 5)
    assert said_in(discord, LOG)[1:] == [
        "\N{GEAR}\N{VARIATION SELECTOR-16} user500 (500) started season 2 (Spring).",
        "\N{LEFTWARDS ARROW WITH HOOK}\N{VARIATION SELECTOR-16} admin mod reverted 2 changes to ham, spam.",
        "\N{TWISTED RIGHTWARDS ARROWS} admin mod merged ham into spam (0 moved).",
        "\N{TWISTED RIGHTWARDS ARROWS} admin mod unmerged ham.",
    ]


def test_someone_often_refused_is_named_once_an_hour(discord):
    command(discord, f"config log <#{LOG}>")
    command(discord, "config cooldown 1h")
    command(discord, "config logrefusals 3")
    for _ in range(6):  # one counts; five refused by the cooldown
        message = chat("target++", guild_id=GUILD, author_id=321, author_name="eager")
        handle_message.delay(message.to_payload())
        assert discord.wait_until(lambda message=message: discord.replies_to(message.message_id))
    assert discord.wait_until(lambda: any("eager" in line for line in said_in(discord, LOG)))
    named = [line for line in said_in(discord, LOG) if "eager" in line]
    assert named == ["\N{NO ENTRY SIGN} eager (321) hit the cooldown 3 times within the hour."]


def test_a_log_line_posted_twice_is_posted_once(discord):
    """A redelivered post_log task: the same line, under the same id."""
    from django.utils import timezone

    from karma.message import Line, Reply

    line = Reply(LOG, log_id(timezone.now(), "setting:1"), (Line("a change."),), guild_id=GUILD)
    post_log.delay(line.to_payload())
    assert discord.wait_until(lambda: said_in(discord, LOG))
    post_log.delay(line.to_payload())
    command(discord, "karma x")  # something after it, through the same courier
    assert said_in(discord, LOG) == ["a change."]


def test_the_log_settings_are_read_with_the_rules():
    GuildSettings.objects.create(guild_id=GUILD, log_channel=LOG, log_refusals=4)
    from django.db import connection

    with connection.cursor() as cursor:
        server = writes.server_rules(cursor, GUILD)
    assert (server.log_channel, server.log_refusals) == (LOG, 4)
