"""The Discord presence: receives server messages and forwards those that may matter.

It never answers itself. Chat without a karma sign that does not address the bot and thanks no one
(karma/thanks.py; most of it) is dropped here, before it costs the outbox, the broker and a
worker; the counts are logged.

Edits and deletes come as raw events (no message cache). Only a message the gateway forwarded
a version of that held a karma sign can have changed karma, so it keeps those messages' ids while
they may be edited (botgateway/forwarded.py). An edit is forwarded as the message again, stamped
with its edit time, when the message is one of them (removing a karma sign is an edit that
matters, and only the ledger knows what the message said before) or when the edit holds a sign;
it says whether the gateway forwarded the message as sent, which is what lets a worker keep an
edit that overtook its message. Updates that change no text (Discord adding a link's embed) are
not edits. Deletions are forwarded as ids, of those messages only. The rest (edits and purges of
chat without karma) is dropped here, like that chat itself.

Reactions (botgateway/reactions.py) are forwarded as ReactionEvents, stamped with the order they
came in, with the name of the message's author: not those of bots, to their own messages or to a
bot's. Whether the emoji counts is the server's setting, which the worker reads.

It also forwards when Popple joins or leaves a server and when a server is renamed (ServerEvent),
with the server's name and icon, stamped with the time it saw it, so that the workers keep the
latest (karma/retention.py). A server becoming unavailable is an outage, not a leave: it is not
forwarded.
"""

import asyncio
import logging
import time
from dataclasses import replace

import aiohttp
import discord

from botgateway import snowflakes
from botgateway.forwarded import Forwarded
from botgateway.reactions import BOT, Authors, Stamps
from botgateway.slash_commands import from_discord
from karma import thanks
from karma.emoji import reaction_key
from karma.message import (
    ADDED,
    CLEARED,
    JOINED,
    LEFT,
    MAX_LOCALE,
    MAX_SERVER_NAME,
    MAX_SERVERS_PER_EVENT,
    PRESENT,
    REMOVED,
    UPDATED,
    Deletion,
    IncomingMessage,
    ReactionEvent,
    ServerEvent,
    holds_sign,
    may_matter,
)
from karma.slash import acknowledge
from monitoring import metrics

logger = logging.getLogger(__name__)

REPORT_SECONDS = 60  # how often the gateway logs what it forwarded and dropped
# Servers found available within this many seconds share one "present" event.
PRESENT_SECONDS = 1.0


def intents(message_content=True):
    chosen = discord.Intents.none()
    chosen.guilds = True  # server list, channels and roles (for permissions)
    chosen.guild_messages = True
    chosen.guild_reactions = True  # reactions that give karma; not privileged
    # Privileged: without it Discord blanks what a message says unless it mentions the bot.
    chosen.message_content = message_content
    return chosen


# What the log says when the gateway runs without the Message Content intent.
WITHOUT_CONTENT = (
    "reading chat without Discord's Message Content intent: `x++` in plain chat changes nothing; slash "
    "commands, the Give karma menus, reactions and commands that mention Popple work"
)


def to_incoming(message, me, edited=0, message_forwarded=True, reads_chat=True):
    """What a worker needs from a discord.py Message (`edited`: its edit time, in microseconds;
    `message_forwarded`: for an edit, whether the message as sent was forwarded with a sign). The
    times and ids only Discord's ids tell are read here: the worker never decodes one."""
    author = message.author
    replied = replied_to(message)
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
        edited=edited,
        message_forwarded=message_forwarded,
        sent_at=snowflakes.sent_at(message.id),
        reply_id=snowflakes.edit_reply_id(message.id, edited) if edited else 0,
        reads_chat=reads_chat,
        replied_to_id=replied.id if replied else 0,
        replied_to_name=replied.name if replied else "",
        bots=[str(user.id) for user in message.mentions if user.bot],
        within=places(message.channel),
    )


def places(channel):
    """The ids of what the channel is within: a thread's channel, and the category (for where
    karma counts, karma/channels.py)."""
    found: list[int | None] = []
    if isinstance(channel, discord.Thread):
        found.append(channel.parent_id)
        channel = channel.parent
    found.append(getattr(channel, "category_id", None))
    return [place for place in found if place]


def replied_to(message):
    """The author of the message `message` replies to, when that is a person and Discord sent it."""
    reference = message.reference
    resolved = reference.resolved if reference else None
    if isinstance(resolved, discord.Message) and not resolved.author.bot and not resolved.webhook_id:
        return resolved.author
    return None


def may_thank(message):
    """Whether the message may thank someone (karma/thanks.py): a thank-word, and someone mentioned
    or replied to. Most replies and mentions hold none, and are not forwarded."""
    return bool(message.mentions or replied_to(message)) and thanks.may_thank(message.content)


def may_change_karma(message):
    """Whether this version of the message may ask for karma (a karma sign, or thanks): only such
    messages' edits and deletions are followed (botgateway/forwarded.py)."""
    return holds_sign(message.content) or may_thank(message)


def interaction_data(interaction):
    """The parts of Discord's interaction object that from_discord reads, from discord.py's."""
    user = interaction.user
    member = isinstance(user, discord.Member)
    return {
        "id": interaction.id,
        "application_id": interaction.application_id,
        "token": interaction.token,
        "guild_id": interaction.guild_id,
        "channel_id": interaction.channel_id,
        "data": interaction.data,
        "locale": interaction.locale.value,
        "user": {"id": user.id, "username": user.name, "global_name": user.global_name},
        "member": {"nick": user.nick, "permissions": interaction.permissions.value} if member else None,
    }


def named(guild):
    """A server's [name, icon hash or None, preferred locale], as a ServerEvent carries it (the
    admin and the public boards show servers by name; the locale is the language of its answers
    until a moderator chooses one)."""
    locale = guild.preferred_locale.value if guild.preferred_locale else ""
    return [guild.name[:MAX_SERVER_NAME], guild.icon.key if guild.icon else None, locale[:MAX_LOCALE]]


def is_chat(message):
    """Direct messages, bots (this one included) and webhooks are not chat."""
    return message.guild is not None and not message.author.bot and not message.webhook_id


class Gateway(discord.AutoShardedClient):
    def __init__(self, forward, shard_count=None, shard_ids=None, throttle=None, forwarded=None, message_content=True):
        # Popple never joins voice; spare the operator discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        self.reads_chat = message_content  # with Discord's Message Content intent
        super().__init__(
            intents=intents(message_content),
            shard_count=shard_count,
            shard_ids=shard_ids,
            max_messages=None,  # no message cache: nothing here looks back
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
        )
        self.forward = forward
        self.throttle = throttle
        self.record = forwarded or Forwarded()  # the messages whose edits and deletion may matter
        self._was_ready = False
        self.forwarded = self.dropped = 0  # since the last report
        self.dropped_edits = self.dropped_deletions = 0  # since the last report
        self.reactions = self.dropped_reactions = 0  # since the last report
        self.authors = Authors()
        self.stamps = Stamps()
        self._available = []  # servers found available, not forwarded yet
        self._available_since = 0.0  # when the first of them was seen
        self._reported_at = time.monotonic()

    @property
    def me(self) -> discord.ClientUser:
        """Popple's own user, which discord.py knows from READY on: before any message arrives."""
        if self.user is None:
            raise RuntimeError("Discord has not said who Popple is yet (no READY)")
        return self.user

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
                self.me.name,
                self.me.id,
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
        if message.guild is not None:
            self.authors.saw(message.author.id, message.author.name, message.author.bot or bool(message.webhook_id))
        if not is_chat(message):
            return
        metrics.GATEWAY_RECEIVED.inc()
        changes_karma = may_change_karma(message)
        if changes_karma or may_matter(message.content, self.me.id, self.me.name):
            self.forward(to_incoming(message, self.me, reads_chat=self.reads_chat).to_payload())
            if changes_karma:
                self.record.sent(message.id)
            self.forwarded += 1
            metrics.GATEWAY_FORWARDED.inc()
        else:
            self.dropped += 1
            metrics.GATEWAY_FILTERED.inc()
        if time.monotonic() - self._reported_at >= REPORT_SECONDS:
            self.report()

    async def on_interaction(self, interaction):
        if interaction.type is not discord.InteractionType.application_command:
            return  # Popple registers no components, modals or autocompletion
        try:
            incoming = replace(
                from_discord(interaction_data(interaction)),
                reads_chat=self.reads_chat,
                within=places(interaction.channel),
            )
        except ValueError as exc:
            logger.warning("slash command %s ignored: %s", interaction.id, exc)
            return
        ack = acknowledge(incoming)
        try:
            if ack.refusal:
                await interaction.response.send_message(
                    ack.refusal, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
                return
            await interaction.response.defer(ephemeral=ack.ephemeral)
        except discord.HTTPException as exc:
            # Only the exception's kind and Discord's code: its text may hold the callback's URL,
            # and the interaction's token with it.
            logger.warning(
                "slash command %s: acknowledging it failed (%s %s)", incoming.interaction_id, exc.status, exc.code
            )
            if ack.refusal or exc.status == 404:
                return  # a refusal needs no more; 404: too late, Discord forgot the command
            # Otherwise it may have been taken all the same (discord.py tries again after a 5xx, and
            # hears "already acknowledged"): a worker's edit finds out, and gives up if it was not.
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning(
                "slash command %s: acknowledging it failed (%s)", incoming.interaction_id, type(exc).__name__
            )
            if ack.refusal:
                return
        self.forward(incoming.to_payload())

    async def on_raw_message_edit(self, event):
        if not self.reads_chat:
            return  # an edit reads as blank: it must not take back what the message gave
        message = event.message
        if "content" not in event.data or message.edited_at is None or not is_chat(message):
            return  # an embed added, not an edit
        edited = int(message.edited_at.timestamp() * 1_000_000)
        sent = self.record.find([message.id]).get(message.id)  # None: no version forwarded with a sign
        sign = may_change_karma(message)
        if (sent is None and not sign) or self.record.too_old(message.id, edited / 1e6):
            self.dropped_edits += 1  # it cannot change karma
            return
        if sign:
            self.record.edited(message.id)
        self.forward(to_incoming(message, self.me, edited, message_forwarded=bool(sent)).to_payload())
        self.forwarded += 1

    async def on_raw_message_delete(self, event):
        if event.guild_id is not None:
            self._forward_deletion(event.guild_id, event.channel_id, [event.message_id])

    async def on_raw_bulk_message_delete(self, event):
        if event.guild_id is not None:
            self._forward_deletion(event.guild_id, event.channel_id, sorted(event.message_ids))

    def _forward_deletion(self, guild_id, channel_id, message_ids):
        """Forward the deletion of those messages that may have changed karma."""
        sent = self.record.find(message_ids)
        kept = [message_id for message_id in message_ids if message_id in sent]
        self.dropped_deletions += len(message_ids) - len(kept)
        if kept:
            not_forwarded = [message_id for message_id in kept if not sent[message_id]]
            sent = [snowflakes.sent_at(message_id) for message_id in kept]
            self.forward(Deletion(guild_id, channel_id, kept, time.time(), not_forwarded, sent).to_payload())

    async def on_raw_reaction_add(self, event):
        stamp = self.stamps.next()  # the order it came in, before anything is awaited
        member, author_id = event.member, event.message_author_id
        not_counted = (event.user_id, self.me.id)  # your own message, or Popple's
        if event.guild_id is None or member is None or member.bot or not author_id or author_id in not_counted:
            self.dropped_reactions += 1
            metrics.GATEWAY_REACTIONS.labels("dropped").inc()
            return
        name = self.authors.name_of(author_id)
        if name is None:
            name = await self._fetch_name(author_id)
        if not name:  # a bot's message, or Discord would not say whose
            self.dropped_reactions += 1
            metrics.GATEWAY_REACTIONS.labels("dropped").inc()
            return
        self._forward_reaction(
            event, ADDED, stamp, user_id=member.id, user_name=member.name, user_global_name=member.global_name or "",
            user_nick=member.nick or "", author_id=author_id, author_name=name,
        )  # fmt: skip

    async def on_raw_reaction_remove(self, event):
        if event.guild_id is not None and event.user_id != self.me.id:
            self._forward_reaction(event, REMOVED, self.stamps.next(), user_id=event.user_id)

    async def on_raw_reaction_clear(self, event):
        if event.guild_id is not None:
            self._forward_reaction(event, CLEARED, self.stamps.next())

    async def on_raw_reaction_clear_emoji(self, event):
        if event.guild_id is not None:
            self._forward_reaction(event, CLEARED, self.stamps.next())

    def _forward_reaction(self, event, kind, stamp, **people):
        emoji = getattr(event, "emoji", None)
        guild = self.get_guild(event.guild_id)
        channel = guild.get_channel_or_thread(event.channel_id) if guild else None
        reaction = ReactionEvent(
            kind=kind,
            guild_id=event.guild_id,
            channel_id=event.channel_id,
            message_id=event.message_id,
            emoji=reaction_key(emoji.name, emoji.id) if emoji else "",
            stamp=stamp,
            reply_id=snowflakes.reaction_reply_id(stamp),
            bot_id=self.me.id,
            bot_name=self.me.name,
            within=places(channel),
            **people,
        )
        self.forward(reaction.to_payload())
        self.reactions += 1
        metrics.GATEWAY_REACTIONS.labels("forwarded").inc()

    async def _fetch_name(self, user_id):
        """The username of someone whose message the gateway has not seen (BOT for a bot), asked of
        Discord once and remembered; "" when Discord would not say."""
        try:
            user = await self.fetch_user(user_id)
        except (discord.HTTPException, TimeoutError, aiohttp.ClientError) as exc:
            logger.warning("reaction to a message by %s dropped: Discord did not say who they are (%s)", user_id, exc)
            return ""
        self.authors.saw(user.id, user.name, user.bot)
        return BOT if user.bot else user.name

    async def on_guild_join(self, guild):
        self.forward(ServerEvent(JOINED, [guild.id], time.time(), [named(guild)]).to_payload())

    async def on_guild_update(self, before, after):
        if named(before) != named(after):
            self.forward(ServerEvent(UPDATED, [after.id], time.time(), [named(after)]).to_payload())

    async def on_guild_remove(self, guild):
        # Removed, banned, or the server was deleted (discord.py reports an outage as
        # on_guild_unavailable, which is not handled: the server comes back).
        self.forward(ServerEvent(LEFT, [guild.id], time.time()).to_payload())

    async def on_guild_available(self, guild):
        # Every server becomes available at each connect, so a large bot finds thousands at once:
        # they go as one "present" event per second and per thousand, and a worker writes only
        # those marked departed (Popple was added back while no gateway was connected). The event
        # carries the time the first of them was seen: never later than any of them was.
        if not self._available:
            self._available_since = time.time()
            asyncio.get_running_loop().call_later(PRESENT_SECONDS, self._forward_available)
        self._available.append((guild.id, named(guild)))

    def _forward_available(self):
        found, self._available = self._available, []
        for start in range(0, len(found), MAX_SERVERS_PER_EVENT):
            chunk = found[start : start + MAX_SERVERS_PER_EVENT]
            ids, names = [guild_id for guild_id, _ in chunk], [name for _, name in chunk]
            self.forward(ServerEvent(PRESENT, ids, self._available_since, names).to_payload())

    def report(self):
        """Log what was forwarded and dropped since the last report; forget messages too old to
        be edited."""
        if self.forwarded or self.dropped:
            logger.info(
                "forwarded %d messages, dropped %d without karma or a command",
                self.forwarded,
                self.dropped,
            )
        if self.reactions or self.dropped_reactions:
            logger.info(
                "forwarded %d reaction events, dropped %d of bots or to their own or a bot's messages",
                self.reactions,
                self.dropped_reactions,
            )
        if self.dropped_edits or self.dropped_deletions:
            logger.info(
                "dropped %d edits and %d deleted messages that cannot change karma",
                self.dropped_edits,
                self.dropped_deletions,
            )
        self.forwarded = self.dropped = self.dropped_edits = self.dropped_deletions = 0
        self.reactions = self.dropped_reactions = 0
        self._reported_at = time.monotonic()
        self.record.forget_old()

    async def close(self):
        self.report()
        await super().close()
