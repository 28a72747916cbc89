"""Slash commands in the domain: what is refused at once, what a worker answers, and when it is
too late to (Discord's JSON: botgateway/tests/test_slash_commands.py)."""

import itertools
import time

import pytest

from karma.models import Karma, LedgerEntry, SettingChange
from karma.router import respond
from karma.slash import (
    BAD_SIZE,
    FORBIDDEN,
    NO_KARMA_FOR_BOTS,
    NO_NAMES,
    NO_SETTING,
    ONE_NAME,
    UNKNOWN_COMMAND,
    Ack,
    SlashAnswer,
    SlashCommand,
    acknowledge,
    answer,
    too_late,
)
from testkit.databases import DATABASES
from testkit.messages import chat, discord_messages

_ids = itertools.count(1)


def slash_command(command="top", options=None, manager=False, guild_id=7, answer_by=None):
    """A slash command as the gateway hands it over."""
    return SlashCommand(
        interaction_id=next(_ids),
        application_id=900,
        token="interaction-token",
        guild_id=guild_id,
        channel_id=70,
        user_id=501,
        user_name="alice",
        user_global_name="Alice",
        user_nick="al",
        can_manage=manager,
        command=command,
        options=dict(options or {}),
        answer_by=time.time() + 600 if answer_by is None else answer_by,
    )


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
        ("plus", {"name": "(the build server)", "reason": "green again"}, False, Ack(ephemeral=True)),
        ("minus", {"name": "coffee"}, False, Ack(ephemeral=True)),
        ("plus", {"name": "tea coffee"}, False, Ack(ONE_NAME)),
        ("plus", {"name": "`code`"}, False, Ack(ONE_NAME)),
        ("plus", {}, False, Ack(ONE_NAME)),
        ("minus", {"name": "tea", "reason": 5}, False, Ack(ONE_NAME)),
        ("Give karma", {"user": 602, "name": "bob", "bot": 0}, False, Ack(ephemeral=True)),
        ("Give karma", {"user": 602, "name": "robot", "bot": 1}, False, Ack(NO_KARMA_FOR_BOTS)),
        ("Give karma", {"name": "bob"}, False, Ack(UNKNOWN_COMMAND)),
    ],
)
def test_acknowledge(command, options, manager, ack):
    assert acknowledge(slash_command(command, options, manager)) == ack


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
        assert len(discord_messages(respond(chat("@Popple top 100", guild_id=33)))) == 2

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


def test_an_interaction_past_its_answer_time_is_too_late():
    assert not too_late(slash_command())
    assert too_late(slash_command(answer_by=time.time() - 1))
    assert not too_late(slash_command(answer_by=0.0))  # not said (an older gateway): answered


def test_a_payload_from_a_gateway_older_than_answer_by_is_answered():
    payload = slash_command().to_payload()
    del payload["answer_by"]
    assert SlashCommand.from_payload(payload).answer_by == 0.0


@pytest.mark.django_db(databases=DATABASES)
def test_plus_and_minus_count_once_under_the_rules_as_chat_does(database):
    """/plus and /minus: `name++ for reason` and `name--`, one ledger row per interaction however
    often its task is delivered, and the rules' refusals said to the giver."""
    guild_id = next(_ids) + 5000
    plus = slash_command("plus", {"name": "(the build server)", "reason": "green\nagain "}, guild_id=guild_id)
    assert answer(plus).content == "the build server has 1 karma."
    assert answer(plus).content == "the build server has 1 karma."  # redelivered: said again, counted once
    assert answer(slash_command("minus", {"name": "tea"}, guild_id=guild_id)).content == "tea has -1 karma."
    rows = LedgerEntry.objects.filter(guild_id=guild_id).order_by("id")
    assert list(rows.values_list("subject", "delta", "message_id", "reason")) == [
        ("the build server", 1, plus.interaction_id, "green again"),
        ("tea", -1, rows[1].message_id, ""),
    ]
    assert respond(chat("@Popple karma (the build server) tea", guild_id=guild_id)).text() == (
        "the build server has 1 karma. tea has -1 karma."
    )
    assert answer(slash_command("plus", {"name": "alice"}, guild_id=guild_id)).content == (
        "You cannot give yourself karma."
    )
    assert not Karma.objects.filter(guild_id=guild_id, subject="alice").exists()
