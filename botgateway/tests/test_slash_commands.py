"""Slash commands as Discord has them: the registration, the interaction object, the token's life."""

import itertools
import time

import pytest

from botgateway import slash_commands as slash
from botgateway.slash_commands import from_discord
from botgateway.snowflakes import DISCORD_EPOCH
from karma import config
from karma.slash import BAD_SIZE, NO_KARMA_FOR_BOTS, NOT_IN_DMS, UNKNOWN_COMMAND, Ack, SlashCommand, acknowledge
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
    return from_discord({**discord_json(command, options, permissions, guild_id=guild_id), "id": str(snowflake(age))})


def test_from_discord_reads_what_popple_needs():
    interaction = from_discord(discord_json("karma", {"subjects": "tea"}, permissions=1 << 3))
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
        from_discord(broken)


def test_an_option_popple_never_registered_is_unknown_whatever_its_type():
    body = discord_json("config")
    body["data"]["options"] = [{"name": "set", "type": 1, "options": [{"name": "cooldown", "type": 3, "value": "5"}]}]
    assert acknowledge(from_discord(body)) == Ack(UNKNOWN_COMMAND)
    body["data"]["options"] = [{"name": "size", "type": 5, "value": True}]
    body["data"]["name"] = "top"
    assert acknowledge(from_discord(body)) == Ack(BAD_SIZE)


def test_direct_messages_are_refused():
    assert acknowledge(from_discord(discord_json(dm=True))) == Ack(NOT_IN_DMS)


def test_the_registered_commands():
    commands = {command["name"]: command for command in slash.commands() if command["type"] == slash.CHAT_INPUT}
    assert set(commands) == {"karma", "why", "top", "bottom", "announce", "config", "givers", "plus", "minus"}
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
    plus = {option["name"]: option["required"] for option in commands["plus"]["options"]}
    assert plus == {"name": True, "reason": False} == {o["name"]: o["required"] for o in commands["minus"]["options"]}


def test_the_token_expires_after_fifteen_minutes():
    assert not slash.expired(slash_command(age=14 * 60).interaction_id)
    assert slash.expired(slash_command(age=15 * 60).interaction_id)
    # The domain is told until when it may answer, and refuses as the reply side does.
    assert abs(slash_command(age=14 * 60).answer_by - (time.time() + 30)) < 5


def test_the_registration_is_the_domains_commands_in_discords_json():
    """Every command and option the domain declares, nothing more (karma/slash.py: COMMANDS)."""
    from karma.slash import COMMANDS

    registered = [command for command in slash.commands() if command["type"] == slash.CHAT_INPUT]
    typed = [command for command in COMMANDS if not command.menus]
    assert [command["name"] for command in registered] == [command.name for command in typed]
    for json, command in zip(registered, typed, strict=True):
        assert (json["type"], json["integration_types"]) == (1, [0])
        assert [option["name"] for option in json["options"]] == [option.name for option in command.options]
        assert [option["type"] for option in json["options"]] == [
            slash.STRING if option.kind is str else slash.INTEGER for option in command.options
        ]


@pytest.mark.parametrize("menu", ["user", "message"])
def test_a_context_menu_entry_reads_as_give_karma_to_the_person_clicked(menu):
    """Right-click a person, or a message (its author): Discord says who in `resolved`."""
    bob = {"id": "602", "username": "bob", "global_name": "Bob"}
    target = "602" if menu == "user" else "9001"
    resolved = {"users": {"602": bob}} if menu == "user" else {"messages": {"9001": {"id": "9001", "author": bob}}}
    data = discord_json()
    data["data"] = {"name": "Give karma", "type": 2 if menu == "user" else 3, "target_id": target, "resolved": resolved}
    interaction = from_discord(data)
    assert (interaction.command, interaction.options) == ("Give karma", {"user": 602, "name": "bob", "bot": 0})
    assert acknowledge(interaction) == Ack(ephemeral=True)
    resolved_bot = {"users": {"602": {**bob, "bot": True}}}
    data["data"] = {"name": "Give karma", "type": 2, "target_id": "602", "resolved": resolved_bot}
    assert acknowledge(from_discord(data)) == Ack(NO_KARMA_FOR_BOTS)
    data["data"] = {"name": "Give karma", "type": 2, "target_id": "603", "resolved": resolved}  # not resolved
    with pytest.raises(ValueError, match="not a slash command"):
        from_discord(data)


def test_give_karma_is_registered_on_people_and_on_messages():
    menus = [command for command in slash.commands() if command["type"] != slash.CHAT_INPUT]
    assert [(command["name"], command["type"]) for command in menus] == [
        ("Give karma", slash.USER),
        ("Give karma", slash.MESSAGE),
    ]
    assert all("options" not in command and "description" not in command for command in menus)
    assert all(command["contexts"] == [0] and command["default_member_permissions"] is None for command in menus)


# The locales Discord's clients show a command's translations in (its own codes).
LOCALES = {"de", "fr", "es-ES", "pt-BR"}


def _valid_name(name):
    """Discord's rule for a slash command's or an option's name: ^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$,
    lowercase where the letter has cases (Python's re has no \\p{}: letters and digits by str's tests)."""
    return 1 <= len(name) <= 32 and all(c in "-_" or c.isalnum() for c in name) and name == name.lower()


def test_every_description_is_translated_within_discords_limits():
    for command in slash.commands():
        if command["type"] != slash.CHAT_INPUT:
            continue
        # Names stay the English words chat's commands are: no name_localizations.
        assert _valid_name(command["name"])
        assert "name_localizations" not in command
        described = [command, *command["options"]]
        for item in described:
            assert _valid_name(item["name"])
            assert 1 <= len(item["description"]) <= 100
            translated = item["description_localizations"]
            assert set(translated) == LOCALES, item["name"]
            assert all(1 <= len(text) <= 100 for text in translated.values()), translated
            assert translated["de"] != item["description"], item["description"]  # translated, not copied


def test_the_give_karma_menus_are_named_in_every_language():
    menus = [command for command in slash.commands() if command["type"] != slash.CHAT_INPUT]
    for menu in menus:
        assert set(menu["name_localizations"]) == LOCALES
        # A context menu's name may hold spaces and capitals; 1 to 32 characters.
        assert all(1 <= len(name) <= 32 for name in menu["name_localizations"].values())
    assert menus[0]["name_localizations"]["de"] == "Karma geben"


def test_a_refusal_is_in_the_language_of_the_clients_of_the_person_who_asked():
    asked = from_discord({**discord_json("top"), "locale": "de", "guild_locale": "fr"})
    assert asked.locale == "de"
    assert SlashCommand.from_payload(asked.to_payload()) == asked
    in_dms = from_discord({**discord_json(dm=True), "locale": "pt-BR"})
    assert acknowledge(in_dms).refusal == (
        "Os comandos do Popple funcionam em servidores, onde o karma fica, não em mensagens diretas."
    )
    unknown = from_discord({**discord_json(dm=True), "locale": "ko"})  # a language Popple does not speak
    assert acknowledge(unknown).refusal == str(NOT_IN_DMS)
    # A payload from a gateway older than the locale: English.
    payload = from_discord(discord_json(dm=True)).to_payload()
    del payload["locale"]
    assert acknowledge(SlashCommand.from_payload(payload)).refusal == (
        "Popple's commands work in servers, where karma is kept, not in direct messages."
    )
