"""Discord's Interactions Endpoint URL: slash commands over HTTP, at POST /interactions.

Every request must carry Discord's Ed25519 signature of its timestamp and body, made with the
application's key (DISCORD_PUBLIC_KEY): anything else is 401, as Discord's own checks of the
endpoint expect. A PING is answered PONG; a slash command is acknowledged in the HTTP answer itself
(a refusal, or a deferral) and, when deferred, queued for a karma worker like one from a gateway.
While RabbitMQ is unreachable, the web process answers the command itself instead (it has the
database): nothing else could complete a deferral.
"""

import json
import logging
import time
from dataclasses import replace

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from redis.exceptions import RedisError

from botgateway.slash_commands import EPHEMERAL, from_discord
from karma.message import task_label
from karma.slash import SlashCommand, acknowledge, answer, unavailable
from karma.tasks import handle_interaction

logger = logging.getLogger(__name__)

PING, APPLICATION_COMMAND = 1, 2  # interaction types
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 1, 4, 5  # response types
# A signed request older (or newer) than this is refused: a recorded request cannot be replayed later.
MAX_CLOCK_DIFFERENCE = 300
# Each interaction id is remembered this long, longer than a signature is accepted either side of
# now: a recorded request replayed within its 5 minutes is refused, not applied twice.
SEEN_SECONDS = 15 * 60
PUBLISH_SECONDS = 1.0  # Discord waits 3 s for the answer; the broker gets a third of them


def verified(request) -> bool:
    signature = request.headers.get("X-Signature-Ed25519", "")
    timestamp = request.headers.get("X-Signature-Timestamp", "")
    try:
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_DIFFERENCE:
            return False
        VerifyKey(bytes.fromhex(settings.DISCORD_PUBLIC_KEY)).verify(
            timestamp.encode() + request.body, bytes.fromhex(signature)
        )
    except (ValueError, BadSignatureError):
        return False
    return True


def message(content: str, ephemeral: bool = True) -> JsonResponse:
    data = {"content": content, "allowed_mentions": {"parse": []}, "flags": EPHEMERAL if ephemeral else 0}
    return JsonResponse({"type": CHANNEL_MESSAGE, "data": data})


@csrf_exempt  # Discord's signature is what authenticates these requests
@require_POST
def interactions(request):
    if not settings.DISCORD_PUBLIC_KEY:
        raise Http404("slash commands over HTTP are not enabled")
    if not verified(request):
        return HttpResponse("invalid request signature", status=401, content_type="text/plain")
    try:
        data = json.loads(request.body)
        kind = data["type"]
    except (ValueError, TypeError, KeyError):
        return HttpResponse("not an interaction", status=400, content_type="text/plain")
    if kind == PING:
        return JsonResponse({"type": PONG})
    if kind != APPLICATION_COMMAND:
        return HttpResponse("Popple answers slash commands only", status=400, content_type="text/plain")
    try:
        # Whether chat is read is the gateway's to know; here, what it is configured to ask for.
        interaction = replace(from_discord(data), reads_chat=settings.DISCORD_MESSAGE_CONTENT)
    except ValueError as exc:
        logger.warning("slash command ignored: %s", exc)
        return HttpResponse("not a slash command Popple reads", status=400, content_type="text/plain")
    if not first_time(interaction.interaction_id):
        logger.warning("slash command %s refused: received already (a replay)", interaction.interaction_id)
        return HttpResponse("interaction already received", status=409, content_type="text/plain")
    ack = acknowledge(interaction)
    if ack.refusal:
        return message(str(ack.refusal))
    try:
        queue(interaction)
    except Exception as exc:  # the broker's client raises many kinds; each means "not queued"
        # Nothing would complete a deferral: answer it here, from the database, within the time left.
        logger.warning("slash command %s: broker unreachable (%s); answering it here", interaction.interaction_id, exc)
        try:
            return message(answer(interaction).content, ephemeral=ack.ephemeral)
        except DatabaseError:
            logger.warning("slash command %s: database unreachable too", interaction.interaction_id)
            return message(unavailable(interaction))
    return JsonResponse({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL if ack.ephemeral else 0}})


def first_time(interaction_id: int) -> bool:
    """True the first time an interaction id comes (the cache's add is atomic, and Redis shares it
    between the web processes). While Redis is unreachable every command passes, with one line:
    slash commands keep working, and only a replay within those minutes goes unnoticed."""
    try:
        return cache.add(f"interaction-seen:{interaction_id}", True, SEEN_SECONDS)
    except RedisError as exc:
        logger.warning("slash command %s: cache unreachable (%s), not checked for a replay", interaction_id, exc)
        return True


def queue(interaction: SlashCommand) -> None:
    """Publish the karma task, or raise within about PUBLISH_SECONDS.

    On a connection of its own, made without kombu's reconnection attempts (which wait seconds
    between them): while RabbitMQ is down, the failure must come in time to answer otherwise.
    """
    with current_app.connection_for_write(
        connect_timeout=PUBLISH_SECONDS, transport_options={"max_retries": 0}
    ) as connection:
        payload = interaction.to_payload()
        handle_interaction.apply_async(
            args=(payload,),
            argsrepr=task_label(payload),
            kwargsrepr="{}",
            connection=connection,
            retry=False,
            confirm_timeout=PUBLISH_SECONDS,
        )
