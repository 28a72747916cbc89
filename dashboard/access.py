"""Who may run which server from the dashboard: the servers Popple is in where Discord says the
person owns the server or has Manage Server (bit 0x20; Administrator includes it).

Discord's answer is cached in the session for FRESH_FOR (a minute) and read again after that:
every page, every change included, is allowed or refused on an answer at most a minute old, so a
person who lost Manage Server loses the dashboard within a minute, whatever their session.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import logout

from dashboard import discord_api, session
from karma.models import GuildSettings

FRESH_FOR = 60.0  # seconds


@dataclass
class Refused(Exception):
    """The request cannot go on: `reason` is shown on a page with `status`."""

    reason: str
    status: int


class LoginNeeded(Refused):
    """Refused until the person logs in with Discord: the page offers the login."""


def discord_user(request) -> tuple[int, str]:
    user_id, name = request.session[session.DISCORD_USER]
    return int(user_id), name


def changed_by(request) -> str:
    """Who made a change, as chat's changes record it (karma/router.py: changed_by), so that the
    settings history reads alike and forget_user finds them."""
    user_id, name = discord_user(request)
    return f"{name} ({user_id})"


def guilds(request) -> list[dict]:
    """The person's servers as Discord said at most FRESH_FOR ago; read again if older."""
    if not request.user.is_authenticated or session.TOKEN not in request.session:
        raise LoginNeeded("Log in with Discord to manage your servers.", 403)
    at = request.session.get(session.GUILDS_AT)
    if at is not None and time.time() - at < FRESH_FOR:
        return request.session[session.GUILDS]
    try:
        fetched = discord_api.guilds(request.session[session.TOKEN])
    except discord_api.TokenRefused:
        logout(request)
        raise Refused("Discord no longer accepts your login: log in again.", 403) from None
    except discord_api.Unreachable:
        raise Refused("Discord could not be asked which servers you manage. Try again in a minute.", 503) from None
    session.remember_guilds(request.session, fetched)
    return fetched


def may_manage(request, guild_id: int) -> bool:
    """Whether the person's dashboard session says they manage the server, for the public boards'
    link to the dashboard: Discord's last answer however old (no call to Discord for a public
    page; the dashboard checks again when they follow the link). A visitor without a session
    cookie is answered without reading the session: no query."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or session.TOKEN not in request.session:
        return False
    if not request.user.is_authenticated:
        return False
    return any(guild["id"] == guild_id and guild["manages"] for guild in request.session.get(session.GUILDS, []))


def managed_server(request, guild_id: int) -> GuildSettings:
    """The server, if Popple is in it and the person manages it; else Refused, the same answer
    whether the server exists or not (a forged id learns nothing)."""
    managed = {guild["id"] for guild in guilds(request) if guild["manages"]}
    server = GuildSettings.objects.filter(guild_id=guild_id, left_at=None).first() if guild_id in managed else None
    if server is None:
        raise Refused("You cannot manage this server: Discord does not say you have Manage Server there.", 403)
    return server
