"""Slash commands on the Discord side: registering them, the HTTP endpoint's checks, and completing
a deferred response, against the Discord double over the wire."""

import io
import logging

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from botgateway import slash_answers
from botgateway.rest import DiscordRest
from botgateway.slash_answers import CLAIM_SECONDS, complete
from botgateway.slash_commands import from_discord
from karma.slash import NOT_IN_DMS, SlashAnswer, answer
from testkit.stack import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guild(discord):
    guild = discord.add_guild("slash")
    guild.alice = discord.add_user("alice")
    discord.add_member(guild, guild.alice)
    return guild


def deferred(fake, guild, command="top", options=None):
    """An interaction a gateway has deferred, and its answer as a worker computed it."""
    body = fake._interaction_object(guild, guild.alice, command, options)
    fake.interaction(int(body["id"])).response_type = 5
    return fake.interaction(int(body["id"])), answer(from_discord(body))


@pytest.fixture
def rest(discord):
    client = DiscordRest(discord.api_url, None)
    yield client
    client.close()


def test_completing_edits_the_response_once(discord, guild, rest):
    interaction, done = deferred(discord, guild)
    assert complete(done, rest) is None
    assert (interaction.content, interaction.edits) == ("No one has any karma yet.", 1)
    assert interaction.allowed_mentions == [{"parse": []}]
    assert complete(done, rest) is None  # the same task again
    assert interaction.edits == 1


def test_a_response_being_edited_elsewhere_is_looked_at_again_later(discord, guild, rest):
    interaction, done = deferred(discord, guild)
    cache.add(slash_answers._claim_key(done), True, CLAIM_SECONDS)
    assert complete(done, rest) == CLAIM_SECONDS
    assert interaction.edits == 0


def test_an_expired_answer_is_dropped_with_one_line(discord, guild, rest, caplog):
    _interaction, done = deferred(discord, guild)
    old = ((done.interaction_id >> 22) - 16 * 60 * 1000) << 22
    requests = len(discord.rest_log)
    with caplog.at_level(logging.WARNING):
        assert complete(SlashAnswer(old, done.application_id, done.token, done.content), rest) is None
    assert len(discord.rest_log) == requests  # not even tried
    assert [r.getMessage() for r in caplog.records] == [f"slash command {old} dropped: older than its 15-minute token"]


def test_a_deferral_still_on_its_way_is_waited_for_then_given_up(discord, guild, rest, caplog):
    interaction, done = deferred(discord, guild)
    interaction.response_type = None  # Discord has not seen the deferral yet (HTTP: the web's answer)
    assert complete(done, rest) == 1.0
    interaction.response_type = 5
    assert complete(done, rest, attempt=1) is None
    assert interaction.edits == 1
    # Long after: nothing is coming any more.
    _, late = deferred(discord, guild)
    discord.interaction(late.interaction_id).response_type = None
    aged = SlashAnswer(((late.interaction_id >> 22) - 60_000) << 22, late.application_id, late.token, "x")
    with caplog.at_level(logging.WARNING):
        assert complete(aged, rest) is None
    assert "answer dropped, Discord answered 404" in caplog.text


def test_discord_unreachable_is_tried_again_with_backoff_and_one_line(discord, guild, caplog):
    _, done = deferred(discord, guild)
    unreachable = DiscordRest(f"http://127.0.0.1:{free_port()}/api/v10", None)
    with caplog.at_level(logging.WARNING):
        waits = [complete(done, unreachable, attempt) for attempt in range(3)]
    assert waits == [1, 2, 5]
    assert len(caplog.records) == 1
    assert "Discord unreachable" in caplog.text
    assert done.token not in caplog.text


def test_with_the_cache_unreachable_the_response_is_edited_all_the_same(discord, guild, rest, settings):
    interaction, done = deferred(discord, guild)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    assert complete(done, rest) is None
    assert (interaction.content, interaction.edits) == ("No one has any karma yet.", 1)


def test_sync_commands_overwrites_the_registration(discord, guild, settings):
    out = io.StringIO()
    call_command("sync_commands", stdout=out)
    call_command("sync_commands", stdout=out)
    assert [(c["name"], c["type"]) for c in discord.commands[None]] == [
        *[(name, 1) for name in ("karma", "why", "top", "bottom", "announce", "config", "givers", "plus", "minus")],
        ("Give karma", 2),
        ("Give karma", 3),
    ]
    assert out.getvalue().splitlines()[-1] == (
        "registered 9 slash commands globally: /karma, /why, /top, /bottom, /announce, /config, /givers, /plus, "
        "/minus; "
        "context menus: Give karma (on a person), Give karma (on a message)"
    )
    # Described for Discord's clients in every language Popple speaks (the fake checks them as Discord).
    top = discord.commands[None][2]
    assert top["description_localizations"]["de"] == "Die Namen mit dem meisten Karma"
    assert set(top["options"][0]["description_localizations"]) == {"de", "fr", "es-ES", "pt-BR"}
    assert discord.commands[None][-1]["name_localizations"]["pt-BR"] == "Dar karma"
    call_command("sync_commands", "--guild", str(guild.id), stdout=out)
    assert len(discord.commands[guild.id]) == 11
    assert len(discord.commands[None]) == 11
    settings.DISCORD_TOKEN = "not-the-token"
    with pytest.raises(CommandError, match=r"Discord refused DISCORD_TOKEN \(401\)"):
        call_command("sync_commands")


class TestEndpoint:
    """POST /interactions, signed as Discord signs it (the double's own key)."""

    @pytest.fixture
    def url(self, discord, live_server, settings):
        settings.DISCORD_PUBLIC_KEY = discord.public_key
        return live_server.url + "/interactions"

    def test_ping(self, discord, url):
        status, body, _ = discord.post_interaction(url, body={"type": 1})
        assert (status, body) == (200, {"type": 1})

    @pytest.mark.parametrize("sign, age", [("bad", 0), ("none", 0), ("good", 600), ("good", -600)])
    def test_a_bad_missing_or_stale_signature_is_refused(self, discord, url, sign, age):
        status, body, _ = discord.post_interaction(url, body={"type": 1}, sign=sign, age=age)
        assert (status, body) == (401, "invalid request signature")

    def test_a_slash_command_is_deferred_then_completed(self, discord, guild, url):
        status, body, interaction_id = discord.post_interaction(url, guild, guild.alice, "bottom", {"size": 3})
        assert (status, body) == (200, {"type": 5, "data": {"flags": 0}})
        interaction = discord.interaction(interaction_id)
        assert discord.wait_until(lambda: interaction.content is not None, timeout=10)
        assert (interaction.content, interaction.edits) == ("No one has any karma yet.", 1)

    def test_a_refusal_is_the_answer_itself(self, discord, guild, url):
        status, body, interaction_id = discord.post_interaction(url, guild, guild.alice, "announce", {"setting": "on"})
        assert status == 200
        assert body["type"] == 4
        assert body["data"]["flags"] == 64
        assert body["data"]["allowed_mentions"] == {"parse": []}
        assert discord.interaction(interaction_id).content == body["data"]["content"]

    def test_direct_messages_are_refused(self, discord, guild, url):
        status, body, _ = discord.post_interaction(url, guild, guild.alice, "top", dm=True)
        assert (status, body["type"], body["data"]["flags"]) == (200, 4, 64)
        assert body["data"]["content"] == NOT_IN_DMS

    def test_what_is_not_a_slash_command_is_refused(self, discord, url):
        assert discord.post_interaction(url, body={"type": 3, "data": {}})[0] == 400  # a button
        assert discord.post_interaction(url, body={"type": 2, "data": {}})[0] == 400
        assert discord.post_interaction(url, body=["not", "an", "object"])[0] == 400

    def test_off_without_a_public_key(self, discord, url, settings):
        settings.DISCORD_PUBLIC_KEY = ""
        assert discord.post_interaction(url, body={"type": 1})[0] == 404

    def test_a_replay_is_refused_and_with_the_cache_unreachable_commands_still_pass(
        self, discord, guild, url, settings, caplog
    ):
        status, _, interaction_id = discord.post_interaction(url, guild, guild.alice, "bottom")
        assert status == 200
        assert discord.replay_interaction(url, interaction_id) == (409, "interaction already received")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            }
        }
        status, _, other = discord.post_interaction(url, guild, guild.alice, "bottom")
        assert status == 200
        assert f"slash command {other}: cache unreachable" in caplog.text
