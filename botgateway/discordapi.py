"""Where Discord is (DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL) and who Popple is to it (DISCORD_TOKEN).

discord.py asks REST for the gateway's address only when it picks the shard count itself, so the
default gateway URL is replaced too.
"""

import base64
import binascii
import hashlib

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


def redis_prefix() -> str:
    """Where this bot's state starts in Redis: `popple:<namespace>:`.

    The namespace is REDIS_NAMESPACE, or else the bot's application id, which a Discord token
    starts with (base64): two bots sharing one Redis (a test bot beside the real one) share no
    budget, no held reply and no memory of what a channel was told.
    """
    namespace = settings.REDIS_NAMESPACE or _application_id(require_token())
    return f"popple:{namespace}:"


def _application_id(token: str) -> str:
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded.isdigit():
        return decoded
    # Not a token Discord made (a test double's): a digest names it without showing it.
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:16]
