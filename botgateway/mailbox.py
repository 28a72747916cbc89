"""Replies held per channel until Discord's limits let them out, and who may post them.

A reply task puts its reply here and goes back to work; whoever holds a channel's lease posts what
the channel holds (botgateway/delivery.py). A channel with held replies is *due* at a time: when
its bucket refills, or now when a reply was just added; every delivering process looks for due
channels and claims them. Every change but adding a reply needs the lease, checked in the same
step: a holder whose lease ran out (a stalled process) can no longer change anything.

Each post is written down before it is made (the *intent*) and made again, unchanged, by whoever
takes over after a crash: Discord's nonce then answers with the message posted the first time
instead of posting it twice. A reply that was posted is remembered for an hour, so that the same
reply delivered again (a redelivered task) is not held a second time. What each post told the
channel of a subject (its version) is remembered too: a reply that comes late must not say an
older value (botgateway/delivery.py drops or refreshes it).

Two stores with the same behaviour: RedisMailbox (every process that uses the same Redis shares
the held replies, which survive a killed worker) and MemoryMailbox (one process alone).
"""

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import NotRequired, Protocol, TypedDict

import redis

from botgateway import redis_client
from karma.message import Line, Reply, answers_someone

LEASE_SECONDS = 10  # a holder that dies leaves the channel to others after this long
# How long a channel remembers which version of each subject it was told; a line about a subject it
# no longer remembers is checked against the database (the truth) before it is said.
SAID_SECONDS = 6 * 3600
POSTED_SECONDS = 3600  # how long a channel remembers which replies it posted
# The field of a channel's memory that says since when (ms since the epoch) it has noted what
# every post told the channel: a line made after then about a subject it has no memory of was
# never said newer (botgateway/delivery.py). No subject is empty, so the name is free.
MEMORY_SINCE = ""
# What waits for Discord's budget is bounded, so that a saturated budget cannot fill Redis. Per
# channel, by time: an announcement held longer than ANNOUNCE_MAX_DELAY is merged or dropped at
# the channel's next turn (botgateway/delivery.py), and a post merges every line a newer one
# replaces, so a burst of a thousand `thing++` in one channel goes out as one post. (A cap on the
# replies a channel holds would drop the newest, the final value.) Overall: an announcement (a
# reply that only reports karma) is not held for a channel that holds nothing while this many
# channels hold replies. Answers to commands are always held. About 700 bytes a held reply in
# Redis (bench/README.md, "The wall": 12 MB at its peak with 20,000 servers).
HELD_CHANNELS = 25_000


@dataclass(frozen=True)
class Held:
    """What is left to post of one reply: its lines (with their place in the reply) and reaction."""

    message_id: int
    lines: tuple[tuple[int, Line], ...]
    joiner: str
    reaction: str | None
    guild_id: int = 0  # the server whose karma the lines report (0: unknown)
    since: float = 0.0  # time.time() when delivery took the reply in (0: unknown, as in older entries)
    made: float = 0.0  # the reply's made_at (karma/message.py: Reply)

    @classmethod
    def of(cls, reply: Reply) -> "Held":
        lines = tuple(enumerate(reply.lines))
        return cls(reply.message_id, lines, reply.joiner, reply.reaction, reply.guild_id, time.time(), reply.made_at)

    def to_json(self) -> str:
        lines = [[index, line.text, line.subject, line.version] for index, line in self.lines]
        return json.dumps({"lines": lines, "joiner": self.joiner, "reaction": self.reaction, "guild": self.guild_id,
                           "since": self.since, "made": self.made})  # fmt: skip

    @classmethod
    def from_json(cls, message_id: int, text: str | bytes) -> "Held":
        data = json.loads(text)
        lines = tuple((index, Line(text, subject, version)) for index, text, subject, version in data["lines"])
        return cls(message_id, lines, data["joiner"], data["reaction"], data.get("guild", 0), data.get("since", 0.0),
                   data.get("made", 0.0))  # fmt: skip

    def announces_only(self) -> bool:
        """Whether it only reports karma: no answer to a command, no reaction (which answers too)."""
        return bool(self.lines) and not answers_someone((line for _, line in self.lines), self.reaction)

    def subjects(self) -> list[str]:
        return list(dict.fromkeys(line.subject for _, line in self.lines if line.subject is not None))

    def without(self, indices: set[int], reaction: bool) -> "Held | None":
        """What is left once the lines at `indices` (and the reaction, if `reaction`) went out."""
        lines = tuple((index, line) for index, line in self.lines if index not in indices)
        left = None if reaction else self.reaction
        return replace(self, lines=lines, reaction=left) if lines or left else None


class Intent(TypedDict):
    """One post, written down before it is made (botgateway/coalesce.py: next_post).

    Kept in Redis as JSON: these keys are its stored form, which held posts of a running
    deployment are read back in. Only `covers` and `reaction_of` are always there: an intent that
    only drops lines the channel was told already (botgateway/delivery.py) has no post to make.
    """

    covers: dict[str, list[int]]  # message id (text: JSON's keys are) -> indices of the lines it says
    reaction_of: int | None  # the held reply whose reaction it adds
    kind: NotRequired[str]  # coalesce.TEXT or coalesce.REACTION
    message_id: NotRequired[int]  # the message it answers (a reaction goes on it)
    content: NotRequired[str]  # a text post's message
    nonce: NotRequired[str]  # the same for every attempt at this message
    emoji: NotRequired[str]  # a reaction's emoji
    answer: NotRequired[bool]  # it answers a command (botgateway/delivery.py: announces); absent: no
    said: NotRequired[dict[str, int]]  # the version of each subject it says
    attempts: NotRequired[int]  # failed attempts so far (delivery backs off)
    not_before: NotRequired[float]  # time.time() before which it is not tried again


def remaining(held: list[Held], intent: Intent) -> dict[int, Held | None]:
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

    intent: Intent | None
    held: list[Held]
    said: dict[str, int]


class Mailbox(Protocol):
    """What delivery needs of a mailbox: MemoryMailbox and RedisMailbox (which documents each step)."""

    def add(self, reply: Reply) -> tuple[str | None, bool, dict[str, int]]: ...

    def hold(self, channel_id: int, token: str, entry: Held) -> bool: ...

    def lease(self, channel_id: int) -> str | None: ...

    def state(self, channel_id: int, token: str) -> State | None: ...

    def held(self, channel_id: int) -> list[Held]: ...

    def set_intent(self, channel_id: int, token: str, intent: Intent) -> bool: ...

    def commit(self, channel_id: int, token: str, intent: Intent, state: State) -> bool: ...

    def finish(self, channel_id: int, token: str, said: dict[str, int] | None = None) -> bool: ...

    def give_back(
        self, channel_id: int, token: str, due_in: float | None = None, said: dict[str, int] | None = None
    ) -> None: ...

    def claim_due(self, limit: int = 100) -> list[int]: ...

    def claim_due_next(self, limit: int = 100) -> tuple[list[int], float | None]:
        """claim_due(), and the seconds until the next channel is due (None: none holds a reply)."""
        ...


def _after(state: State, intent: Intent) -> tuple[dict[str, int], dict[int, Held | None], list[int]]:
    """What `intent` changes once made: what was said, the replies left (None: gone), those posted.

    What a post says of a subject is what the channel was last told, even when it is older than the
    memory (delivery says older only when the database shows that memory was not of this database).
    """
    said = intent.get("said", {})
    left = remaining(state.held, intent)
    return said, left, [message_id for message_id, entry in left.items() if entry is None]


class MemoryMailbox:
    """Held replies of one process, in memory: lost if the process dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, dict[int, Held]] = {}  # channel -> {message id -> Held}
        self._intents: dict[int, Intent] = {}  # channel -> intent
        self._leases: dict[int, tuple[str, float]] = {}  # channel -> (token, expires)
        self._due: dict[int, float] = {}  # channel -> when (monotonic seconds)
        # channel -> ({subject -> version the channel was told last}, expires)
        self._said: dict[int, tuple[dict[str, int], float]] = {}
        self._posted: dict[tuple[int, int], float] = {}  # (channel, message id) -> expires
        # Leases' tokens: distinct within this process is enough (uuid4 was 4 % of a post's time).
        self._tokens = itertools.count(1)

    def add(self, reply: Reply) -> tuple[str | None, bool, dict[str, int]]:
        """Take in `reply`: (the channel's lease if it was free, whether the reply was held, which
        version of the reply's subjects the channel was told last).

        A channel that holds nothing and whose lease is free does not hold the reply: its new
        holder posts it straight away (once it is checked against what the channel was told), and
        holds what Discord did not take. Otherwise the reply is held, once however often it comes,
        unless it was posted already, or unless it only announces and the mailbox is full
        (HELD_CHANNELS): then it is dropped, and (None, False, ...) says so.
        """
        with self._lock:
            now = time.monotonic()
            channel = reply.channel_id
            entry = Held.of(reply)
            said = self._told(channel, now)
            said = {subject: said[subject] for subject in [*entry.subjects(), MEMORY_SINCE] if subject in said}
            if channel not in self._held and channel not in self._intents:
                token = self._take_lease(channel, now)
                if token is not None:
                    return token, False, said
            if self._posted.get((channel, reply.message_id), 0) <= now:
                held = self._held.get(channel, {})
                full = channel not in self._due and len(self._due) >= HELD_CHANNELS
                if full and entry.announces_only() and reply.message_id not in held:
                    return None, False, said
                self._held.setdefault(channel, {}).setdefault(reply.message_id, entry)
                self._due[channel] = min(self._due.get(channel, float("inf")), now)
            return self._take_lease(channel, now), True, said

    def _told(self, channel_id: int, now: float) -> dict[str, int]:
        said, expires = self._said.get(channel_id, ({}, 0))
        return said if expires > now else {}

    def _remember(self, channel_id: int, ours: bool, said: dict[str, int] | None) -> None:
        """Note what a post told the channel; a post whose lease ran out meanwhile is not noted,
        so the memory begins again after it."""
        if said:
            now, wall_ms = time.monotonic(), int(time.time() * 1000)
            told = self._told(channel_id, now)
            told = {MEMORY_SINCE: wall_ms, **told, **said} if ours else {**told, MEMORY_SINCE: wall_ms}
            self._said[channel_id] = (told, now + SAID_SECONDS)

    def hold(self, channel_id: int, token: str, entry: Held) -> bool:
        """Hold what is left of a reply its lease holder could not post at once."""
        with self._lock:
            if not self._holds_lease(channel_id, token):
                return False
            self._held.setdefault(channel_id, {})[entry.message_id] = entry
            return True

    def lease(self, channel_id: int) -> str | None:
        with self._lock:
            return self._take_lease(channel_id, time.monotonic())

    def _take_lease(self, channel_id: int, now: float) -> str | None:
        current = self._leases.get(channel_id)
        if current and current[1] > now:
            return None
        token = str(next(self._tokens))
        self._leases[channel_id] = (token, now + LEASE_SECONDS)
        return token

    def _holds_lease(self, channel_id: int, token: str) -> bool:
        current = self._leases.get(channel_id)
        return current is not None and current[0] == token and current[1] > time.monotonic()

    def state(self, channel_id: int, token: str) -> State | None:
        """The channel's state, and the lease renewed; None when the lease is no longer ours."""
        with self._lock:
            if not self._holds_lease(channel_id, token):
                return None
            now = time.monotonic()
            self._leases[channel_id] = (token, now + LEASE_SECONDS)
            held = sorted(self._held.get(channel_id, {}).values(), key=lambda entry: entry.message_id)
            return State(self._intents.get(channel_id), held, dict(self._told(channel_id, now)))

    def held(self, channel_id: int) -> list[Held]:
        with self._lock:
            return sorted(self._held.get(channel_id, {}).values(), key=lambda entry: entry.message_id)

    def set_intent(self, channel_id: int, token: str, intent: Intent) -> bool:
        with self._lock:
            if not self._holds_lease(channel_id, token):
                return False
            self._intents[channel_id] = intent
            return True

    def commit(self, channel_id: int, token: str, intent: Intent, state: State) -> bool:
        """Note that `intent` was made (or will never be); False when the lease is no longer ours.

        `state` is what the intent was made from: only the lease holder changes held replies.
        """
        with self._lock:
            if not self._holds_lease(channel_id, token):
                self._remember(channel_id, False, intent.get("said"))
                return False
            now = time.monotonic()
            said, left, posted = _after(state, intent)
            self._remember(channel_id, True, said)
            entries = self._held.get(channel_id, {})
            for message_id, entry in left.items():
                if entry is None:
                    entries.pop(message_id, None)
                else:
                    entries[message_id] = entry
            if not entries:
                self._held.pop(channel_id, None)
            self._posted = {key: expires for key, expires in self._posted.items() if expires > now}
            for message_id in posted:
                self._posted[(channel_id, message_id)] = now + POSTED_SECONDS
            self._intents.pop(channel_id, None)
            return True

    def finish(self, channel_id: int, token: str, said: dict[str, int] | None = None) -> bool:
        """Give the lease back if the channel holds nothing; else keep it and return True.

        `said`: what a post made without holding the reply told the channel (Courier.deliver).
        """
        with self._lock:
            ours = self._holds_lease(channel_id, token)
            self._remember(channel_id, ours, said)
            if channel_id in self._held or channel_id in self._intents:
                return ours
            if ours:
                del self._leases[channel_id]
                self._due.pop(channel_id, None)
            return False

    def give_back(
        self, channel_id: int, token: str, due_in: float | None = None, said: dict[str, int] | None = None
    ) -> None:
        """Give the lease back; a channel that holds replies is due again in `due_in` seconds."""
        with self._lock:
            if not self._holds_lease(channel_id, token):
                self._remember(channel_id, False, said)
                return
            self._remember(channel_id, True, said)
            del self._leases[channel_id]
            if channel_id not in self._held and channel_id not in self._intents:
                self._due.pop(channel_id, None)
            elif due_in is not None:
                self._due[channel_id] = time.monotonic() + due_in

    def claim_due(self, limit: int = 100) -> list[int]:
        """Channels due now; each is pushed LEASE_SECONDS ahead, so no one else claims it meanwhile."""
        return self.claim_due_next(limit)[0]

    def claim_due_next(self, limit: int = 100) -> tuple[list[int], float | None]:
        with self._lock:
            now = time.monotonic()
            due = sorted((when, channel) for channel, when in self._due.items() if when <= now)[:limit]
            for _, channel in due:
                self._due[channel] = now + LEASE_SECONDS
            following = min(self._due.values(), default=None)
            return [channel for _, channel in due], None if following is None else max(following - now, 0.0)


# The same steps in Lua, run inside Redis with its clock: one round trip each, atomic.
_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
_HOLDS_LEASE = "redis.call('GET', KEYS[1]) == ARGV[1]"
# KEYS: lease, held, due, posted, intent, said. ARGV: token, lease ms, channel, message id, held
# reply, "1" if it only announces, HELD_CHANNELS, then the reply's subjects.
# Returns {leased, held, {version the channel was told of each subject, or false}}; {0, 0, ...}:
# dropped, the mailbox is full.
_ADD = (
    _NOW_MS
    + """
local said = {}
if #ARGV > 7 then said = redis.call('HMGET', KEYS[6], unpack(ARGV, 8)) end
if redis.call('EXISTS', KEYS[2], KEYS[5]) == 0 then
  if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0, said} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if not redis.call('ZSCORE', KEYS[4], ARGV[4]) then
  if ARGV[6] == '1' and not redis.call('ZSCORE', KEYS[3], ARGV[3])
      and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[7]) then
    return {0, 0, said}
  end
  redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[3], 'LT', now, ARGV[3])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 1, said} end
return {0, 1, said}
"""
)
# KEYS: lease, held. ARGV: token, message id, held reply.
_HOLD = f"""
if not ({_HOLDS_LEASE}) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
# KEYS: lease, intent, held, said. ARGV: token, lease ms.
_STATE = f"""
if not ({_HOLDS_LEASE}) then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {{redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}}
"""
# KEYS: lease, intent. ARGV: token, intent.
_SET_INTENT = f"""
if not ({_HOLDS_LEASE}) then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""
# KEYS: lease, intent, held, said, posted. ARGV: token, said {{subject: version}}, held {{message id:
# reply or ""}}, posted [message id], seconds said and posted are remembered. A holder whose lease
# ran out notes nothing, and the channel's memory begins again (MEMORY_SINCE).
_COMMIT = (
    _NOW_MS
    + f"""
local said = cjson.decode(ARGV[2])
if not ({_HOLDS_LEASE}) then
  if next(said) then redis.call('HSET', KEYS[4], '', now) redis.call('EXPIRE', KEYS[4], ARGV[5]) end
  return 0
end
if next(said) then redis.call('HSETNX', KEYS[4], '', now) redis.call('EXPIRE', KEYS[4], ARGV[5]) end
for subject, version in pairs(said) do redis.call('HSET', KEYS[4], subject, version) end
for message_id, entry in pairs(cjson.decode(ARGV[3])) do
  if entry == '' then redis.call('HDEL', KEYS[3], message_id) else redis.call('HSET', KEYS[3], message_id, entry) end
end
for _, message_id in ipairs(cjson.decode(ARGV[4])) do
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]) * 1000, message_id)
end
redis.call('EXPIRE', KEYS[5], ARGV[6])
redis.call('DEL', KEYS[2])
return 1
"""
)
# KEYS: lease, held, intent, due, said. ARGV: token, channel, "finish" or "give back", due in ms or
# "", what a post made without holding said {{subject: version}} or "", seconds said is remembered.
# finish: give the lease back only when the channel holds nothing (else return 1: go on).
_RELEASE = (
    _NOW_MS
    + f"""
local ours = {_HOLDS_LEASE}
if ours and ARGV[5] ~= '' then
  redis.call('HSETNX', KEYS[5], '', now)
  for subject, version in pairs(cjson.decode(ARGV[5])) do redis.call('HSET', KEYS[5], subject, version) end
  redis.call('EXPIRE', KEYS[5], ARGV[6])
elseif ARGV[5] ~= '' then
  redis.call('HSET', KEYS[5], '', now)
  redis.call('EXPIRE', KEYS[5], ARGV[6])
end
local holds = redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1
if ARGV[3] == 'finish' and holds then return ours and 1 or 0 end
if not ours then return 0 end
redis.call('DEL', KEYS[1])
if not holds then redis.call('ZREM', KEYS[4], ARGV[2])
elseif ARGV[4] ~= '' then redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[2]) end
return 0
"""
)
# KEYS: due. ARGV: how many, lease ms. Returns the channels claimed, and the milliseconds until
# the next one is due (-1: none).
_CLAIM = (
    _NOW_MS
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, channel in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), channel) end
local following = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if following[2] then wait = math.max(tonumber(following[2]) - now, 0) end
return {due, wait}
"""
)


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisMailbox:
    """Held replies shared by every process that uses this Redis; they outlive a killed worker."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix + "replies:"  # prefix: this bot's (botgateway/discordapi.py: redis_prefix)
        self._scripts = {
            name: client.register_script(script)
            for name, script in (("add", _ADD), ("hold", _HOLD), ("state", _STATE), ("set_intent", _SET_INTENT),
                                 ("commit", _COMMIT), ("release", _RELEASE), ("claim", _CLAIM))
        }  # fmt: skip
        self._due_key = self.prefix + "due"

    def _keys(self, channel_id: int, *kinds: str) -> list[str]:
        return [f"{self.prefix}{kind}:{channel_id}" for kind in kinds]

    def add(self, reply: Reply) -> tuple[str | None, bool, dict[str, int]]:
        """Take in `reply`: as MemoryMailbox.add."""
        token = uuid.uuid4().hex
        channel = reply.channel_id
        entry = Held.of(reply)
        subjects = entry.subjects()
        asked = [*subjects, MEMORY_SINCE] if subjects else []
        leased, held, said = self._scripts["add"](
            keys=[
                *self._keys(channel, "lease", "held"),
                self._due_key,
                *self._keys(channel, "posted", "intent", "said"),
            ],
            args=[
                token,
                LEASE_SECONDS * 1000,
                channel,
                reply.message_id,
                entry.to_json(),
                "1" if entry.announces_only() else "0",
                HELD_CHANNELS,
                *asked,
            ],
        )
        told = {subject: int(version) for subject, version in zip(asked, said, strict=True) if version is not None}
        return (token if leased else None), bool(held), told

    def hold(self, channel_id: int, token: str, entry: Held) -> bool:
        """Hold what is left of a reply its lease holder could not post at once."""
        keys = self._keys(channel_id, "lease", "held")
        return bool(self._scripts["hold"](keys=keys, args=[token, entry.message_id, entry.to_json()]))

    def lease(self, channel_id: int) -> str | None:
        token = uuid.uuid4().hex
        return (
            token
            if self.redis.set(self._keys(channel_id, "lease")[0], token, nx=True, px=LEASE_SECONDS * 1000)
            else None
        )

    def state(self, channel_id: int, token: str) -> State | None:
        """The channel's state, and the lease renewed; None when the lease is no longer ours."""
        found = self._scripts["state"](
            keys=self._keys(channel_id, "lease", "intent", "held", "said"), args=[token, LEASE_SECONDS * 1000]
        )
        if not found:
            return None
        intent, held, said = found
        return State(
            json.loads(intent) if intent else None,
            sorted((Held.from_json(int(k), v) for k, v in _pairs(held).items()), key=lambda entry: entry.message_id),
            {subject.decode(): int(version) for subject, version in _pairs(said).items()},
        )

    def held(self, channel_id: int) -> list[Held]:
        entries = self.redis.hgetall(self._keys(channel_id, "held")[0])
        return sorted((Held.from_json(int(k), v) for k, v in entries.items()), key=lambda entry: entry.message_id)

    def set_intent(self, channel_id: int, token: str, intent: Intent) -> bool:
        return bool(
            self._scripts["set_intent"](
                keys=self._keys(channel_id, "lease", "intent"), args=[token, json.dumps(intent)]
            )
        )

    def commit(self, channel_id: int, token: str, intent: Intent, state: State) -> bool:
        """Note that `intent` was made (or will never be); False when the lease is no longer ours.

        `state` is what the intent was made from: only the lease holder changes held replies.
        """
        said, left, posted = _after(state, intent)
        entries = {str(message_id): entry.to_json() if entry else "" for message_id, entry in left.items()}
        return bool(
            self._scripts["commit"](
                keys=self._keys(channel_id, "lease", "intent", "held", "said", "posted"),
                args=[token, json.dumps(said), json.dumps(entries), json.dumps(posted), SAID_SECONDS, POSTED_SECONDS],
            )
        )

    def finish(self, channel_id: int, token: str, said: dict[str, int] | None = None) -> bool:
        """As MemoryMailbox.finish."""
        return bool(self._release(channel_id, token, "finish", "", said))

    def give_back(
        self, channel_id: int, token: str, due_in: float | None = None, said: dict[str, int] | None = None
    ) -> None:
        """As MemoryMailbox.give_back."""
        self._release(channel_id, token, "give back", "" if due_in is None else round(due_in * 1000), said)

    def _release(self, channel_id: int, token: str, how: str, due: int | str, said: dict[str, int] | None) -> int:
        keys = [*self._keys(channel_id, "lease", "held", "intent"), self._due_key, *self._keys(channel_id, "said")]
        told = json.dumps(said) if said else ""
        return self._scripts["release"](keys=keys, args=[token, channel_id, how, due, told, SAID_SECONDS])

    def claim_due(self, limit: int = 100) -> list[int]:
        return self.claim_due_next(limit)[0]

    def claim_due_next(self, limit: int = 100) -> tuple[list[int], float | None]:
        claimed, wait = self._scripts["claim"](keys=[self._due_key], args=[limit, LEASE_SECONDS * 1000])
        return [int(channel) for channel in claimed], None if int(wait) < 0 else int(wait) / 1000


def mailbox_for(redis_url: str | None, prefix: str = "") -> Mailbox:
    """Shared through Redis (under `prefix`) when it is configured, this process's own otherwise."""
    return RedisMailbox(redis_client.client(redis_url), prefix) if redis_url else MemoryMailbox()
