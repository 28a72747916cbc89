"""Discord's REST API as replies use it: post a message, add a reaction, change a member's roles,
and report the answer.

Written on libcurl (pycurl) rather than discord.py's HTTP client on purpose: that client waits out
rate limits by sleeping inside the request, and retries 429s itself, which holds a worker thread for
as long as Discord says. Here a request is made only when the shared budget allows it
(botgateway/ratelimits.py), and every answer goes back to the caller with its headers, to decide.

libcurl rather than urllib3: libcurl makes the whole request, answer and headers read, without
Python's global lock, where urllib3 parses each answer in Python (http.client's header parsing goes
through the email package). In the one process that applies karma and posts its replies (runbot),
urllib3's posting threads took as much of that lock as applying did, and halved the messages
applied per second (bench/README.md, issue 24).
"""

import contextlib
import json
import os
import ssl
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote

import pycurl
from urllib3 import HTTPHeaderDict

USER_AGENT = "DiscordBot (https://github.com/connorkuehl/popple, 2.0) Popple"
CONNECT_TIMEOUT = 3.0  # seconds
# Methods that carry a body: sent with Content-Length 0 when they have none (as urllib3 did),
# which Discord's edge expects of a PUT.
_WITH_BODY = {"POST", "PUT", "PATCH"}


class Unreachable(Exception):
    """Discord could not be reached, or did not answer in time: try again later."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Any  # a case-insensitive header mapping (urllib3's HTTPHeaderDict)
    content: bytes = b""  # the body as sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @cached_property
    def body(self) -> Any:
        """The JSON body, or None. Parsed when asked for: a posted reply's answer is not read."""
        try:
            return json.loads(self.content) if self.content else None
        except ValueError:
            return None  # an HTML error page from Discord's edge


class DiscordRest:
    """Keep-alive connections to Discord's REST API, shared by a process's threads: a libcurl handle
    per thread (a handle is for one thread at a time), each keeping its connection between requests."""

    # Well within a channel's lease (botgateway/mailbox.py), which a request must not outlive.
    def __init__(self, base_url: str, token: str | None, timeout: float = 6.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Without a token: the interaction routes only, which an interaction's own token authorises.
        plain = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        auth = {**plain, "Authorization": f"Bot {token}"} if token else plain
        self._plain_headers = [f"{name}: {value}" for name, value in plain.items()]
        self._headers = [f"{name}: {value}" for name, value in auth.items()]
        # The certificates Python's ssl module trusts (SSL_CERT_FILE, else the system's), as urllib3
        # used: the libcurl that pycurl's wheel bundles was built for another system's paths.
        trusted = ssl.get_default_verify_paths()
        self._ca_file, self._ca_path = trusted.cafile, trusted.capath
        self._local = threading.local()
        self._handles: list[tuple[int, pycurl.Curl]] = []  # (the process that made it, the handle)
        self._closed = 0  # times closed: a thread's handle from before is not used again
        self._lock = threading.Lock()

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

    def _request(self, method: str, path: str, body: dict | list | None = None, headers: list | None = None) -> Answer:
        """Raises Unreachable when Discord could not be reached or did not answer in time.

        No retries here: a failed request is the caller's to hold and try again later.
        """
        lines: list[bytes] = []
        content: list[bytes] = []
        try:  # (a handle closed meanwhile by close() in another thread fails here too)
            curl = self._handle()
            curl.setopt(pycurl.URL, self.base_url + path)
            curl.setopt(pycurl.HTTPHEADER, headers or self._headers)
            if body is not None or method in _WITH_BODY:
                curl.setopt(pycurl.POSTFIELDS, json.dumps(body).encode() if body is not None else b"")
            else:
                curl.setopt(pycurl.HTTPGET, True)  # no body left over from the handle's last request
            curl.setopt(pycurl.CUSTOMREQUEST, method)
            # Bound methods of lists: libcurl hands each header line and piece of body to C, not Python.
            curl.setopt(pycurl.HEADERFUNCTION, lines.append)
            curl.setopt(pycurl.WRITEFUNCTION, content.append)
            curl.perform()
        except pycurl.error as exc:
            raise Unreachable(exc.args[1] if len(exc.args) > 1 else str(exc)) from None
        return Answer(curl.getinfo(pycurl.RESPONSE_CODE), _headers(lines), b"".join(content))

    def _handle(self) -> pycurl.Curl:
        """This thread's handle (a process forked since makes its own: the connection is the parent's)."""
        made_for, curl = getattr(self._local, "handle", (None, None))
        if made_for != (os.getpid(), self._closed) or curl is None:
            curl = pycurl.Curl()
            curl.setopt(pycurl.NOSIGNAL, True)  # timeouts without signals, which threads must not get
            curl.setopt(pycurl.TIMEOUT_MS, int(self.timeout * 1000))
            curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(CONNECT_TIMEOUT * 1000))
            curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
            curl.setopt(pycurl.PROXY, "")  # libcurl would follow *_proxy variables; urllib3 did not
            # Set even when None: that clears libcurl's own default, a file other systems have.
            curl.setopt(pycurl.CAINFO, self._ca_file)
            curl.setopt(pycurl.CAPATH, self._ca_path)
            self._local.handle = ((os.getpid(), self._closed), curl)
            with self._lock:
                self._handles.append((os.getpid(), curl))
        return curl

    def close(self) -> None:
        with self._lock:
            handles, self._handles = self._handles, []
            self._closed += 1
        for pid, curl in handles:
            if pid != os.getpid():
                continue  # a parent process's, whose connection is the parent's to close
            # One in a request in another thread refuses: it is closed when that thread lets it go.
            with contextlib.suppress(pycurl.error):
                curl.close()


def _headers(lines: list[bytes]) -> HTTPHeaderDict:
    """The answer's headers from libcurl's lines (the status line and the blank one have no colon)."""
    headers = HTTPHeaderDict()
    for line in lines:
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            headers.add(name.strip(), value.strip())
    return headers
