"""What the dashboard asks Discord with a person's access token: the servers they are in, with
their permissions there; and, at logout, to revoke the token."""

import json
import logging

import urllib3
from django.conf import settings

logger = logging.getLogger(__name__)
TIMEOUT = urllib3.Timeout(connect=3.0, read=5.0)
_http = urllib3.PoolManager(retries=False, timeout=TIMEOUT)
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3  # Discord grants every permission with it
PAGE = 200  # servers per answer of /users/@me/guilds: Discord's most


class TokenRefused(Exception):
    """Discord no longer accepts the token (expired or revoked): the person must log in again."""


class Unreachable(Exception):
    """Discord did not answer (an outage, a rate limit): nothing can be checked now."""


def guilds(token: str) -> list[dict]:
    """The person's servers: [{"id", "name", "icon", "manages"}], `manages` when they own the
    server or have Manage Server (or Administrator) there."""
    found: list[dict] = []
    while True:  # Discord gives at most PAGE servers an answer, in id order
        page = _page(token, after=found[-1]["id"] if found else 0)
        found += [_guild(guild) for guild in page]
        if len(page) < PAGE:
            return found


def _page(token: str, after: int) -> list[dict]:
    url = f"{settings.DISCORD_API_BASE_URL}/users/@me/guilds?limit={PAGE}&after={after}"
    try:
        response = _http.request("GET", url, headers={"Authorization": f"Bearer {token}"})
    except urllib3.exceptions.HTTPError as problem:
        raise Unreachable(type(problem).__name__) from None
    if response.status == 401:
        raise TokenRefused
    if response.status != 200:
        raise Unreachable(f"HTTP {response.status}")
    return json.loads(response.data)


def _guild(guild: dict) -> dict:
    permissions = int(guild.get("permissions", 0))
    return {
        "id": int(guild["id"]),
        "name": str(guild.get("name") or ""),
        "icon": str(guild.get("icon") or ""),
        "manages": bool(guild.get("owner")) or bool(permissions & (MANAGE_GUILD | ADMINISTRATOR)),
    }


def revoke(token: str) -> None:
    """Tell Discord the token is done with (logout); a failure is logged, never the token."""
    try:
        response = _http.request_encode_body(
            "POST",
            f"{settings.DISCORD_API_BASE_URL}/oauth2/token/revoke",
            fields={
                "token": token,
                "token_type_hint": "access_token",
                "client_id": settings.DISCORD_CLIENT_ID,
                "client_secret": settings.DISCORD_CLIENT_SECRET,
            },
            encode_multipart=False,
        )
    except urllib3.exceptions.HTTPError as problem:
        logger.warning("could not revoke a dashboard login's Discord token: %s", type(problem).__name__)
        return
    if response.status != 200:
        logger.warning("Discord answered %d to revoking a dashboard login's token", response.status)
