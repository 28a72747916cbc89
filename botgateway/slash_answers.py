"""Completes a deferred slash command: edits its response into the answer a karma worker computed.

Not through the courier (botgateway/delivery.py): an interaction's response is authorised by its own
token, has its own rate-limit bucket, and Discord does not count it towards the bot's global limit,
so there is no shared budget to wait for. Editing is idempotent (the same edit twice shows the same
message), which makes a redelivered task harmless; cache marks spare Discord the second edit (with
REDIS_URL set, across workers).
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from botgateway.delivery import BACKOFF_SECONDS  # the same patience as a reply post
from botgateway.inline_retries import InlineRetries
from botgateway.ratelimits import retry_after
from botgateway.rest import DiscordRest, Unreachable
from botgateway.slash_commands import TOKEN_SECONDS, expired
from botgateway.snowflakes import sent_at
from karma.slash import SlashAnswer

logger = logging.getLogger(__name__)

# Over HTTP, Discord learns of the deferral from the web process's answer, which can arrive after a
# fast worker's edit: Discord then says the response is unknown. Tried again while this young.
YOUNG_SECONDS = 15
# While one worker edits a response, another with the same answer waits this long, then looks
# again (by then it is done, or the first one failed and this one tries). Well over a request's time.
CLAIM_SECONDS = 10


def _done_key(answer: SlashAnswer) -> str:
    return f"popple:interaction-done:{answer.interaction_id}"


def _claim_key(answer: SlashAnswer) -> str:
    return f"popple:interaction-editing:{answer.interaction_id}"


def _cached(operation, *args, unreachable):
    """A cache operation, or `unreachable` while the cache (Redis) is: the marks only spare Discord
    a second, identical edit, which is no reason to leave a command unanswered."""
    try:
        return operation(*args)
    except RedisError:
        return unreachable


def complete(answer: SlashAnswer, rest: DiscordRest, attempt: int = 0) -> float | None:
    """Edit the response once. None when done (or nothing more can be done); else the seconds to
    wait before trying again."""
    if _cached(cache.get, _done_key(answer), unreachable=False):
        return None  # a redelivered task: the response says this already
    if expired(answer.interaction_id):
        logger.warning("slash command %s dropped: older than its 15-minute token", answer.interaction_id)
        return None
    if not _cached(cache.add, _claim_key(answer), True, CLAIM_SECONDS, unreachable=True):
        return CLAIM_SECONDS  # another worker is editing it (the same task twice): look again later
    try:
        if _cached(cache.get, _done_key(answer), unreachable=False):
            return None  # done by the other one just before this claim
        return _edit(answer, rest, attempt)
    finally:
        _cached(cache.delete, _claim_key(answer), unreachable=None)


def _edit(answer: SlashAnswer, rest: DiscordRest, attempt: int) -> float | None:
    backoff = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
    try:
        response = rest.edit_original_response(answer.application_id, answer.token, answer.content)
    except Unreachable as exc:
        if attempt == 0:
            logger.warning(
                "slash command %s: Discord unreachable (%s); trying again with backoff",
                answer.interaction_id,
                exc,
            )
        return backoff
    if response.ok:
        _cached(cache.set, _done_key(answer), True, TOKEN_SECONDS, unreachable=None)
        return None
    if response.status == 429:
        return retry_after(response)
    if response.status >= 500:
        if attempt == 0:
            logger.warning(
                "slash command %s: Discord answered %s; trying again with backoff",
                answer.interaction_id,
                response.status,
            )
        return backoff
    if response.status == 404 and time.time() - sent_at(answer.interaction_id) < YOUNG_SECONDS:
        return 1.0  # the deferral is on its way to Discord
    logger.warning("slash command %s: answer dropped, Discord answered %s", answer.interaction_id, response.status)
    return None


_rest = None
_rest_key = None
_lock = threading.Lock()


def rest() -> DiscordRest:
    """This process's client for interaction responses (no bot token needed)."""
    global _rest, _rest_key
    key = (os.getpid(), settings.DISCORD_API_BASE_URL)
    with _lock:
        if _rest is None or _rest_key != key:
            _rest, _rest_key = DiscordRest(settings.DISCORD_API_BASE_URL, None), key
        return _rest


# runbot, and the web process when tasks run inline: the thread that computed an answer must not
# wait for Discord.
hand_over = InlineRetries(
    "slash-answers",
    2,
    lambda answer, attempt: complete(answer, rest(), attempt),
    lambda answer: f"completing slash command {answer.interaction_id}",
).hand_over
