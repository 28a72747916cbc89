"""The dashboard against the Discord double: its OAuth2 (testkit/fakeoauth.py) and a world of
people and servers. allauth is pointed at the double by the same settings an operator sets."""

from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from karma.models import GuildSettings
from testkit.fakediscord import FakeDiscord
from testkit.messages import chat as _chat

CALLBACK = "/dashboard/login/discord/login/callback/"


def chat(content, guild_id, **kwargs):
    """testkit's chat message in one of the double's servers: a channel id SQLite can hold (testkit's
    is the server's id times ten, past SQLite's integers for Discord's ids)."""
    return replace(_chat(content, guild_id=guild_id, **kwargs), channel_id=guild_id % 1000)


@dataclass
class World:
    discord: FakeDiscord
    moderator: int  # Manage Server in cafe; owner of shop; a member of club
    member: int  # in cafe, without Manage Server
    cafe: object  # Popple is in it
    club: object  # Popple is in it; the moderator has no Manage Server there
    shop: object  # Popple is in it; the moderator owns it
    garden: object  # the moderator manages it; Popple is not in it


@pytest.fixture
def discord():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


@pytest.fixture
def dashboard_on(settings, discord):
    return turn_on(settings, discord)


def turn_on(settings, discord):
    """The dashboard turned on against the double, as DISCORD_CLIENT_ID and the others do."""
    oauth = discord.oauth
    settings.DASHBOARD_ENABLED = True
    settings.DISCORD_CLIENT_ID = oauth.client_id
    settings.DISCORD_CLIENT_SECRET = oauth.client_secret
    settings.DISCORD_API_BASE_URL = discord.api_url
    settings.DISCORD_OAUTH_AUTHORIZE_URL = oauth.authorize_url
    providers = {**settings.SOCIALACCOUNT_PROVIDERS["discord"]}
    providers["APP"] = {"client_id": oauth.client_id, "secret": oauth.client_secret, "key": ""}
    settings.SOCIALACCOUNT_PROVIDERS = {"discord": providers}
    return discord


@pytest.fixture
def world(dashboard_on, transactional_db):
    discord = dashboard_on
    moderator = discord.add_user("mod")
    member = discord.add_user("member")
    cafe = discord.add_guild("The Café")
    club = discord.add_guild("Club")
    shop = discord.add_guild("Shop", owner_id=moderator)
    garden = discord.add_guild("Garden", with_bot=False)
    discord.add_member(cafe, moderator, manager=True)
    discord.add_member(cafe, member)
    discord.add_member(club, moderator)
    discord.add_member(garden, moderator, admin=True)
    for guild in (cafe, club, shop):
        GuildSettings.objects.create(guild_id=guild.id, name=guild.name)
    return World(discord, moderator, member, cafe, club, shop, garden)


@pytest.fixture
def callback(world, live_server):
    """The redirect URL entered in the double's "developer portal"."""
    world.discord.oauth.redirect_uris.add(live_server.url + CALLBACK)
    return live_server.url + CALLBACK


def consent(discord, location, user_id, decision="authorize"):
    """The person at Discord's consent page (the double's), as a browser would submit it: the
    callback URL Discord sends them back to."""
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    answer = urllib3.PoolManager().request_encode_body(
        "POST",
        discord.oauth.authorize_url,
        fields={**query, "user": str(user_id), "decision": decision},
        encode_multipart=False,
        redirect=False,
    )
    assert answer.status == 302, answer.data
    return answer.headers["Location"]


def local(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def test_client_callback(world):
    world.discord.oauth.redirect_uris.add("http://testserver" + CALLBACK)


@pytest.fixture
def log_in(world, test_client_callback):
    """Log a test client in with Discord as `user_id`, through the double; the callback's answer."""

    def log_in(client, user_id):
        started = client.post("/dashboard/login/discord/login/")
        assert started.status_code == 302, started.content
        return client.get(local(consent(world.discord, started["Location"], user_id)))

    return log_in
