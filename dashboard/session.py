"""What a dashboard login keeps in the person's session (server-side, in the database; the
cookie holds only its key): their Discord access token, and the servers Discord said they are in,
with when it said so.

The token is needed while the session lasts, to read the servers again (access.py); it is never
stored elsewhere (SOCIALACCOUNT_STORE_TOKENS is off), and logout revokes it at Discord and deletes
the session. A dashboard session lasts SESSION_HOURS at most, within Discord's token lifetime (7 days).
"""

import time

from allauth.account.signals import user_logged_in
from django.dispatch import receiver

TOKEN = "dashboard:token"  # noqa: S105 (the session key, not a token)
DISCORD_USER = "dashboard:user"  # (id, name) as Discord gave them at login
GUILDS = "dashboard:guilds"
GUILDS_AT = "dashboard:guilds-at"  # time.time() when Discord gave them
SESSION_HOURS = 12


@receiver(user_logged_in)
def remember_discord_login(sender, request, user, sociallogin=None, **kwargs):
    if sociallogin is None or sociallogin.token is None:
        return
    account = sociallogin.account
    request.session[TOKEN] = sociallogin.token.token
    request.session[DISCORD_USER] = [int(account.uid), str(account.extra_data.get("username") or account.uid)]
    request.session.pop(GUILDS, None)
    request.session.pop(GUILDS_AT, None)
    request.session.set_expiry(SESSION_HOURS * 3600)


def remember_guilds(session, guilds: list[dict]) -> None:
    session[GUILDS] = guilds
    session[GUILDS_AT] = time.time()
