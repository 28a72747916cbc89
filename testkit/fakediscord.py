"""A Discord double at the wire level: REST v10 and Gateway v10, enough for discord.py to run unmodified.

The real discord.py client connects to it through DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL.
Tests play the users (`send`, `edit`, `delete`), then read what the bot did (`messages`, `reactions`). Every
timestamp is taken here, so both ends of a message's trip share one clock.

Implemented: login (`/users/@me`, `/oauth2/applications/@me`), `/gateway` and `/gateway/bot`, create
message (with `nonce` + `enforce_nonce`, allowed mentions recorded, the 2,000-character limit),
add reaction; Discord's rate limits, enforced: a fixed-window bucket per route and channel for messages
and reactions, and a global limit per second over all routes, with Discord's `X-RateLimit-*` headers on
every answer and its 429 bodies (`retry_after`, `global`, `X-RateLimit-Scope`); `DISCORD_LIMITS` sets
the real numbers. Injected faults on top: 429s (shared or global), 5xx, 403 and 404. The gateway's HELLO,
IDENTIFY (token, intents and shard checked; the session start rate recorded), READY, GUILD_CREATE,
GUILD_DELETE (the bot removed from a server), GUILD_UPDATE (renamed), CHANNEL_CREATE and
CHANNEL_UPDATE (a category made, channels moved into it), MESSAGE_CREATE,
MESSAGE_UPDATE (an edit, or an embed added), MESSAGE_DELETE, MESSAGE_DELETE_BULK, MESSAGE_REACTION_ADD,
_REMOVE, _REMOVE_ALL and _REMOVE_EMOJI (to sessions with the reactions intent), get user, heartbeats, RESUME
with replay of missed events, and shard routing by `(guild_id >> 22) % shard_count`. Slash
commands: registration by bulk overwrite (global and per server), INTERACTION_CREATE over the
gateway or a signed POST to an Interactions Endpoint URL (Ed25519, the fake's own key), the callback
with Discord's rules (within 3 s of the interaction, once), and the original response's edit and
follow-ups (15 minutes, by token). OAuth2 for "Log in with Discord" (consent page, code exchange,
the user's servers with their permissions, revocation): testkit/fakeoauth.py, as `oauth`.
Roles: a server's roles with positions and permissions, the bot's own role (Manage Roles,
position BOT_ROLE_POSITION), and a member's roles given and taken (`PUT`/`DELETE
/guilds/{guild}/members/{user}/roles/{role}`, a bucket per server) as Discord allows it: 403 50013
without Manage Roles or for a role not below the bot's highest; `role_changes` and `roles_of` say
what happened.
It runs in a thread of the test process, on its own event loop.
"""

import asyncio
import collections
import hashlib
import itertools
import json
import math
import random
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import urllib3
from aiohttp import WSMsgType, web
from nacl.signing import SigningKey

from testkit.fakeoauth import DiscordOAuth2

DISCORD_EPOCH_MS = 1420070400000
ZLIB_SUFFIX = b"\x00\x00\xff\xff"
# Intents Popple needs: guilds, guild messages; and the privileged one it asks for unless told not
# to: message content (without it, Discord blanks what a message says unless it mentions the bot).
REQUIRED_INTENTS = (1 << 0) | (1 << 9)
MESSAGE_CONTENT = 1 << 15
GUILD_MESSAGE_REACTIONS = 1 << 10  # not privileged: reaction events come only with it
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MANAGE_ROLES = 1 << 28
BOT_ROLE_POSITION = 10  # the bot's own role: roles below it it may give, with Manage Roles
INTERACTION_ACK_SECONDS = 3.0  # Discord's time to acknowledge an interaction
INTERACTION_TOKEN_SECONDS = 15 * 60  # how long its token lets the bot edit and follow up
IDENTIFY_INTERVAL = 5.0  # Discord allows one IDENTIFY per 5 s per max_concurrency bucket
GLOBAL_WINDOW = 1.0  # the global limit counts requests per second
# What injected 403s and 404s say, by route bucket.
FORBIDDEN = {"message": "Missing Permissions", "code": 50013}
NOT_FOUND = {
    "messages": {"message": "Unknown Channel", "code": 10003},
    "reactions": {"message": "Unknown Message", "code": 10008},
    "member_roles": {"message": "Unknown Member", "code": 10007},
}


def _iso(timestamp):
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _message_object(message_id, channel_id, author, content):
    """Discord's message object, as a plain text message."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": _iso(time.time()),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }


def _ceil_ms(seconds):
    """Round up to the millisecond, so a client that waits what a header says never comes back early."""
    return math.ceil(seconds * 1000) / 1000


def _bucket_hash(name):
    """An opaque, stable id for a route shape. Like Discord's, it does not depend on the channel."""
    return hashlib.sha256(f"popple-fake-discord:{name}".encode()).hexdigest()[:32]


class _FixedWindow:
    """A Discord route bucket for one channel: `limit` requests from the first one until `seconds` later.

    The window opens at the first request that finds none open, so an idle bucket is full again.
    """

    def __init__(self, limit, seconds):
        self.limit = limit
        self.seconds = seconds
        self.start = -math.inf
        self.count = 0

    def _open(self, now):
        return now < self.start + self.seconds

    def remaining(self, now):
        return self.limit - self.count if self._open(now) else self.limit

    def reset_after(self, now):
        return self.start + self.seconds - now if self._open(now) else self.seconds

    def take(self, now):
        """Count one request if the window has room; False if it has none."""
        if not self._open(now):
            self.start, self.count = now, 0
        if self.count >= self.limit:
            return False
        self.count += 1
        return True


class _SlidingWindow:
    """The global limit: at most `limit` accepted requests in any `seconds`-long span."""

    def __init__(self, limit, seconds=GLOBAL_WINDOW):
        self.limit = limit
        self.seconds = seconds
        self.accepted = collections.deque()

    def retry_after(self, now):
        """0 if a request may go now, else how long until the oldest counted one leaves the window."""
        while self.accepted and self.accepted[0] <= now - self.seconds:
            self.accepted.popleft()
        if len(self.accepted) < self.limit:
            return 0.0
        return self.accepted[0] + self.seconds - now

    def take(self, now):
        self.accepted.append(now)


@dataclass
class Message:
    """A message the bot posted."""

    id: int
    channel_id: int
    content: str
    nonce: str | None
    allowed_mentions: dict | None
    at: float


@dataclass
class Interaction:
    """A slash command a user ran, and what the bot answered."""

    id: int
    token: str
    guild_id: int | None
    user_id: int
    command: str
    options: dict
    created: float  # time.monotonic() when the user ran it
    response_type: int | None = None  # 4: a message, 5: deferred
    response_flags: int = 0  # 64: ephemeral
    acknowledged_after: float | None = None  # seconds from the interaction to the callback
    content: str | None = None  # the response's text (a message, or the deferral once edited)
    edits: int = 0
    followups: list = field(default_factory=list)
    late_callbacks: int = 0  # callbacks after 3 s, refused
    repeated_callbacks: int = 0  # callbacks after the first, refused
    allowed_mentions: list = field(default_factory=list)  # of each response and edit

    @property
    def ephemeral(self):
        return bool(self.response_flags & 64)


@dataclass
class Reaction:
    channel_id: int
    message_id: int
    emoji: str
    at: float


# Discord's locales: the keys a command's name_localizations and description_localizations may have.
DISCORD_LOCALES = {
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl", "pt-BR",
    "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko",
}  # fmt: skip


def _localizations_valid(item):
    """A command's or an option's localizations, as Discord checks them: known locales; names of 1
    to 32 characters (a slash command's and an option's lowercase, without spaces), descriptions of
    1 to 100."""
    names, descriptions = item.get("name_localizations") or {}, item.get("description_localizations") or {}
    if not set(names) | set(descriptions) <= DISCORD_LOCALES:
        return False
    typed = item.get("type", 1) == 1 or "required" in item  # a slash command, or an option
    if not all(1 <= len(name) <= 32 and (not typed or (name == name.lower() and " " not in name))
               for name in names.values()):  # fmt: skip
        return False
    if not all(1 <= len(text) <= 100 for text in descriptions.values()):
        return False
    return all(_localizations_valid(option) for option in item.get("options") or [])


# What a GUILD_CREATE has and a GUILD_UPDATE does not.
_NOT_IN_UPDATE = {"channels", "members", "member_count", "large", "unavailable", "joined_at", "threads",
                  "presences", "voice_states", "stage_instances", "guild_scheduled_events"}  # fmt: skip


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    channel_ids: list
    manager_role_id: int
    admin_role_id: int
    members: dict = field(default_factory=dict)  # user id -> role ids
    nicks: dict = field(default_factory=dict)  # user id -> nickname in this server
    icon: str | None = None  # the icon's hash
    categories: dict = field(default_factory=dict)  # category id -> ids of the channels in it
    locale: str = "en-US"  # its preferred locale (Community settings in Discord)
    # Roles besides @everyone, managers and admins: id -> {"name", "position", "permissions"}.
    roles: dict = field(default_factory=dict)
    bot_role_id: int = 0


class _Connection:
    """One websocket; frames go out in order through a queue, compressed as the client asked."""

    def __init__(self, ws, request, compress):
        self.ws = ws
        self.request = request
        self.compressor = zlib.compressobj() if compress else None
        self.outbox = asyncio.Queue()
        self.session = None

    def send(self, payload):
        self.outbox.put_nowait(payload)

    async def write_forever(self):
        while True:
            payload = await self.outbox.get()
            data = json.dumps(payload)
            if self.compressor:
                await self.ws.send_bytes(
                    self.compressor.compress(data.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                )
            else:
                await self.ws.send_str(data)

    def abort(self):
        """Cut the TCP connection without a close frame, as a network failure would."""
        if self.request.transport:
            self.request.transport.abort()


class _Session:
    def __init__(self, shard_id, shard_count, intents=REQUIRED_INTENTS | MESSAGE_CONTENT, bot_id=None):
        self.id = uuid.uuid4().hex
        self.shard_id = shard_id
        self.shard_count = shard_count
        self.reads_content = bool(intents & MESSAGE_CONTENT)
        self.hears_reactions = bool(intents & GUILD_MESSAGE_REACTIONS)
        self.bot_id = bot_id
        self.seq = 0
        self.backlog = collections.deque(maxlen=200_000)  # for RESUME
        self.connection = None

    def owns(self, guild_id):
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def dispatch(self, event, data):
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not self.reads_content:
            data = _without_content(data, self.bot_id)
        if event.startswith("MESSAGE_REACTION_") and not self.hears_reactions:
            return
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.backlog.append(payload)
        if self.connection:
            self.connection.send(payload)


def _without_content(message, bot_id):
    """A message as a bot without the Message Content intent gets it: what it says is blank unless
    it mentions the bot (Discord's rule; direct messages aside)."""
    if any(user.get("id") == bot_id for user in message.get("mentions", [])):
        return message
    return {**message, "content": "", "embeds": [], "attachments": []}


class FakeDiscord:
    # Discord's real limits for a bot: 5 messages per 5 s and 1 reaction per 0.25 s in a channel,
    # 50 requests per second in all. Use as `FakeDiscord(**FakeDiscord.DISCORD_LIMITS)`.
    # Read-only, so no test can change the preset for the others.
    DISCORD_LIMITS = MappingProxyType({"message_limit": (5, 5.0), "reaction_limit": (1, 0.25), "global_limit": 50})

    def __init__(
        self,
        token="fake-bot-token.popple.test",
        bot_name="Popple",
        recommended_shards=1,
        *,
        message_limit=(10_000, 1.0),
        reaction_limit=(10_000, 1.0),
        member_roles_limit=(10_000, 1.0),
        global_limit=10_000,
    ):
        """The default limits are so generous that no pipeline test reaches them."""
        self.token = token
        self.recommended_shards = recommended_shards
        self.heartbeat_interval = 41250  # milliseconds, as Discord's HELLO says (shorter in tests)
        # Shards that may IDENTIFY together (Discord gives large bots 16 or more): one per 5 s in each
        # bucket, shard_id % max_concurrency.
        self.max_concurrency = 1
        # False: the app was not granted the Message Content intent; an IDENTIFY asking for it is
        # closed with 4014, as Discord does.
        self.message_content_allowed = True
        self._ids = itertools.count(1)
        self.bot = self._user(bot_name, bot=True)
        self.application_id = self._snowflake()
        self.users = {self.bot["id"]: self.bot}
        self.guilds = {}
        self.guilds_without_bot = {}  # servers that exist, with members, but without the bot
        self.oauth = DiscordOAuth2(self)
        self.sessions = {}
        self.connections = set()
        # What the bot did, and what the tests did, with times from this process's clock.
        self.messages = []
        self.reactions = []
        self.sent_at = {}  # message id -> when MESSAGE_CREATE was dispatched
        self.sent = {}  # message id -> the message object, as last sent or edited
        self.identifies = []  # (time, shard_id, shard_count)
        self.rest_log = []  # (method, path, status)
        self.rest_times = []  # (time.perf_counter() at arrival, method, path, status)
        self.limit_hits = []  # 429s from the enforced limits: (arrival, method, path, scope)
        self.nonce_replays = 0  # creates answered with the earlier message, by nonce
        self.reaction_repeats = 0  # PUTs of a reaction that was already there
        self.users_fetched = []  # ids of users the bot asked about (GET /users/{id})
        self._by_nonce = {}
        self._reacted = set()
        self._failure = None  # (until, statuses, retry_after, is_global)
        # Rate limits: (limit, seconds) per route bucket, one window per (bucket, channel id).
        self.route_limits = {
            "messages": tuple(message_limit),
            "reactions": tuple(reaction_limit),
            "member_roles": tuple(member_roles_limit),
        }
        self.role_changes = []  # (guild id, user id, role id, "add" or "remove"), as made
        self.global_limit = global_limit
        self._windows = {}
        self._global = _SlidingWindow(global_limit)
        self.interactions = {}  # id -> Interaction
        self.signed_posts = {}  # interaction id -> (body, headers) of its POST to /interactions, to replay
        self._interactions_by_token = {}
        self.commands = {}  # None (global) or a server id -> the registered commands
        self._signing_key = SigningKey.generate()
        self.public_key = self._signing_key.verify_key.encode().hex()
        self.loop = None
        self.port = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-discord", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Discord did not start")
        return self

    def _serve(self, ready):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/oauth2/authorize", self.oauth.authorize)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def stop(self):
        async def shutdown():
            for connection in list(self.connections):
                connection.abort()
            await self._runner.cleanup()

        self.call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def call(self, coroutine, timeout=30):
        """Run a coroutine on the fake's loop from a test thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self):
        return f"ws://127.0.0.1:{self.port}/gateway"

    def environment(self):
        """The variables that point Popple here."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE_URL": self.api_url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            # So Popple's own limiter knows what this Discord grants.
            "DISCORD_GLOBAL_RATE_LIMIT": str(self.global_limit),
            "DISCORD_PUBLIC_KEY": self.public_key,
        }

    # -- the world: users, servers, members --------------------------------------------------

    def _snowflake(self, seconds_ago=0.0):
        return ((int((time.time() - seconds_ago) * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) % (1 << 22))

    def _user(self, name, bot=False, global_name=None):
        return {
            "id": str(self._snowflake()),
            "username": name,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "bot": bot,
            "flags": 0,
        }

    def add_user(self, name, bot=False, global_name=None):
        """A Discord account: its username, and the display name it may have."""
        user = self._user(name, bot=bot, global_name=global_name)
        self.users[user["id"]] = user
        return int(user["id"])

    def add_guild(self, name, shard=0, shard_count=1, channels=1, owner_id=None, locale="en-US", with_bot=True):
        """A server whose id routes to `shard` of `shard_count`; the bot is a member (unless not
        `with_bot`: then only people see it, through OAuth2).

        A gateway already connected hears of it as Discord tells a bot that joined a server: a
        GUILD_CREATE, before any message sent in it afterwards.
        """
        while True:
            guild_id = self._snowflake()
            if (guild_id >> 22) % shard_count == shard:
                break
        owner_id = owner_id or self.add_user(f"owner-of-{name}")
        guild = Guild(
            id=guild_id,
            name=name,
            owner_id=owner_id,
            channel_ids=[self._snowflake() for _ in range(channels)],
            manager_role_id=self._snowflake(),
            admin_role_id=self._snowflake(),
            locale=locale,
        )
        guild.members[owner_id] = []
        if not with_bot:
            self.guilds_without_bot[guild_id] = guild
            return guild
        guild.bot_role_id = self._snowflake()
        guild.roles[guild.bot_role_id] = {"name": self.bot["username"], "position": BOT_ROLE_POSITION,
                                          "permissions": MANAGE_ROLES}  # fmt: skip
        guild.members[int(self.bot["id"])] = [str(guild.bot_role_id)]
        self.guilds[guild_id] = guild
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._dispatch_guild, guild)
        return guild

    def _dispatch_guild(self, guild):
        # A server the bot joins comes without `unavailable` (discord.py: on_guild_join); the
        # servers a session starts with say `"unavailable": false` (on_guild_available).
        data = self._guild_create(guild)
        del data["unavailable"]
        self._dispatch_to_owners(guild.id, "GUILD_CREATE", data)

    def _dispatch_to_owners(self, guild_id, event, data):
        for session in self.sessions.values():
            if session.owns(guild_id):
                session.dispatch(event, data)

    def remove_bot(self, guild):
        """The bot is removed from the server (kicked, banned, or the server deleted): Discord sends
        GUILD_DELETE without `unavailable` (with it, it means an outage), and the server is no
        longer among those a session starts with."""
        del self.guilds[guild.id]
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "GUILD_DELETE", {"id": str(guild.id)})

    def add_bot(self, guild):
        """The bot is added back to a server it was removed from: a GUILD_CREATE, as for a join."""
        self.guilds[guild.id] = guild
        self.loop.call_soon_threadsafe(self._dispatch_guild, guild)

    def rename(self, guild, name, icon=None, locale=None):
        """The server's name or icon (or preferred locale, if given) changes: a GUILD_UPDATE (the
        guild object without members, channels or presences)."""
        guild.name, guild.icon = name, icon
        guild.locale = locale or guild.locale
        data = {key: value for key, value in self._guild_create(guild).items() if key not in _NOT_IN_UPDATE}
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "GUILD_UPDATE", data)

    def add_category(self, guild, channel_ids):
        """A category, with some of the server's channels moved into it: CHANNEL_CREATE, then a
        CHANNEL_UPDATE for each channel moved. Returns its id."""
        category_id = self._snowflake()
        guild.categories[category_id] = list(channel_ids)
        events = [("CHANNEL_CREATE", self._category(guild, category_id, len(guild.categories) - 1))]
        for channel_id in channel_ids:
            events.append(("CHANNEL_UPDATE", self._channel(guild, channel_id, guild.channel_ids.index(channel_id))))
        for event, data in events:
            self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, event, data)
        return category_id

    def _channel(self, guild, channel_id, index):
        """A text channel as Discord describes it, in its category if it is in one."""
        category = next((str(category) for category, inside in guild.categories.items() if channel_id in inside), None)
        return {
            "id": str(channel_id), "type": 0, "guild_id": str(guild.id), "name": f"channel-{index}",
            "position": index, "permission_overwrites": [], "nsfw": False, "parent_id": category,
            "topic": None, "rate_limit_per_user": 0, "last_message_id": None,
        }  # fmt: skip

    def _category(self, guild, category_id, index):
        return {
            "id": str(category_id), "type": 4, "guild_id": str(guild.id), "name": f"category-{index}",
            "position": index, "permission_overwrites": [], "nsfw": False, "parent_id": None,
        }  # fmt: skip

    def add_role(self, guild, name, position=1):
        """A role of the server, `position` above @everyone (the bot's is BOT_ROLE_POSITION); its id."""
        role_id = self._snowflake()
        guild.roles[role_id] = {"name": name, "position": position, "permissions": 0}
        return role_id

    def set_bot_permissions(self, guild, manage_roles=True):
        """Give the bot's role Manage Roles, or take it away (as a moderator would in the settings)."""
        guild.roles[guild.bot_role_id]["permissions"] = MANAGE_ROLES if manage_roles else 0

    def roles_of(self, guild, user_id):
        """The ids of the roles a member holds (the managers' and admins' ones included)."""
        return {int(role) for role in guild.members.get(user_id, [])}

    def add_member(self, guild, user_id, manager=False, admin=False, nick=None):
        """`manager`: a role with Manage Server; `admin`: a role with Administrator."""
        roles = [(manager, guild.manager_role_id), (admin, guild.admin_role_id)]
        guild.members[user_id] = [str(role_id) for wanted, role_id in roles if wanted]
        guild.nicks[user_id] = nick

    def add_guilds(self, names, *members):
        """A server for each name, each with `members` (user ids) in it: {name: server}."""
        guilds = {name: self.add_guild(name) for name in names}
        for guild in guilds.values():
            for user_id in members:
                self.add_member(guild, user_id)
        return guilds

    def _member(self, guild, user_id):
        return {
            "roles": guild.members.get(user_id, []),
            "joined_at": _iso(time.time()),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": guild.nicks.get(user_id),
        }

    @staticmethod
    def _role(common, role_id, about):
        return {**common, "id": str(role_id), "name": about["name"], "position": about["position"],
                "permissions": str(about["permissions"])}  # fmt: skip

    def _guild_create(self, guild):
        role = {"color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None}
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": guild.icon,
            "owner_id": str(guild.owner_id),
            "roles": [
                {**role, "id": str(guild.id), "name": "@everyone", "position": 0, "permissions": str(1024 | 2048)},
                {
                    **role,
                    "id": str(guild.manager_role_id),
                    "name": "managers",
                    "position": 1,
                    "permissions": str(MANAGE_GUILD),
                },
                {
                    **role,
                    "id": str(guild.admin_role_id),
                    "name": "admins",
                    "position": 2,
                    "permissions": str(ADMINISTRATOR),
                },
                *(self._role(role, role_id, about) for role_id, about in guild.roles.items()),
            ],
            "channels": [self._channel(guild, channel_id, index) for index, channel_id in enumerate(guild.channel_ids)]
            + [self._category(guild, category_id, index) for index, category_id in enumerate(guild.categories)],
            "members": [{**self._member(guild, int(self.bot["id"])), "user": self.bot}],
            "member_count": len(guild.members),
            "large": False,
            "unavailable": False,
            "joined_at": _iso(time.time()),
            "features": [],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "premium_tier": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_flags": 0,
            "preferred_locale": guild.locale,
            "afk_timeout": 300,
        }

    # -- users talk ----------------------------------------------------------------------------

    def send(self, guild, author_id, content, channel_id=None, mentions=(), dm=False, seconds_ago=0.0, reply_to=None):
        """A user posts `content`; returns the message id. `mentions` are user ids. `seconds_ago`
        dates the message back (its id says when it was sent), as if it came late. `reply_to`: the
        id of a message it replies to (in its channel; Discord then sends that message along, and
        this one does not mention its author unless `mentions` says so)."""
        message_id = self._snowflake(seconds_ago)
        if reply_to is not None:
            channel_id = int(self.sent[reply_to]["channel_id"])
        data = _message_object(message_id, channel_id or guild.channel_ids[0], self.users[str(author_id)], content)
        if reply_to is not None:
            data["type"] = 19  # REPLY
            data["message_reference"] = {
                "type": 0, "message_id": str(reply_to), "channel_id": data["channel_id"], "guild_id": str(guild.id)
            }  # fmt: skip
            data["referenced_message"] = self.sent[reply_to]
        data["mentions"] = [{**self.users[str(user)], "member": self._member(guild, user)} for user in mentions]
        if not dm:
            data["guild_id"] = str(guild.id)
            data["member"] = self._member(guild, author_id)
        self.sent[message_id] = data
        self.loop.call_soon_threadsafe(self._dispatch_message, guild.id, message_id, data)
        return message_id

    def deliver_again(self, guild, message_id):
        """Discord sends a message's MESSAGE_CREATE once more, as its gateway may (it delivers at
        least once): the same id and content. Its first delivery's time stays the one measured."""
        data = self.sent[message_id]
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_CREATE", data)

    def _dispatch_message(self, guild_id, message_id, data):
        self.sent_at[message_id] = time.perf_counter()
        self._dispatch_to_owners(guild_id, "MESSAGE_CREATE", data)

    def edit(self, guild, message_id, content, edited_at=None):
        """The author edits a message they sent; returns its edited_timestamp in microseconds."""
        edited_at = edited_at or time.time()
        data = {**self.sent[message_id], "content": content, "edited_timestamp": _iso(edited_at)}
        self.sent[message_id] = data
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_UPDATE", data)
        return int(datetime.fromisoformat(data["edited_timestamp"]).timestamp() * 1_000_000)

    def add_embed(self, guild, message_id):
        """Discord unfurls a link of the message: an update that is no edit (no edit time)."""
        data = {**self.sent[message_id], "embeds": [{"type": "link", "url": "https://example.com"}]}
        self.sent[message_id] = data
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_UPDATE", data)

    def delete(self, guild, message_id):
        data = {"id": str(message_id), "channel_id": self.sent[message_id]["channel_id"], "guild_id": str(guild.id)}
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_DELETE", data)

    def bulk_delete(self, guild, message_ids):
        """A moderator deletes messages of one channel at once (Discord allows 2 to 100)."""
        channel_id = self.sent[message_ids[0]]["channel_id"]
        data = {"ids": [str(i) for i in message_ids], "channel_id": channel_id, "guild_id": str(guild.id)}
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_DELETE_BULK", data)

    # -- users react ----------------------------------------------------------------------------

    def react(self, guild, message_id, user_id, emoji="👍"):
        """`user_id` adds a reaction to a message sent here (`emoji`: a Unicode emoji, or a server's
        own as `name:id`): MESSAGE_REACTION_ADD, with the reacting member and the message's author."""
        data = {
            **self._reaction(guild, message_id, user_id, emoji),
            "member": {**self._member(guild, user_id), "user": self.users[str(user_id)]},
            "message_author_id": self.sent[message_id]["author"]["id"],
        }
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_REACTION_ADD", data)

    def unreact(self, guild, message_id, user_id, emoji="👍"):
        """`user_id` removes their reaction: MESSAGE_REACTION_REMOVE, which names only them."""
        data = self._reaction(guild, message_id, user_id, emoji)
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, "MESSAGE_REACTION_REMOVE", data)

    def clear_reactions(self, guild, message_id, emoji=None):
        """A moderator removes all the message's reactions (MESSAGE_REACTION_REMOVE_ALL), or all of
        one emoji (MESSAGE_REACTION_REMOVE_EMOJI)."""
        data = {key: value for key, value in self._reaction(guild, message_id, 0, emoji or "x").items() if key in (
            "channel_id", "message_id", "guild_id", "emoji")}  # fmt: skip
        if emoji is None:
            del data["emoji"]
        event = "MESSAGE_REACTION_REMOVE_EMOJI" if emoji else "MESSAGE_REACTION_REMOVE_ALL"
        self.loop.call_soon_threadsafe(self._dispatch_to_owners, guild.id, event, data)

    def _reaction(self, guild, message_id, user_id, emoji):
        name, _, emoji_id = emoji.partition(":")
        return {
            "user_id": str(user_id),
            "channel_id": self.sent[message_id]["channel_id"],
            "message_id": str(message_id),
            "guild_id": str(guild.id),
            "emoji": {"id": emoji_id or None, "name": name, **({"animated": False} if emoji_id else {})},
            "burst": False,
            "type": 0,
        }

    # -- what the bot did ------------------------------------------------------------------------

    def replies_to(self, message_id):
        """Contents the bot posted in answer to `message_id` (nonces derive from it), in order."""
        prefix = f"{message_id}."
        return [m.content for m in self.messages if m.nonce and m.nonce.startswith(prefix)]

    def reactions_to(self, message_id):
        return [r.emoji for r in self.reactions if r.message_id == message_id]

    def wait_until(self, condition, timeout=60, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return condition()

    def connected_shards(self):
        return sorted(s.shard_id for s in self.sessions.values() if s.connection is not None)

    def too_many_requests(self):
        """How many 429s were answered, injected ones included."""
        return sum(1 for _, _, status in self.rest_log if status == 429)

    def rate_limit_violations(self):
        """How many requests broke the enforced limits (route buckets or global); injected 429s not included."""
        return len(self.limit_hits)

    # -- faults ----------------------------------------------------------------------------------

    def fail_rest(self, statuses, seconds, retry_after=1.0, is_global=False):
        """For `seconds`, answer every message and reaction request with one of `statuses` (429, 5xx, 403, 404).

        An injected 429 stands for another client on the same token: scope "shared", or "global" with
        `is_global`. Injected answers count towards no limit.
        """
        statuses = (statuses,) if isinstance(statuses, int) else tuple(statuses)
        self._failure = (time.monotonic() + seconds, statuses, retry_after, is_global)

    def drop_connections(self):
        """Cut every gateway connection, as a network blip would; sessions stay resumable."""
        self.loop.call_soon_threadsafe(lambda: [c.abort() for c in list(self.connections)])

    # -- REST --------------------------------------------------------------------------------------

    async def _rest(self, request):
        arrival = time.perf_counter()
        path = "/" + request.match_info["path"]
        response = await self._answer(request, path, arrival)
        self.rest_log.append((request.method, path, response.status))
        self.rest_times.append((arrival, request.method, path, response.status))
        return response

    async def _answer(self, request, path, now):
        """Discord's order: authentication, injected faults, the global limit, the route's bucket, the route."""
        if path.startswith(("/interactions/", "/webhooks/")):  # authorised by the interaction's token
            return self._unlimited(await self._interaction_route(request, path))
        if self.oauth.handles(path):  # authorised by the client's secret or a person's token
            answer = await self.oauth.route(request, path)
            if answer is not None:
                return self._unlimited(answer)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return self._unlimited(self._json({"message": "401: Unauthorized", "code": 0}, status=401))
        bucket = self._bucket_of(request.method, path)
        if bucket:
            failure = self._injected_failure(bucket, now)
            if failure:
                return failure
        refusal = self._enforce_limits(bucket, now)
        if refusal:
            scope = refusal.headers["X-RateLimit-Scope"]
            self.limit_hits.append((now, request.method, path, scope))
            return refusal
        # The bucket's state right after this request, before another one can change it during the route.
        headers = self._bucket_headers(bucket, now) if bucket else None
        response = await self._route(request, path)
        if headers:
            response.headers.update(headers)
            return response
        return self._unlimited(response)

    def _bucket_of(self, method, path):
        """(route bucket, channel id, or server id for member roles) for the rate-limited routes, else None."""
        parts = path.strip("/").split("/")
        if (
            method in ("PUT", "DELETE") and len(parts) == 6 and parts[0] == "guilds" and parts[2] == "members"
            and parts[4] == "roles" and all(part.isdigit() for part in parts[1::2])
        ):  # fmt: skip
            return "member_roles", int(parts[1])
        if len(parts) < 3 or parts[0] != "channels" or not parts[1].isdigit():
            return None
        if method == "POST" and len(parts) == 3 and parts[2] == "messages":
            return "messages", int(parts[1])
        is_reaction = len(parts) == 7 and parts[2] == "messages" and parts[3].isdigit() and parts[4] == "reactions"
        if method == "PUT" and is_reaction:
            return "reactions", int(parts[1])
        return None

    def _window(self, bucket):
        if bucket not in self._windows:
            name, _ = bucket
            self._windows[bucket] = _FixedWindow(*self.route_limits[name])
        return self._windows[bucket]

    def _enforce_limits(self, bucket, now):
        """A 429 if this request breaks a limit, else None with the request counted.

        The global limit goes first; a request it refuses takes nothing from the route's bucket, and no
        429 counts towards any window.
        """
        name = bucket[0] if bucket else "default"
        window = self._window(bucket) if bucket else None
        limit = window.limit if window else self.global_limit
        retry_after = self._global.retry_after(now)
        if retry_after > 0:
            return self._too_many(name, limit, retry_after, scope="global")
        if window and not window.take(now):
            return self._too_many(name, limit, window.reset_after(now), scope="user")
        self._global.take(now)
        return None

    def _json(self, data, status=200):
        # Exactly "application/json", as Discord sends it: discord.py compares the header verbatim.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={
                "Content-Type": "application/json",
                "Via": "1.1 google",  # discord.py only retries 429s that came through Discord's edge
            },
        )

    def _limit_headers(self, name, limit, remaining, reset_after):
        reset_after = _ceil_ms(max(reset_after, 0.0))
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{_ceil_ms(time.time() + reset_after):.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": _bucket_hash(name),
        }

    def _bucket_headers(self, bucket, now):
        name, _ = bucket
        window = self._window(bucket)
        return self._limit_headers(name, window.limit, window.remaining(now), window.reset_after(now))

    def _unlimited(self, response):
        """Plausible headers for the routes no bucket limits here: login, the gateway URL, 404s."""
        response.headers.update(self._limit_headers("default", 50, 49, 1.0))
        return response

    def _too_many(self, name, limit, retry_after, scope):
        """Discord's 429: `scope` is "user" (a route bucket), "global" or "shared" (another client's use)."""
        retry_after = _ceil_ms(max(retry_after, 0.001))
        is_global = scope == "global"
        response = self._json(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}, status=429
        )
        response.headers.update(self._limit_headers(name, limit, 0, retry_after))
        response.headers["Retry-After"] = str(math.ceil(retry_after))  # whole seconds in the header, as Discord
        response.headers["X-RateLimit-Scope"] = scope
        if is_global:
            response.headers["X-RateLimit-Global"] = "true"
        return response

    def _injected_failure(self, bucket, now):
        if not self._failure:
            return None
        until, statuses, retry_after, is_global = self._failure
        if time.monotonic() >= until:
            self._failure = None
            return None
        name, _ = bucket
        status = random.choice(statuses)
        if status == 429:
            limit = self._window(bucket).limit
            return self._too_many(name, limit, retry_after, scope="global" if is_global else "shared")
        if status in (403, 404):
            response = self._json(FORBIDDEN if status == 403 else NOT_FOUND[name], status=status)
            response.headers.update(self._bucket_headers(bucket, now))
            return response
        # An error from Discord's edge, before any limit: HTML, and no rate-limit headers.
        return web.Response(status=status, text="<html>upstream error</html>", headers={"Via": "1.1 google"})

    async def _route(self, request, path):
        parts = path.strip("/").split("/")
        if request.method == "GET" and path == "/users/@me":
            return self._json(self.bot)
        if request.method == "GET" and parts[0] == "users" and len(parts) == 2 and parts[1] in self.users:
            self.users_fetched.append(int(parts[1]))
            return self._json(self.users[parts[1]])
        if request.method == "GET" and path == "/oauth2/applications/@me":
            return self._json(self._application())
        if request.method == "GET" and path in ("/gateway", "/gateway/bot"):
            data = {"url": self.gateway_url}
            if path == "/gateway/bot":
                limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": self.max_concurrency}
                data.update(shards=self.recommended_shards, session_start_limit=limit)
            return self._json(data)
        if (
            request.method == "PUT"
            and parts[:2] == ["applications", str(self.application_id)]
            and parts[-1] == "commands"
        ):
            return await self._put_commands(request, parts)
        bucket = self._bucket_of(request.method, path)
        if bucket and bucket[0] == "member_roles":
            return self._member_role(request.method, *map(int, parts[1::2]))
        if bucket and bucket[0] == "messages":
            return await self._create_message(request, int(parts[1]))
        if bucket and bucket[0] == "reactions":
            reaction = (int(parts[1]), int(parts[3]), parts[5])
            if reaction in self._reacted:  # a reaction exists once, however often it is added
                self.reaction_repeats += 1
            else:
                self._reacted.add(reaction)
                self.reactions.append(Reaction(*reaction, time.perf_counter()))
            return web.Response(status=204, headers={"Via": "1.1 google"})
        return self._json({"message": "404: Not Found", "code": 0}, status=404)

    def _member_role(self, method, guild_id, user_id, role_id):
        """Give or take a role as Discord allows: Manage Roles (or Administrator) on one of the bot's
        roles, and the role below the bot's highest; else 403 50013, and nothing changes."""
        guild = self.guilds.get(guild_id)
        if guild is None or role_id not in guild.roles:
            return self._json({"message": "Unknown Role", "code": 10011}, status=404)
        if user_id not in guild.members:
            return self._json(NOT_FOUND["member_roles"], status=404)
        mine = [guild.roles[int(role)] for role in guild.members[int(self.bot["id"])] if int(role) in guild.roles]
        may_manage = any(role["permissions"] & (MANAGE_ROLES | ADMINISTRATOR) for role in mine)
        highest = max((role["position"] for role in mine), default=0)
        if not may_manage or guild.roles[role_id]["position"] >= highest:
            return self._json(FORBIDDEN, status=403)
        held = guild.members[user_id]
        if method == "PUT" and str(role_id) not in held:
            held.append(str(role_id))
            self.role_changes.append((guild_id, user_id, role_id, "add"))
        elif method == "DELETE" and str(role_id) in held:
            held.remove(str(role_id))
            self.role_changes.append((guild_id, user_id, role_id, "remove"))
        return web.Response(status=204, headers={"Via": "1.1 google"})

    def _application(self):
        return {
            "id": str(self.application_id),
            "name": self.bot["username"],
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self._user("owner"),
            "verify_key": "0" * 64,
            "flags": 0,
        }

    async def _create_message(self, request, channel_id):
        body = await request.json()
        content = body.get("content") or ""
        if len(content) > 2000:
            errors = {
                "content": {
                    "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
                }
            }
            return self._json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._by_nonce.get((channel_id, nonce))
            if earlier:
                self.nonce_replays += 1
                return self._json(self._message_json(earlier))
        message = Message(
            self._snowflake(), channel_id, content, nonce, body.get("allowed_mentions"), time.perf_counter()
        )
        self.messages.append(message)
        if nonce is not None:
            self._by_nonce[(channel_id, nonce)] = message
        return self._json(self._message_json(message))

    def _message_json(self, message):
        return {**_message_object(message.id, message.channel_id, self.bot, message.content), "nonce": message.nonce}

    # -- slash commands ----------------------------------------------------------------------------

    async def _put_commands(self, request, parts):
        scope = int(parts[3]) if len(parts) == 5 and parts[2] == "guilds" else None
        if len(parts) not in (3, 5):
            return self._json({"message": "404: Not Found", "code": 0}, status=404)
        body = await request.json()
        # Discord's rule: names are unique per type (a slash command and a context menu entry of
        # a person and of a message may share one).
        names = [(command.get("type", 1), command.get("name")) for command in body]
        if len(set(names)) != len(names) or not all(_localizations_valid(command) for command in body):
            return self._json({"message": "Invalid Form Body", "code": 50035}, status=400)
        registered = [
            {**command, "id": str(self._snowflake()), "application_id": str(self.application_id), "version": "1"}
            for command in body
        ]
        self.commands[scope] = registered
        return self._json(registered)

    def _interaction_object(self, guild, user_id, command, options, channel_id=None, dm=False, menu=None,
                            locale="en-US"):  # fmt: skip
        """Register an interaction and return Discord's JSON for it: a slash command, or with `menu`
        ("user", a user's id) or ("message", a message's id) the context menu entry `command` used
        on that person or message. `locale`: the language of the user's Discord."""
        interaction_id = self._snowflake()
        token = f"aW50ZXJhY3Rpb24-{uuid.uuid4().hex}{uuid.uuid4().hex}"
        user = self.users[str(user_id)]
        self.interactions[interaction_id] = Interaction(
            interaction_id, token, None if dm else guild.id, user_id, command, dict(options or {}), time.monotonic()
        )
        self._interactions_by_token[token] = self.interactions[interaction_id]
        kinds = {str: 3, int: 4, bool: 5}
        data = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 2,
            "token": token,
            "version": 1,
            "data": self._menu_data(command, *menu)
            if menu
            else {
                "id": str(self._snowflake()),
                "name": command,
                "type": 1,
                "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in (options or {}).items()],
            },
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)} if not dm else {"1": str(user_id)},
            "app_permissions": "0",
            "attachment_size_limit": 8388608,
        }
        if dm:
            return {**data, "user": user, "context": 1, "channel": {"id": str(self._snowflake()), "type": 1}}
        roles = guild.members.get(user_id, [])
        permissions = 1024 | 2048
        permissions |= MANAGE_GUILD if str(guild.manager_role_id) in roles else 0
        permissions |= ADMINISTRATOR if str(guild.admin_role_id) in roles else 0
        channel_id = channel_id or guild.channel_ids[0]
        return {
            **data,
            "guild_id": str(guild.id),
            "guild_locale": guild.locale,
            "context": 0,
            "channel_id": str(channel_id),
            "channel": {"id": str(channel_id), "type": 0, "guild_id": str(guild.id), "name": "channel", "position": 0},
            "member": {**self._member(guild, user_id), "user": user, "permissions": str(permissions)},
        }

    def _menu_data(self, command, kind, target):
        """A context menu entry's interaction data: what was clicked, resolved as Discord does."""
        if kind == "user":
            resolved = {"users": {str(target): self.users[str(target)]}}
        else:
            resolved = {"messages": {str(target): self.sent[target]}}
        return {"id": str(self._snowflake()), "name": command, "type": 2 if kind == "user" else 3,
                "target_id": str(target), "resolved": resolved}  # fmt: skip

    def interact(self, guild, user_id, command, options=None, channel_id=None, dm=False, menu=None, locale="en-US"):
        """A user runs a slash command (or, with `menu`, a context menu entry: _interaction_object),
        from a Discord in `locale`; INTERACTION_CREATE goes to the shard of its server (shard 0 in a
        direct message). Returns the interaction's id."""
        data = self._interaction_object(guild, user_id, command, options, channel_id, dm, menu, locale)
        owner = 0 if dm else guild.id

        def dispatch():
            for session in self.sessions.values():
                if session.owns(owner):
                    session.dispatch("INTERACTION_CREATE", data)

        self.loop.call_soon_threadsafe(dispatch)
        return int(data["id"])

    def post_interaction(
        self, url, guild=None, user_id=None, command=None, options=None, *, dm=False, body=None, sign="good", age=0,
        headers=None, menu=None,
    ):  # fmt: skip
        """Discord's POST to an Interactions Endpoint URL: a slash command (or `body` as is, e.g. a PING),
        signed as `sign` says ("good", "bad" or "none"), with a timestamp `age` seconds old, and any
        other `headers` (a TLS proxy's, in front of the endpoint). An answer
        within 3 s is the interaction's callback. Returns (status, JSON or text, interaction id or None)."""
        interaction_id = None
        if body is None:
            body = self._interaction_object(guild, user_id, command, options, dm=dm, menu=menu)
            interaction_id = int(body["id"])
        raw = json.dumps(body).encode()
        timestamp = str(int(time.time() - age))
        headers = {"Content-Type": "application/json", "User-Agent": "Discord-Interactions/1.0", **(headers or {})}
        if sign != "none":
            signature = self._signing_key.sign(timestamp.encode() + raw).signature.hex()
            if sign == "bad":
                signature = signature[:-2] + ("00" if signature[-2:] != "00" else "11")
            headers.update({"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp})
        if interaction_id is not None:
            self.signed_posts[interaction_id] = (raw, headers)
        response = urllib3.request("POST", url, body=raw, headers=headers, timeout=10, retries=False)
        try:
            answer = json.loads(response.data)
        except ValueError:
            answer = response.data.decode(errors="replace")
        if interaction_id is not None and response.status == 200 and isinstance(answer, dict):
            self._record_callback(self.interactions[interaction_id], answer)
        return response.status, answer, interaction_id

    def replay_interaction(self, url, interaction_id):
        """What someone who recorded an interaction's POST could do: send the same bytes, signature
        included, again. Returns (status, text)."""
        raw, headers = self.signed_posts[interaction_id]
        response = urllib3.request("POST", url, body=raw, headers=headers, timeout=10, retries=False)
        return response.status, response.data.decode(errors="replace")

    def _record_callback(self, interaction, body):
        """The bot's answer to an interaction: Discord's rules, then what it shows. None if accepted."""
        elapsed = time.monotonic() - interaction.created
        if elapsed > INTERACTION_ACK_SECONDS:
            interaction.late_callbacks += 1
            return {"message": "Unknown interaction", "code": 10062}, 404
        if interaction.response_type is not None:
            interaction.repeated_callbacks += 1
            return {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
        data = body.get("data") or {}
        interaction.response_type = body.get("type")
        interaction.response_flags = data.get("flags") or 0
        interaction.acknowledged_after = elapsed
        if interaction.response_type == 4:
            interaction.content = data.get("content")
            interaction.allowed_mentions.append(data.get("allowed_mentions"))
        return None

    def interaction(self, interaction_id):
        return self.interactions[interaction_id]

    async def _interaction_route(self, request, path):
        parts = path.strip("/").split("/")
        body = await request.json() if request.can_read_body else {}
        if parts[0] == "interactions" and len(parts) == 4 and parts[3] == "callback" and request.method == "POST":
            interaction = self.interactions.get(int(parts[1])) if parts[1].isdigit() else None
            if interaction is None or interaction.token != parts[2]:
                return self._json({"message": "Unknown interaction", "code": 10062}, status=404)
            refusal = self._record_callback(interaction, body)
            if refusal:
                return self._json(refusal[0], status=refusal[1])
            return self._json(
                {
                    "interaction": {
                        "id": str(interaction.id),
                        "type": 2,
                        "response_message_loading": interaction.response_type == 5,
                        "response_message_ephemeral": interaction.ephemeral,
                    },
                    "resource": {"type": interaction.response_type},
                }
            )
        interaction = self._interactions_by_token.get(parts[2]) if len(parts) >= 3 else None
        if parts[0] != "webhooks" or parts[1] != str(self.application_id) or interaction is None:
            return self._json({"message": "Unknown Webhook", "code": 10015}, status=404)
        if time.monotonic() - interaction.created > INTERACTION_TOKEN_SECONDS:
            return self._json({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        if interaction.response_type is None:
            return self._json({"message": "Unknown Webhook", "code": 10015}, status=404)
        content = body.get("content") or ""
        if len(content) > 2000:
            return self._json({"message": "Invalid Form Body", "code": 50035}, status=400)
        message = _message_object(self._snowflake(), 0, self.bot, content)
        if request.method == "PATCH" and parts[3:] == ["messages", "@original"]:
            interaction.content = content
            interaction.edits += 1
            interaction.allowed_mentions.append(body.get("allowed_mentions"))
            return self._json(message)
        if request.method == "POST" and len(parts) == 3:
            interaction.followups.append(content)
            interaction.allowed_mentions.append(body.get("allowed_mentions"))
            return self._json(message)
        return self._json({"message": "404: Not Found", "code": 0}, status=404)

    # -- Gateway -----------------------------------------------------------------------------------

    async def _gateway(self, request):
        if request.query.get("v") != "10" or request.query.get("encoding") != "json":
            return web.Response(status=400, text="unsupported gateway version or encoding")
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            return web.Response(status=400, text=f"unsupported compression {compress}")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = _Connection(ws, request, compress is not None)
        self.connections.add(connection)
        writer = asyncio.create_task(connection.write_forever())
        connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}})
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op, data = payload.get("op"), payload.get("d")
                if op == 1:
                    connection.send({"op": 11})
                elif op == 2:
                    await self._identify(connection, data)
                elif op == 6:
                    await self._resume(connection, data)
        finally:
            self.connections.discard(connection)
            if connection.session and connection.session.connection is connection:
                connection.session.connection = None
            await asyncio.sleep(0.1)  # let queued frames go if the socket still can
            writer.cancel()
        return ws

    async def _close(self, connection, code, reason):
        await asyncio.sleep(0.05)
        await connection.ws.close(code=code, message=reason.encode())

    async def _identify(self, connection, data):
        if data.get("token") != self.token:
            await self._close(connection, 4004, "Authentication failed.")
            return
        if (data.get("intents", 0) & REQUIRED_INTENTS) != REQUIRED_INTENTS:
            await self._close(connection, 4013, "Invalid intent(s).")
            return
        if data.get("intents", 0) & MESSAGE_CONTENT and not self.message_content_allowed:
            await self._close(connection, 4014, "Disallowed intent(s).")
            return
        shard_id, shard_count = data.get("shard", [0, 1])
        if not 0 <= shard_id < shard_count:
            await self._close(connection, 4010, "Invalid shard.")
            return
        self.identifies.append((time.monotonic(), shard_id, shard_count))
        session = _Session(shard_id, shard_count, data.get("intents", 0), self.bot["id"])
        self.sessions[session.id] = session
        session.connection = connection
        connection.session = session
        guilds = [guild for guild in self.guilds.values() if session.owns(guild.id)]
        session.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot,
                "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
                "session_id": session.id,
                "resume_gateway_url": self.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
            },
        )
        for guild in guilds:
            session.dispatch("GUILD_CREATE", self._guild_create(guild))

    async def _resume(self, connection, data):
        if data.get("token") != self.token:
            await self._close(connection, 4004, "Authentication failed.")
            return
        session = self.sessions.get(data.get("session_id"))
        if session is None:
            connection.send({"op": 9, "d": False})
            return
        if session.connection is not None and session.connection is not connection:
            session.connection.abort()
        session.connection = connection
        connection.session = session
        for payload in session.backlog:
            if payload["s"] > (data.get("seq") or 0):
                connection.send(payload)
        session.dispatch("RESUMED", {})

    def identify_rate_violations(self):
        """IDENTIFYs that came sooner than Discord allows after the previous one of their bucket."""
        violations = 0
        for bucket in range(self.max_concurrency):
            times = sorted(t for t, shard_id, _ in self.identifies if shard_id % self.max_concurrency == bucket)
            violations += sum(1 for a, b in itertools.pairwise(times) if b - a < IDENTIFY_INTERVAL - 0.1)
        return violations
