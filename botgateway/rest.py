"""Discord's REST API as replies use it: post a message, add a reaction, change a member's roles,
and report the answer.

Written on urllib3 rather than discord.py's HTTP client on purpose: that client waits out rate
limits by sleeping inside the request, and retries 429s itself, which holds a worker thread for as
long as Discord says. Here a request is made only when the shared budget allows it
(botgateway/ratelimits.py), and every answer goes back to the caller with its headers, to decide.
"""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3

USER_AGENT = "DiscordBot (https://github.com/connorkuehl/popple, 2.0) Popple"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Any  # urllib3's case-insensitive header mapping
    body: Any  # the JSON body, or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class DiscordRest:
    """A pool of keep-alive connections to Discord's REST API, shared by a process's threads."""

    # Well within a channel's lease (botgateway/mailbox.py), which a request must not outlive.
    def __init__(self, base_url: str, token: str | None, timeout: float = 6.0):
        self.base_url = base_url.rstrip("/")
        self._base_path = urllib3.util.parse_url(self.base_url).path or ""
        # Without a token: the interaction routes only, which an interaction's own token authorises.
        self._plain_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        self._headers = {**self._plain_headers, "Authorization": f"Bot {token}"} if token else self._plain_headers
        # No retries here: a failed request is the caller's to hold and try again later. One host's
        # pool rather than a PoolManager: every request goes to the same host, and the manager's
        # look-up of the pool by the URL's normalised key was 6 % of the reply workers' CPU (py-spy).
        self._pool = urllib3.connection_from_url(
            self.base_url, maxsize=16, block=False, retries=False, timeout=urllib3.Timeout(total=timeout, connect=3.0)
        )

    def create_message(self, channel_id: int, content: str, nonce: str) -> Answer:
        """Post `content`; the same nonce again returns the message posted before (Discord's dedup)."""
        body = {
            "content": content,
            "nonce": nonce,
            "enforce_nonce": True,
            "allowed_mentions": {"parse": []},  # never ping anyone, whatever the names hold
        }
        return self._request("POST", f"/channels/{channel_id}/messages", body)

    def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> Answer:
        return self._request("PUT", f"/channels/{channel_id}/messages/{message_id}/reactions/{quote(emoji)}/@me")

    def member_role(self, method: str, guild_id: int, user_id: int, role_id: int) -> Answer:
        """Give (PUT) or take back (DELETE) a member's role; doing it again changes nothing."""
        return self._request(method, f"/guilds/{guild_id}/members/{user_id}/roles/{role_id}")

    def edit_original_response(self, application_id: int, interaction_token: str, content: str) -> Answer:
        """Turn a deferred interaction response into `content`; doing it again changes nothing.

        Authorised by the interaction's token, in the path: the bot's token is not sent.
        """
        body = {"content": content, "allowed_mentions": {"parse": []}}
        path = f"/webhooks/{application_id}/{quote(interaction_token, safe='')}/messages/@original"
        return self._request("PATCH", path, body, headers=self._plain_headers)

    def put_commands(self, application_id: int, commands: list[dict], guild_id: int | None = None) -> Answer:
        """Replace the registered slash commands (of one server with `guild_id`) by `commands`."""
        scope = f"/guilds/{guild_id}" if guild_id else ""
        return self._request("PUT", f"/applications/{application_id}{scope}/commands", commands)

    def application(self) -> Answer:
        return self._request("GET", "/oauth2/applications/@me")

    def _request(self, method: str, path: str, body: dict | list | None = None, headers: dict | None = None) -> Answer:
        """Raises urllib3.exceptions.HTTPError when Discord could not be reached or did not answer."""
        response = self._pool.request(
            method,
            self._base_path + path,
            body=json.dumps(body).encode() if body is not None else None,
            headers=headers or self._headers,
        )
        try:
            parsed = json.loads(response.data) if response.data else None
        except ValueError:
            parsed = None  # an HTML error page from Discord's edge
        return Answer(response.status, response.headers, parsed)

    def close(self) -> None:
        self._pool.close()
