"""Posts replies through Discord's REST API."""

import asyncio
import logging
import os
import threading

from discord import AllowedMentions, Forbidden, NotFound
from discord.http import HTTPClient, handle_message_parameters

from botgateway.discordapi import point_discordpy_at_configured_urls, require_token

DELIVERY_TIMEOUT = 120  # seconds; covers discord.py sleeping through a rate limit

logger = logging.getLogger(__name__)


def nonce(message_id, part):
    """The same for every attempt at the same reply, so Discord posts it once (max 25 chars)."""
    return f"{message_id}.{part}"


class DiscordSender:
    """Posts through discord.py's HTTP client, which does Discord's rate limiting and 5xx retries.

    The client lives on an event loop in a thread of its own, one per process (a forked worker
    process starts its own), and keeps its connections between replies.
    """

    def __init__(self):
        self._pid = None
        self._lock = threading.Lock()

    def deliver(self, channel_id, message_id, chunks, reaction):
        future = asyncio.run_coroutine_threadsafe(self._deliver(channel_id, message_id, chunks, reaction), self._loop())
        try:
            return future.result(DELIVERY_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise

    def close(self):
        """Close the HTTP session of this process's client, if it has one."""
        if self._pid == os.getpid() and self._http is not None:
            asyncio.run_coroutine_threadsafe(self._http.close(), self._event_loop).result(10)
            self._http = None

    def _loop(self):
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._http = None
                self._login_lock = asyncio.Lock()  # worker threads deliver at once; log in once
                self._event_loop = asyncio.new_event_loop()
                threading.Thread(target=self._event_loop.run_forever, name="discord-rest", daemon=True).start()
            return self._event_loop

    async def _client(self):
        async with self._login_lock:
            if self._http is None:
                point_discordpy_at_configured_urls()
                http = HTTPClient(asyncio.get_running_loop())
                try:
                    await http.static_login(require_token())
                except BaseException:
                    await http.close()
                    raise
                self._http = http
        return self._http

    async def _deliver(self, channel_id, message_id, chunks, reaction):
        http = await self._client()
        for part, chunk in enumerate(chunks):
            params = handle_message_parameters(
                content=chunk, nonce=nonce(message_id, part), allowed_mentions=AllowedMentions.none()
            )
            await http.send_message(channel_id, params=params)
        if reaction:
            try:
                await http.add_reaction(channel_id, message_id, reaction)
            except (Forbidden, NotFound) as exc:
                # Reactions need Add Reactions and Read Message History; the text went out anyway.
                logger.warning("reaction to message %s not added: Discord answered %s", message_id, exc.status)


_sender = None


def get_sender():
    global _sender
    if _sender is None:
        _sender = DiscordSender()
    return _sender


def use_sender(sender):
    """Replace where this process's replies go (tests and benchmarks); returns the one it replaces."""
    global _sender
    previous, _sender = _sender, sender
    return previous
