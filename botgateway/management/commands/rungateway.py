import asyncio
import logging
import signal
from pathlib import Path

import discord
from django.conf import settings
from django.core.management.base import BaseCommand

from botgateway.discordapi import point_discordpy_at_configured_urls, require_token
from botgateway.forwarded import Forwarded
from botgateway.gateway import WITHOUT_CONTENT, Gateway
from botgateway.outbox import Outbox
from botgateway.shards import IdentifyThrottle, shard_ids
from karma.message import Deletion, ReactionEvent, ServerEvent, task_label
from karma.slash import SlashCommand
from karma.tasks import (
    PUBLISH_CONFIRM_TIMEOUT,
    handle_interaction,
    handle_message,
    handle_messages,
    handle_reaction,
    message_deleted,
    server_event,
)
from monitoring import metrics

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Connect to Discord and hand the server messages that may matter to the karma workers."
    destination = "broker"  # where published messages go, as the outbox's log lines say

    def prepare(self):
        """Runs once the configuration is checked, before connecting (runbot migrates here)."""

    def finish(self):
        """Runs once the gateway has stopped (runbot stops its courier here)."""

    @staticmethod
    def task_for(payload):
        """The task a payload from the outbox goes to: chat messages, slash commands, reactions,
        deletions and server events share it."""
        if SlashCommand.is_one(payload):
            return handle_interaction
        if ReactionEvent.is_one(payload):
            return handle_reaction
        if ServerEvent.is_one(payload):
            return server_event
        return message_deleted if Deletion.is_one(payload) else handle_message

    @classmethod
    def chat_message(cls, payload):
        """Whether a payload is a chat message (sent or edited): those go to the workers together
        when several wait in the outbox (karma.tasks.handle_messages)."""
        return cls.task_for(payload) is handle_message

    @classmethod
    def task_of(cls, payloads):
        """The task a hand-over from the outbox goes to, and its argument: one payload, or several
        chat messages."""
        return (cls.task_for(payloads[0]), payloads[0]) if len(payloads) == 1 else (handle_messages, payloads)

    def publish(self, payloads):
        """Hand one payload over, or several chat messages in one task; raising keeps them in the
        outbox, to be tried again."""
        task, argument = self.task_of(payloads)
        # No retries inside the publish: the outbox keeps the message and tries again itself.
        task.apply_async(
            args=(argument,),
            argsrepr=task_label(argument),  # spares Celery its own repr of the payload
            kwargsrepr="{}",
            retry=False,
            confirm_timeout=PUBLISH_CONFIRM_TIMEOUT,
        )

    def handle(self, **options):
        token = require_token()
        try:
            ids = shard_ids(settings.DISCORD_SHARD_IDS, settings.DISCORD_SHARD_COUNT)
        except ValueError as exc:
            raise SystemExit(f"popple: configuration error: {exc}") from None
        self.prepare()
        point_discordpy_at_configured_urls()
        label = "-".join(map(str, ids)) if ids else "all"
        path = Path(settings.GATEWAY_OUTBOX_PATH.format(shards=label))
        outbox = Outbox(path, settings.GATEWAY_OUTBOX_MAX, self.publish, self.destination, self.chat_message)
        # Next to the outbox, on the same volume: a restarted gateway still follows the edits and
        # deletes of the messages it forwarded before.
        forwarded = Forwarded(path.with_name(f"{path.stem}-forwarded{path.suffix}"))

        def gateway(message_content):
            # A throttle each: its asyncio Redis client belongs to the event loop that runs it.
            return Gateway(
                outbox.put,
                shard_count=settings.DISCORD_SHARD_COUNT or None,
                shard_ids=ids,
                throttle=IdentifyThrottle(settings.REDIS_URL) if settings.REDIS_URL else None,
                forwarded=forwarded,
                message_content=message_content,
            )

        client = gateway(settings.DISCORD_MESSAGE_CONTENT)
        if not client.reads_chat:
            logger.warning("DISCORD_MESSAGE_CONTENT is false: %s", WITHOUT_CONTENT)
        collector = metrics.register_gateway(client, outbox)
        metrics.serve()
        outbox.start()
        try:
            try:
                asyncio.run(self._run(client, token))
            except discord.PrivilegedIntentsRequired:
                # Close code 4014: the app was not granted the intent. Once, without it (never in a
                # loop): Popple still counts what needs no chat read.
                logger.warning(
                    "Discord refused the Message Content intent (close code 4014): %s. Enable it in the "
                    "developer portal (Bot, Privileged Gateway Intents), or set DISCORD_MESSAGE_CONTENT=false",
                    WITHOUT_CONTENT,
                )
                client = collector.client = gateway(message_content=False)
                asyncio.run(self._run(client, token))
        except discord.LoginFailure:
            raise SystemExit("popple: Discord refused DISCORD_TOKEN (401 Unauthorized)") from None
        finally:
            outbox.stop()
            forwarded.close()
            self.finish()

    async def _run(self, client, token):
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, lambda: asyncio.ensure_future(client.close()))
        async with client:
            await client.start(token)
