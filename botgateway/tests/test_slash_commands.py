"""Slash commands in the domain: what is registered, what is refused at once, what a worker answers."""

import itertools
import time

import pytest

from karma import config, slash
from karma.message import DISCORD_EPOCH
from karma.models import SettingChange
from karma.router import respond
from karma.slash import (
    BAD_SIZE,
    FORBIDDEN,
    NO_NAMES,
    NO_SETTING,
    NOT_IN_DMS,
    UNKNOWN_COMMAND,
    Ack,
    SlashAnswer,
    SlashCommand,
    acknowledge,
    answer,
)
from testkit.messages import chat

_ids = itertools.count(1)


def snowflake(age=0.0):
    """An id Discord would have made `age` seconds ago."""
    ms = int((time.time() - age - DISCORD_EPOCH) * 1000)
    return (ms << 22) | next(_ids)


def discord_json(command="top", options=None, permissions=0, dm=False, guild_id=7):
    """Discord's interaction object for a slash command."""
    user = {"id": "501", "username": "alice", "global_name": "Alice"}
    data = {
        "id": str(snowflake()),
        "application_id": "900",
        "type": 2,
        "token": "interaction-token",
        "data": {
            "name": command,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        },
        "channel_id": "70",
    }
    if dm:
        return {**data, "user": user}
    return {**data, "guild_id": str(guild_id), "member": {"user": user, "nick": "al", "permissions": str(permissions)}}


def slash_command(command="top", options=None, manager=False, guild_id=7, age=0.0):
    permissions = slash.MANAGE_GUILD if manager else 0
    return SlashCommand.from_discord({**discord_json(command, options, permissions, guild_id=guild_id),
                                     "id": str(snowflake(age))})  # fmt: skip


def test_from_discord_reads_what_popple_needs():
    interaction = SlashCommand.from_discord(discord_json("karma", {"subjects": "tea"}, permissions=1 << 3))
    assert (interaction.guild_id, interaction.channel_id, interaction.user_id) == (7, 70, 501)
    assert (interaction.user_name, interaction.user_global_name, interaction.user_nick) == ("alice", "Alice", "al")
    assert interaction.can_manage  # Administrator counts as Manage Server
    assert (interaction.command, interaction.options) == ("karma", {"subjects": "tea"})
    assert SlashCommand.from_payload(interaction.to_payload()) == interaction
    assert SlashCommand.is_one(interaction.to_payload())
    assert not SlashCommand.is_one(chat("x++").to_payload())


@pytest.mark.parametrize(
    "broken",
    [{}, {"id": "1"}, {**discord_json(), "data": None}, {**discord_json(), "member": {"user": {}}}, [], "text"],
)
def test_what_is_not_a_slash_command_is_refused_with_a_reason(broken):
    with pytest.raises(ValueError, match="not a slash command"):
        SlashCommand.from_discord(broken)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {**slash_command().to_payload(), "options": {"size": [1]}},
        {**slash_command().to_payload(), "can_manage": "yes"},
    ],
)
def test_a_malformed_task_payload_is_refused(payload):
    with pytest.raises(ValueError, match="payload"):
        SlashCommand.from_payload(payload)


@pytest.mark.parametrize(
    "command, options, manager, ack",
    [
        ("karma", {"subjects": "tea (the build)"}, False, Ack()),
        ("karma", {"subjects": "`code` ``"}, False, Ack(NO_NAMES)),
        ("karma", {}, False, Ack(NO_NAMES)),
        ("top", {}, False, Ack()),
        ("bottom", {"size": 100}, False, Ack()),
        ("top", {"size": 101}, False, Ack(BAD_SIZE)),
        ("top", {"size": "5"}, False, Ack(BAD_SIZE)),
        ("top", {"colour": "red"}, False, Ack(UNKNOWN_COMMAND)),
        ("shrug", {}, False, Ack(UNKNOWN_COMMAND)),
        ("announce", {"setting": "off"}, True, Ack(ephemeral=True)),
        ("announce", {"setting": "off"}, False, Ack(FORBIDDEN)),
        ("announce", {"setting": "loud"}, True, Ack(UNKNOWN_COMMAND)),
        ("config", {}, False, Ack(ephemeral=True)),  # listing, as `@Popple config` lets anyone
        ("config", {"setting": "cooldown", "value": "5 min"}, True, Ack(ephemeral=True)),
        ("config", {"setting": "cooldown", "value": "5 min"}, False, Ack(FORBIDDEN)),
        ("config", {"setting": "colour", "value": "red"}, True, Ack(UNKNOWN_COMMAND)),
        ("config", {"value": "5"}, True, Ack(NO_SETTING)),
    ],
)
def test_acknowledge(command, options, manager, ack):
    assert acknowledge(slash_command(command, options, manager)) == ack


def test_an_option_popple_never_registered_is_unknown_whatever_its_type():
    body = discord_json("config")
    body["data"]["options"] = [{"name": "set", "type": 1, "options": [{"name": "cooldown", "type": 3, "value": "5"}]}]
    assert acknowledge(SlashCommand.from_discord(body)) == Ack(UNKNOWN_COMMAND)
    body["data"]["options"] = [{"name": "size", "type": 5, "value": True}]
    body["data"]["name"] = "top"
    assert acknowledge(SlashCommand.from_discord(body)) == Ack(BAD_SIZE)


def test_direct_messages_are_refused():
    assert acknowledge(SlashCommand.from_discord(discord_json(dm=True))) == Ack(NOT_IN_DMS)


def test_the_registered_commands():
    commands = {command["name"]: command for command in slash.commands()}
    assert set(commands) == {"karma", "why", "top", "bottom", "announce", "config"}
    assert all(command["contexts"] == [0] for command in commands.values())  # servers only
    manage = str(slash.MANAGE_GUILD)
    assert {name for name, command in commands.items() if command["default_member_permissions"] == manage} == {
        "announce",
        "config",
    }
    size = commands["top"]["options"][0]
    assert (size["min_value"], size["max_value"]) == (1, 100)
    settings = [choice["value"] for choice in commands["config"]["options"][0]["choices"]]
    assert settings == list(config.SETTINGS)  # every setting `@Popple config` knows
    assert {"announce", "cooldown", "ignore"} <= set(settings)


@pytest.mark.django_db
class TestAnswers:
    """What a worker answers: the text commands' own answers, in one message."""

    def test_karma_and_boards_say_what_the_text_commands_say(self):
        respond(chat("tea++ tea++ coffee-- (the build)++", guild_id=31))
        assert answer(slash_command("karma", {"subjects": "tea coffee"}, guild_id=31)).content == (
            "tea has 2 karma. coffee has -1 karma."
        )
        top = answer(slash_command("top", {"size": 2}, guild_id=31))
        assert top.content == respond(chat("@Popple top 2", guild_id=31)).text()
        assert answer(slash_command("bottom", {}, guild_id=31)).content.splitlines()[0] == "* coffee has -1 karma."

    def test_why_says_what_the_text_command_says(self):
        respond(chat("tea++ for warming us up", guild_id=36))
        said = answer(slash_command("why", {"subject": "tea"}, guild_id=36)).content
        assert said == respond(chat("@Popple why tea", guild_id=36)).text()
        assert "warming us up" in said
        assert answer(slash_command("why", {"subject": "coffee"}, guild_id=36)).content == (
            "No reasons recorded for coffee yet."
        )
        assert acknowledge(slash_command("why", {"subject": "``"})) == Ack(NO_NAMES)

    def test_settings_change_once_and_say_how(self):
        first = answer(slash_command("config", {"setting": "cooldown", "value": "90"}, manager=True, guild_id=32))
        again = answer(slash_command("config", {"setting": "cooldown", "value": "90"}, manager=True, guild_id=32))
        assert first.content == again.content == "cooldown: 90 s"
        assert SettingChange.objects.filter(guild_id=32).count() == 1  # a redelivery records nothing more
        assert (
            answer(slash_command("announce", {"setting": "off"}, manager=True, guild_id=32)).content == "announce: off"
        )
        listing = answer(slash_command("config", {}, guild_id=32)).content.splitlines()
        assert "announce: off" in listing
        assert "cooldown: 90 s" in listing
        refused = answer(slash_command("config", {"setting": "budget", "value": "lots"}, manager=True, guild_id=32))
        assert "budget" in refused.content

    def test_a_long_board_is_cut_to_one_message_saying_how_many_more(self):
        names = " ".join(f"{'n' * 30}{i}++" for i in range(100))
        for start in range(0, 100, 20):  # 20 names per message count
            respond(chat(" ".join(names.split()[start : start + 20]), guild_id=33))
        board = answer(slash_command("top", {"size": 100}, guild_id=33)).content
        assert len(board) <= 2000
        shown = board.count("\n* ")
        assert board.endswith(f"\N{HORIZONTAL ELLIPSIS}and {100 - shown - 1} more.")
        # The text command keeps its two messages.
        assert len(respond(chat("@Popple top 100", guild_id=33)).messages()) == 2

    def test_many_subjects_are_cut_as_the_text_command_cuts_them(self):
        subjects = " ".join(f"({'s' * 120} {i})" for i in range(40))
        said = answer(slash_command("karma", {"subjects": subjects}, guild_id=35)).content
        assert len(said) <= 2000
        shown = said.count(" has 0 karma.")
        assert said.endswith(f"\N{HORIZONTAL ELLIPSIS}and {40 - shown} more.")

    def test_the_answer_crosses_the_queue(self):
        done = answer(slash_command("top", {}, guild_id=34))
        assert done.content == "No one has any karma yet."
        assert SlashAnswer.from_payload(done.to_payload()) == done
        with pytest.raises(ValueError, match="content"):
            SlashAnswer.from_payload({**done.to_payload(), "content": "x" * 2001})


def test_the_token_expires_after_fifteen_minutes():
    assert not slash.expired(slash_command(age=14 * 60).interaction_id)
    assert slash.expired(slash_command(age=15 * 60).interaction_id)
