"""Where Discord is (DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL) and who Popple is to it (DISCORD_TOKEN).

discord.py asks REST for the gateway's address only when it picks the shard count itself, so the
default gateway URL is replaced too.
"""

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from django.conf import settings


def point_discordpy_at_configured_urls():
    Route.BASE = settings.DISCORD_API_BASE_URL.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.DISCORD_GATEWAY_URL)


def require_token():
    """The bot's token; a process that needs it and has none stops with one line."""
    if not settings.DISCORD_TOKEN or any(char.isspace() for char in settings.DISCORD_TOKEN):
        raise SystemExit("popple: configuration error: DISCORD_TOKEN must be set to the bot's token")
    return settings.DISCORD_TOKEN
