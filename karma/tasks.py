"""The two Celery tasks: apply a chat message (queue `karma`), deliver the answer (queue `replies`).

Both are idempotent, which is what makes acks_late and redelivery safe: a message is applied once
(the ledger's unique key), and a reply is posted once (Discord's nonce, from the source message).
"""

import logging

import aiohttp
import discord
from celery import shared_task
from celery.exceptions import Reject
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_shutdown, worker_shutdown
from django.db import InterfaceError, OperationalError, connections
from kombu.exceptions import OperationalError as BrokerError

from karma.message import IncomingMessage
from karma.router import respond
from karma.sender import get_sender
from poppleproject.discordurls import require_token

logger = logging.getLogger(__name__)

# Both back off exponentially with full jitter: retry n waits a random time up to min(2^n, 30) s.
# 40 retries ride out an outage of about 9 minutes on average (18 at most) without hammering
# the database or Discord.
_RETRY = {"retry_backoff": 1, "retry_backoff_max": 30, "retry_jitter": True, "max_retries": 40}
# A publish that RabbitMQ neither confirms nor refuses (a resource alarm) fails after this long.
PUBLISH_CONFIRM_TIMEOUT = 30


# BrokerError: the reply could not be queued; the message is applied already, and a rerun
# answers as the first time.
@shared_task(
    name="karma.handle_message", bind=True, autoretry_for=(OperationalError, InterfaceError, BrokerError), **_RETRY
)
def handle_message(self, payload=None, *unexpected, **unknown):
    # Whatever arrives, a malformed message costs one log line and is dropped, never retried.
    try:
        if unexpected or unknown:
            raise ValueError("the task takes exactly one argument, the message payload")
        message = IncomingMessage.from_payload(payload)
    except ValueError as exc:
        logger.error("rejected malformed message payload (task %s): %s", self.request.id, exc)
        raise Reject(str(exc), requeue=False) from None
    if (self.request.delivery_info or {}).get("redelivered"):
        logger.info("message %s redelivered by the broker", message.message_id)
    response = respond(message)
    if response:
        # The karma transaction has committed by now: a reply never announces a rolled-back change.
        send_reply.apply_async(
            args=(message.channel_id, message.message_id, response.chunks(), response.reaction),
            confirm_timeout=PUBLISH_CONFIRM_TIMEOUT,
        )


class _TransientDiscordError(Exception):
    pass


@shared_task(
    name="karma.send_reply",
    bind=True,
    autoretry_for=(_TransientDiscordError, aiohttp.ClientError, OSError),  # OSError covers timeouts
    **_RETRY,
)
def send_reply(self, channel_id, message_id, chunks, reaction=None):
    try:
        get_sender().deliver(channel_id, message_id, chunks, reaction)
    except discord.HTTPException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise _TransientDiscordError(f"Discord answered {exc.status}") from exc
        # 403/404 and friends: the channel is gone or closed to us; retrying cannot help.
        logger.warning(
            "reply to message %s in channel %s dropped: Discord answered %s", message_id, channel_id, exc.status
        )


@worker_init.connect
def check_token(**kwargs):
    require_token()  # a worker that could not post replies stops at start, with one line


@worker_shutdown.connect  # the threads pool: the sender lives in the worker's own process
@worker_process_shutdown.connect  # the prefork pool: one sender per child process
def close_sender(**kwargs):
    get_sender().close()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(**kwargs):
    # As around a web request: drop connections that failed or outlived CONN_MAX_AGE, and have the
    # next query check that the server is still there (after a database restart, it is not).
    # Inside a caller's transaction (a task run inline from a test) the connection is the caller's.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
