"""Discord's OAuth2, as the double plays it for "Log in with Discord" (the dashboard).

- `GET /oauth2/authorize`: Discord's consent page. The double has no login of its own: the page
  lists its users and the person picks who they are, then *Authorize* or *Cancel*. The client id
  and redirect URI must be the application's; Authorize sends the browser back with a code and the
  state, Cancel with `error=access_denied`.
- `POST /api/v10/oauth2/token`: the code exchange (authorization_code only): the client's id and
  secret, the same redirect URI, the PKCE verifier when a challenge was sent; a code works once,
  for CODE_SECONDS. Anything else: 400 `invalid_grant` or 401 `invalid_client`, as Discord answers.
- `GET /api/v10/users/@me` and `/users/@me/guilds` with `Authorization: Bearer`: the user, and their
  servers (200 an answer, after an id, as Discord pages them) with `owner` and `permissions` (a
  role with Manage Server or Administrator grants it; Administrator and the owner get every
  permission, as Discord computes them).
- `POST /api/v10/oauth2/token/revoke`: the token stops working.
"""

import base64
import hashlib
import html
import secrets
import time
from urllib.parse import urlencode

from aiohttp import web

CODE_SECONDS = 600  # Discord's codes are short-lived
TOKEN_SECONDS = 604800  # and its access tokens last a week
GUILDS_PAGE = 200  # servers per answer of /users/@me/guilds
ALL_PERMISSIONS = (1 << 50) - 1
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
BASE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16)  # what @everyone has in a new server


class DiscordOAuth2:
    def __init__(self, discord, redirect_uri=None):
        self.discord = discord
        self.client_secret = secrets.token_urlsafe(24)
        self.redirect_uris = set()  # the application's redirect URIs (developer portal -> OAuth2)
        self.codes = {}  # code -> dict(user_id, redirect_uri, scope, challenge, expires)
        self.tokens = {}  # token -> dict(user_id, scope, expires)
        self.revoked = []  # tokens revoked, in order
        self.exchanges = []  # (code, status) of every exchange asked for
        self.guild_reads = 0  # GET /users/@me/guilds answered

    @property
    def client_id(self):
        return str(self.discord.application_id)

    @property
    def authorize_url(self):
        return f"http://127.0.0.1:{self.discord.port}/oauth2/authorize"

    def environment(self):
        """The variables that turn the dashboard on against this double."""
        return {
            "DISCORD_CLIENT_ID": self.client_id,
            "DISCORD_CLIENT_SECRET": self.client_secret,
            "DISCORD_OAUTH_AUTHORIZE_URL": self.authorize_url,
        }

    def expire_codes(self):
        for code in self.codes.values():
            code["expires"] = 0

    # -- the consent page --------------------------------------------------------------------

    async def authorize(self, request):
        query = request.query if request.method == "GET" else await request.post()
        problem = self._check_client(query)
        if problem:
            return web.Response(status=400, text=problem)
        if request.method == "GET":
            return web.Response(text=self._consent_page(query), content_type="text/html")
        back = {"state": query["state"]} if "state" in query else {}
        if query.get("decision") != "authorize":
            raise web.HTTPFound(f"{query['redirect_uri']}?{urlencode({'error': 'access_denied', **back})}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "user_id": query["user"],
            "redirect_uri": query["redirect_uri"],
            "scope": query.get("scope", ""),
            "challenge": query.get("code_challenge"),
            "expires": time.time() + CODE_SECONDS,
        }
        raise web.HTTPFound(f"{query['redirect_uri']}?{urlencode({'code': code, **back})}")

    def _check_client(self, query):
        if query.get("client_id") != self.client_id:
            return "Unknown application"
        if query.get("redirect_uri") not in self.redirect_uris:
            return "Invalid OAuth2 redirect_uri"
        if query.get("response_type", "code") != "code":
            return "Unsupported response_type"
        if query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            return "Unsupported code_challenge_method"
        return None

    def _consent_page(self, query):
        people = [user for user in self.discord.users.values() if not user["bot"]]
        options = "".join(f'<option value="{user["id"]}">{html.escape(user["username"])}</option>' for user in people)
        kept = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in query.items()
        )
        return (
            "<!doctype html><title>Discord</title><h1>An external application wants to access your account</h1>"
            f"<p>Scopes: {html.escape(query.get('scope', ''))}</p>"
            f'<form method="post">{kept}<label>You are <select name="user">{options}</select></label>'
            '<button name="decision" value="authorize">Authorize</button>'
            '<button name="decision" value="cancel">Cancel</button></form>'
        )

    # -- the API -----------------------------------------------------------------------------

    def handles(self, path):
        return path.startswith(("/oauth2/token", "/users/@me"))

    async def route(self, request, path):
        if request.method == "POST" and path == "/oauth2/token":
            return self._exchange(await request.post())
        if request.method == "POST" and path == "/oauth2/token/revoke":
            return self._revoke(await request.post(), request.headers)
        if path.startswith("/users/@me") and request.headers.get("Authorization", "").startswith("Bearer "):
            return self._as_user(request, path)
        return None  # the bot's own /users/@me: the double's REST answers it

    def _error(self, error, status=400):
        return web.json_response({"error": error}, status=status)

    def _client_ok(self, form, headers):
        if "Authorization" in headers and headers["Authorization"].startswith("Basic "):
            client_id, _, secret = base64.b64decode(headers["Authorization"][6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        return client_id == self.client_id and secret == self.client_secret

    def _exchange(self, form):
        code = form.get("code", "")
        answer = self._exchanged(form, code)
        self.exchanges.append((code, answer.status))
        return answer

    def _exchanged(self, form, code):
        if not self._client_ok(form, {}):
            return self._error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return self._error("unsupported_grant_type")
        grant = self.codes.pop(code, None)  # a code works once
        if grant is None or grant["expires"] < time.time() or grant["redirect_uri"] != form.get("redirect_uri"):
            return self._error("invalid_grant")
        if grant["challenge"]:
            verifier = form.get("code_verifier", "").encode()
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if computed != grant["challenge"]:
                return self._error("invalid_grant")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = {
            "user_id": grant["user_id"],
            "scope": grant["scope"],
            "expires": time.time() + TOKEN_SECONDS,
        }
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": grant["scope"],
            }
        )

    def _revoke(self, form, headers):
        if not self._client_ok(form, headers):
            return self._error("invalid_client", 401)
        if self.tokens.pop(form.get("token", ""), None) is not None:
            self.revoked.append(form["token"])
        return web.json_response({})

    def _as_user(self, request, path):
        grant = self.tokens.get(request.headers["Authorization"][len("Bearer ") :])
        if grant is None or grant["expires"] < time.time():
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        scopes = grant["scope"].split()
        if path == "/users/@me" and "identify" in scopes:
            return web.json_response(self.discord.users[grant["user_id"]])
        if path == "/users/@me/guilds" and "guilds" in scopes:
            self.guild_reads += 1
            # Discord's paging: at most `limit` (200, the default and the most), after an id.
            limit = min(int(request.query.get("limit", GUILDS_PAGE)), GUILDS_PAGE)
            after = int(request.query.get("after", 0))
            mine = [guild for guild in self._guilds_of(int(grant["user_id"])) if int(guild["id"]) > after]
            return web.json_response(sorted(mine, key=lambda guild: int(guild["id"]))[:limit])
        return web.json_response({"message": "Missing Access", "code": 50001}, status=403)

    def _guilds_of(self, user_id):
        answer = []
        for guild in list(self.discord.guilds.values()) + list(self.discord.guilds_without_bot.values()):
            if user_id not in guild.members:
                continue
            roles = guild.members[user_id]
            permissions = BASE_PERMISSIONS
            if str(guild.manager_role_id) in roles:
                permissions |= MANAGE_GUILD
            if guild.owner_id == user_id or str(guild.admin_role_id) in roles:
                permissions = ALL_PERMISSIONS
            answer.append(
                {
                    "id": str(guild.id),
                    "name": guild.name,
                    "icon": guild.icon,
                    "owner": guild.owner_id == user_id,
                    "permissions": str(permissions),
                    "features": [],
                }
            )
        return answer
