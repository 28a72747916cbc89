"""The Discord presence: receives server messages and forwards those that may matter.

It never answers itself. Chat without a karma sign that does not address the bot (most of it) is
dropped here, before it costs the outbox, the broker and a worker; the counts are logged.
"""

import logging
import time

import discord

from karma.message import IncomingMessage, may_matter

logger = logging.getLogger(__name__)

REPORT_SECONDS = 60  # how often the gateway logs what it forwarded and dropped


def intents():
    chosen = discord.Intents.none()
    chosen.guilds = True  # server list, channels and roles (for permissions)
    chosen.guild_messages = True
    chosen.message_content = True
    return chosen


def to_incoming(message, me):
    """What a worker needs from a discord.py Message."""
    author = message.author
    permissions = author.guild_permissions if isinstance(author, discord.Member) else discord.Permissions.none()
    return IncomingMessage(
        guild_id=message.guild.id,
        channel_id=message.channel.id,
        message_id=message.id,
        author_id=author.id,
        author_name=author.name,
        author_global_name=author.global_name or "",
        author_nick=(author.nick if isinstance(author, discord.Member) else None) or "",
        content=message.content,
        bot_id=me.id,
        bot_name=me.name,
        mentions={str(user.id): user.name for user in message.mentions},
        can_manage=permissions.manage_guild or permissions.administrator,
    )


class Gateway(discord.AutoShardedClient):
    def __init__(self, forward, shard_count=None, shard_ids=None, throttle=None):
        # Popple never joins voice; spare the operator discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents(),
            shard_count=shard_count,
            shard_ids=shard_ids,
            max_messages=None,  # no message cache: nothing here looks back
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
        )
        self.forward = forward
        self.throttle = throttle
        self._was_ready = False
        self.forwarded = self.dropped = 0  # since the last report
        self._reported_at = time.monotonic()

    async def setup_hook(self):
        if self.throttle:
            limits = await self.fetch_session_start_limits()
            self.throttle.max_concurrency = limits.max_concurrency

    async def before_identify_hook(self, shard_id, *, initial=False):
        if self.throttle:
            await self.throttle.wait_turn(shard_id or 0)
        else:
            await super().before_identify_hook(shard_id, initial=initial)

    async def on_ready(self):
        if not self._was_ready:
            self._was_ready = True
            logger.info(
                "connected to Discord as %s (%s): shards %s of %s, %d servers",
                self.user.name,
                self.user.id,
                sorted(self.shards),
                self.shard_count,
                len(self.guilds),
            )

    async def on_shard_ready(self, shard_id):
        if self._was_ready:
            logger.info("shard %s reconnected with a new session", shard_id)

    async def on_shard_resumed(self, shard_id):
        logger.info("shard %s reconnected and resumed its session", shard_id)

    async def on_message(self, message):
        if message.guild is None or message.author.bot or message.webhook_id:
            return  # direct messages, bots (this one included) and webhooks are not chat
        if may_matter(message.content, self.user.id, self.user.name):
            self.forward(to_incoming(message, self.user).to_payload())
            self.forwarded += 1
        else:
            self.dropped += 1
        if time.monotonic() - self._reported_at >= REPORT_SECONDS:
            self.report()

    def report(self):
        """Log what was forwarded and dropped since the last report."""
        if self.forwarded or self.dropped:
            logger.info(
                "forwarded %d messages, dropped %d without karma or a command",
                self.forwarded,
                self.dropped,
            )
        self.forwarded = self.dropped = 0
        self._reported_at = time.monotonic()

    async def close(self):
        self.report()
        await super().close()
