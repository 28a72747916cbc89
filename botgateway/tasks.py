"""The reply task (queue `replies`): post the answer to a chat message through Discord's REST API.

Idempotent: every attempt at the same reply carries the same nonce, so Discord posts it once.
"""

import logging

import aiohttp
import discord
from celery import shared_task

from botgateway.rest import get_sender
from karma.tasks import RETRY_POLICY

logger = logging.getLogger(__name__)


class _TransientDiscordError(Exception):
    pass


@shared_task(
    name="karma.send_reply",  # the name the karma task sends it by (karma.tasks.REPLY_TASK)
    bind=True,
    autoretry_for=(_TransientDiscordError, aiohttp.ClientError, OSError),  # OSError covers timeouts
    **RETRY_POLICY,
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
