"""Replies held per channel until Discord's limits let them out, and who may post them.

A reply task puts its reply here and goes back to work; whoever holds a channel's lease posts what
the channel holds (botgateway/delivery.py). A channel with held replies is *due* at a time: when
its bucket refills, or now when a reply was just added; every delivering process looks for due
channels and claims them.

The post in progress is written down before it is made (the *intent*) and made again, unchanged,
by whoever takes over after a crash: Discord's nonce then answers with the message posted the
first time instead of posting it twice.

Two stores with the same behaviour: RedisMailbox (every process that uses the same Redis shares
the held replies, which survive a killed worker) and MemoryMailbox (one process alone).
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from karma.message import Line, Reply

LEASE_SECONDS = 10  # a flusher that dies leaves the channel to others after this long
SAID_SECONDS = 600  # how long a channel remembers what its merged messages said


@dataclass(frozen=True)
class Held:
    """What is left to post of one reply: its lines (with their place in the reply) and reaction."""

    message_id: int
    lines: tuple[tuple[int, Line], ...]
    joiner: str
    reaction: str | None

    @classmethod
    def of(cls, reply: Reply) -> "Held":
        return cls(reply.message_id, tuple(enumerate(reply.lines)), reply.joiner, reply.reaction)

    def to_json(self) -> str:
        lines = [[index, line.text, line.subject, line.version] for index, line in self.lines]
        return json.dumps({"lines": lines, "joiner": self.joiner, "reaction": self.reaction})

    @classmethod
    def from_json(cls, message_id: int, text: str) -> "Held":
        data = json.loads(text)
        lines = tuple((index, Line(text, subject, version)) for index, text, subject, version in data["lines"])
        return cls(message_id, lines, data["joiner"], data["reaction"])

    def without(self, indices: set[int], reaction: bool) -> "Held | None":
        """What is left once the lines at `indices` (and the reaction, if `reaction`) went out."""
        lines = tuple((index, line) for index, line in self.lines if index not in indices)
        left = None if reaction else self.reaction
        return Held(self.message_id, lines, self.joiner, left) if lines or left else None


def remaining(held: list[Held], intent: dict) -> dict[int, Held | None]:
    """The held replies the intent covers, as they are once it has been posted (None: all gone)."""
    covers = {int(message_id): set(indices) for message_id, indices in intent["covers"].items()}
    reacted = intent.get("reaction_of")
    return {
        entry.message_id: entry.without(covers.get(entry.message_id, set()), entry.message_id == reacted)
        for entry in held
        if entry.message_id in covers or entry.message_id == reacted
    }


@dataclass(frozen=True)
class State:
    """What a channel holds, read at once: the post in progress, the held replies, what was said."""

    intent: dict | None
    held: list[Held]
    said: dict[str, int]


class MemoryMailbox:
    """Held replies of one process, in memory: lost if the process dies."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held = {}  # channel -> {message id -> Held}
        self._intents = {}  # channel -> intent
        self._leases = {}  # channel -> (token, expires)
        self._due = {}  # channel -> when (monotonic seconds)
        self._said = {}  # channel -> {subject -> version a merged message said}

    def add(self, reply: Reply) -> str | None:
        """Hold `reply` (once, however often it is added); returns the channel's lease if it was free."""
        with self._lock:
            self._held.setdefault(reply.channel_id, {}).setdefault(reply.message_id, Held.of(reply))
            self._due[reply.channel_id] = min(self._due.get(reply.channel_id, float("inf")), time.monotonic())
            return self._take_lease(reply.channel_id)

    def state(self, channel_id: int) -> State:
        with self._lock:
            held = sorted(self._held.get(channel_id, {}).values(), key=lambda entry: entry.message_id)
            return State(self._intents.get(channel_id), held, dict(self._said.get(channel_id, {})))

    def held(self, channel_id: int) -> list[Held]:
        return self.state(channel_id).held

    def set_intent(self, channel_id: int, intent: dict) -> None:
        with self._lock:
            self._intents[channel_id] = intent

    def done(self, channel_id: int, intent: dict, state: State) -> None:
        """Forget what `intent` covers (posted, or not to be posted), and note what it said.

        `state` is the channel's state the intent was made from (only the lease holder changes it).
        """
        with self._lock:
            said = self._said.setdefault(channel_id, {})
            for subject, version in intent.get("said", {}).items():
                said[subject] = max(said.get(subject, 0), version)
            entries = self._held.get(channel_id, {})
            for message_id, left in remaining(list(entries.values()), intent).items():
                if left is None:
                    entries.pop(message_id, None)
                else:
                    entries[message_id] = left
            if not entries:
                self._held.pop(channel_id, None)
            self._intents.pop(channel_id, None)

    def lease(self, channel_id: int) -> str | None:
        with self._lock:
            return self._take_lease(channel_id)

    def _take_lease(self, channel_id: int) -> str | None:
        now = time.monotonic()
        current = self._leases.get(channel_id)
        if current and current[1] > now:
            return None
        token = uuid.uuid4().hex
        self._leases[channel_id] = (token, now + LEASE_SECONDS)
        return token

    def finish(self, channel_id: int, token: str) -> bool:
        """Give the lease back if the channel holds nothing; else keep it and return True."""
        with self._lock:
            if channel_id in self._held or channel_id in self._intents:
                return True
            self._due.pop(channel_id, None)
            if self._leases.get(channel_id, (None,))[0] == token:
                del self._leases[channel_id]
            return False

    def release(self, channel_id: int, token: str) -> None:
        """Give the lease back; the channel stays due if it holds anything."""
        with self._lock:
            if self._leases.get(channel_id, (None,))[0] == token:
                del self._leases[channel_id]
            if channel_id not in self._held and channel_id not in self._intents:
                self._due.pop(channel_id, None)

    def schedule(self, channel_id: int, seconds: float) -> None:
        with self._lock:
            self._due[channel_id] = time.monotonic() + seconds

    def claim_due(self, limit: int = 100) -> list[int]:
        """Channels due now; each is pushed LEASE_SECONDS ahead, so no one else claims it meanwhile."""
        with self._lock:
            now = time.monotonic()
            due = sorted((when, channel) for channel, when in self._due.items() if when <= now)[:limit]
            for _, channel in due:
                self._due[channel] = now + LEASE_SECONDS
            return [channel for _, channel in due]


_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
# KEYS: held hash, due set, lease. ARGV: channel, message id, held reply, lease token, lease ms.
_ADD = (
    _NOW_MS
    + """
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], 'LT', now, ARGV[1])
if redis.call('SET', KEYS[3], ARGV[4], 'NX', 'PX', ARGV[5]) then return 1 end
return 0
"""
)
# KEYS: due set. ARGV: channel, delay in ms.
_SCHEDULE = _NOW_MS + "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])"
# KEYS: due set. ARGV: how many, lease in ms.
_CLAIM = (
    _NOW_MS
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, channel in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), channel) end
return due
"""
)
# KEYS: lease, held hash, intent, due set. ARGV: token, channel, "finish" or "release".
# finish: give the lease back only when the channel holds nothing (else return 1: go on).
# release: give it back anyway; the channel stays due if it holds anything.
_RELEASE = """
local holds = redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1
if holds and ARGV[3] == 'finish' then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if not holds then redis.call('ZREM', KEYS[4], ARGV[2]) end
return 0
"""


class RedisMailbox:
    """Held replies shared by every process that uses this Redis; they outlive a killed worker."""

    PREFIX = "popple:replies:"

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._add = client.register_script(_ADD)
        self._schedule = client.register_script(_SCHEDULE)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._due_key = self.PREFIX + "due"

    def _key(self, kind: str, channel_id: int) -> str:
        return f"{self.PREFIX}{kind}:{channel_id}"

    def add(self, reply: Reply) -> str | None:
        token = uuid.uuid4().hex
        leased = self._add(
            keys=[self._key("held", reply.channel_id), self._due_key, self._key("lease", reply.channel_id)],
            args=[reply.channel_id, reply.message_id, Held.of(reply).to_json(), token, LEASE_SECONDS * 1000],
        )
        return token if leased else None

    def state(self, channel_id: int) -> State:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key("intent", channel_id))
            pipe.hgetall(self._key("held", channel_id))
            pipe.hgetall(self._key("said", channel_id))
            intent, held, said = pipe.execute()
        return State(
            json.loads(intent) if intent else None,
            sorted((Held.from_json(int(k), v) for k, v in held.items()), key=lambda entry: entry.message_id),
            {subject.decode(): int(version) for subject, version in said.items()},
        )

    def held(self, channel_id: int) -> list[Held]:
        return self.state(channel_id).held

    def set_intent(self, channel_id: int, intent: dict) -> None:
        self.redis.set(self._key("intent", channel_id), json.dumps(intent))

    def done(self, channel_id: int, intent: dict, state: State) -> None:
        """Forget what `intent` covers (posted, or not to be posted), and note what it said.

        `state` is the channel's state the intent was made from: only the lease holder changes the
        held replies and what was said (a reply task only adds new replies), so writing what is
        left of them in one transaction is safe.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            for subject, version in intent.get("said", {}).items():
                pipe.hset(self._key("said", channel_id), subject, max(state.said.get(subject, 0), version))
            if intent.get("said"):
                pipe.expire(self._key("said", channel_id), SAID_SECONDS)
            for message_id, entry in remaining(state.held, intent).items():
                if entry is None:
                    pipe.hdel(self._key("held", channel_id), message_id)
                else:
                    pipe.hset(self._key("held", channel_id), message_id, entry.to_json())
            pipe.delete(self._key("intent", channel_id))
            pipe.execute()

    def lease(self, channel_id: int) -> str | None:
        token = uuid.uuid4().hex
        acquired = self.redis.set(self._key("lease", channel_id), token, nx=True, ex=LEASE_SECONDS)
        return token if acquired else None

    def _give_back(self, channel_id: int, token: str, how: str) -> int:
        keys = [self._key(kind, channel_id) for kind in ("lease", "held", "intent")]
        return self._release(keys=[*keys, self._due_key], args=[token, channel_id, how])

    def finish(self, channel_id: int, token: str) -> bool:
        """Give the lease back if the channel holds nothing; else keep it and return True."""
        return bool(self._give_back(channel_id, token, "finish"))

    def release(self, channel_id: int, token: str) -> None:
        """Give the lease back; the channel stays due if it holds anything."""
        self._give_back(channel_id, token, "release")

    def schedule(self, channel_id: int, seconds: float) -> None:
        self._schedule(keys=[self._due_key], args=[channel_id, round(seconds * 1000)])

    def claim_due(self, limit: int = 100) -> list[int]:
        return [int(channel) for channel in self._claim(keys=[self._due_key], args=[limit, LEASE_SECONDS * 1000])]


def mailbox_for(redis_url: str | None) -> Any:
    """Shared through Redis when it is configured, this process's own otherwise."""
    return RedisMailbox(redis.Redis.from_url(redis_url)) if redis_url else MemoryMailbox()
