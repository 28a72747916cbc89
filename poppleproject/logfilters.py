"""Keeps secrets out of every log line, whatever library wrote it: the Discord token, the OAuth2
client secret (the dashboard's login), and the interaction tokens that stand in the path of
Discord's interaction and webhook URLs (each lets whoever holds it answer as Popple for 15 minutes)."""

import logging
import re
import sys

from amqp.exceptions import RecoverableConnectionError
from celery.exceptions import Reject
from django.conf import settings
from kombu.exceptions import OperationalError

_INTERACTION_TOKEN = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?'\"]+")


def redacted(text: str) -> str:
    for secret in (settings.DISCORD_TOKEN, settings.DISCORD_CLIENT_SECRET):
        if secret and secret in text:
            text = text.replace(secret, "[redacted]")
    if "/interactions/" in text or "/webhooks/" in text:
        text = _INTERACTION_TOKEN.sub(r"\1[redacted]", text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = redacted(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redacted(record.exc_text)
        return True


class NoTracebackWhenExpected(logging.Filter):
    """One line, without the traceback, for what libraries log with one although it marks no bug:
    a service that went away and is being retried (Celery's worker, discord.py's reconnects), a
    message rejected on purpose (a malformed payload, or a retry RabbitMQ could not take), a
    request Django refused as bad (its security loggers). Then a traceback in Popple's logs always
    means a bug: expected outages and bad input get a line each (the fault suite checks it).

    By hand because no library does it: each of these logs its own exception with exc_info."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if _refused(record.name, exc):  # the line says why already
            record.exc_info = record.exc_text = None
        elif str(record.msg).startswith(_RETRIES.get(record.name, ())) and isinstance(exc, _outages()):
            record.msg, record.args = f"{record.getMessage()} ({type(exc).__name__}: {exc})", None
            record.exc_info = record.exc_text = None
        return True


# What libraries that retry a lost connection themselves log at each loss, with its exception; by
# its words too, since the same loggers carry bugs (discord.client logs an event handler's error).
_RETRIES = {
    "celery.worker.request": ("Couldn't ack", "Couldn't reject"),  # kombu, for a channel gone
    "discord.client": ("Attempting a reconnect",),
    "discord.shard": ("Attempting a reconnect", "Failed to connect for shard_id"),
}


def _refused(logger: str, exc: BaseException) -> bool:
    if logger.startswith("django.security."):
        return True  # a request refused (DisallowedHost, SuspiciousOperation): bad input
    # A task's decision, whose reason says why (a malformed payload), or a retry RabbitMQ could
    # not take. Celery wraps any failure to publish a retry in a Reject: one that is no outage
    # (a payload it cannot encode) is a bug, and keeps its traceback.
    if logger == "celery.app.trace" and isinstance(exc, Reject):
        return isinstance(getattr(exc, "reason", None), (str, *_outages()))  # (untyped in celery-types)
    return False


def _outages() -> tuple[type[BaseException], ...]:
    """A service gone away: the connection errors of the libraries this process has imported (the
    web process never imports discord.py, and is not made to for this)."""
    kinds: list[type[BaseException]] = [OSError, RecoverableConnectionError, OperationalError]
    if discord := sys.modules.get("discord"):
        kinds += [discord.ConnectionClosed, discord.GatewayNotFound, discord.DiscordServerError]
    if aiohttp := sys.modules.get("aiohttp"):
        kinds.append(aiohttp.ClientError)
    return tuple(kinds)
