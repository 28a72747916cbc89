"""One budget of Discord requests for every process: the bot's global limit and each route's bucket.

Discord allows a bot DISCORD_GLOBAL_RATE_LIMIT requests per second in all, and each route (for
example "post a message in channel C") a bucket of requests per window that it reports in every
answer's X-RateLimit-* headers. A request is made only when `acquire` grants it; the answer goes to
`learn`, which keeps what Discord said, 429s included, for every process that shares the budget.
So a process never sleeps on Discord's clock: when the budget is spent it is told how long to wait,
and holds the work.

No library keeps Discord's header-driven buckets shared between processes (discord.py keeps them
per process and sleeps), hence this module. Two stores with the same rules: RedisLimits, shared by
every process that uses the same Redis (its steps run as Lua scripts, so each is atomic), and
MemoryLimits, for one process alone. botgateway/tests/test_ratelimits.py runs the same cases on
both.

While the global budget is saturated, servers share it fairly (fair_share): announcements of a
server that took its share of the window wait, so that one server talking a hundred times more
than the others cannot delay theirs. Answers to commands are outside shares: they have the reserve.
"""

import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

import redis

from botgateway import redis_client
from botgateway.rest import Answer

# Requests are counted when granted, but Discord counts them when they arrive: a little margin
# keeps a request that was delayed on its way from arriving in the same second as later ones.
GLOBAL_WINDOW_MS = 1100
# A bucket never seen: one request goes first and its answer tells the bucket's size; the others
# wait for it, at most this long (should the request fail without an answer).
PROBE_MS = 2000
MIN_WAIT = 0.05  # seconds


@dataclass(frozen=True)
class Route:
    """What Discord limits separately: a route and its major parameter (the channel)."""

    name: str  # "POST /channels/{channel_id}/messages"
    major: int


@dataclass(frozen=True)
class Grant:
    wait: float  # seconds until the route may be tried again; 0 when the request may go now
    # Further requests the route and the global budget allow right now; None while the route's
    # bucket is not known yet (this request goes first to find out).
    spare: int | None = 0


def retry_after(answer: Answer) -> float:
    body = answer.body if isinstance(answer.body, dict) else {}
    try:
        wait = float(body.get("retry_after") or answer.headers.get("Retry-After") or 1.0)
    except (TypeError, ValueError):
        wait = 1.0
    return max(wait, MIN_WAIT)  # a 429 never means "again at once"


def _is_global(answer: Answer) -> bool:
    body = answer.body if isinstance(answer.body, dict) else {}
    return bool(body.get("global")) or answer.headers.get("X-RateLimit-Scope") == "global"


def _bucket_headers(answer: Answer) -> tuple[int, int, float] | None:
    """(limit, remaining, reset after in seconds) from an answer, when it has them."""
    headers = answer.headers
    try:
        return (
            int(headers["X-RateLimit-Limit"]),
            int(headers["X-RateLimit-Remaining"]),
            float(headers["X-RateLimit-Reset-After"]),
        )
    except (KeyError, ValueError):
        return None


class Limits(Protocol):
    """What delivery needs of a budget: MemoryLimits and RedisLimits."""

    def acquire(self, route: Route, answer: bool = False, server: int = 0) -> Grant:
        """Grant a request on `route` now (wait 0), or say how long to wait. An announcement
        (`answer` false) leaves the last tenth of the global budget to answers (reserve()), and
        of `server` (0: unknown) takes at most its fair share while the budget is saturated."""
        ...

    def learn(self, route: Route, answer: Answer) -> float:
        """Keep what Discord's answer says; returns the seconds to wait after a 429 (else 0)."""
        ...

    def pause(self, seconds: float) -> None:
        """No request at all for `seconds`."""
        ...


def reserve(global_limit: int) -> int:
    """The part of the bot's global budget that only answers may use: when announcements would
    take it all (a saturated budget, docs/capacity.md), command answers and refusals, which someone
    waits for, still go at once. A tenth, and at least one request, of a budget larger than one."""
    return max(global_limit // 10, 1) if global_limit > 1 else 0


def fair_share(ceiling: int, servers: int) -> int:
    """How many announcements a server may have in one global window while the budget is saturated.

    Max-min fairness, approximated without a queue: the servers that asked for the budget in the
    last window share the announcements' part of it equally, and at least one request each. The
    shares apply only while a server below its share was refused for the global limit in the last
    window (the budget is *saturated*): otherwise anyone may take what is free, so a quiet bot
    never leaves its budget unused for fairness' sake. A server that needs less than its share
    leaves the rest to those that need more, since it does not ask for it.
    """
    return max(ceiling // max(servers, 1), 1)


class MemoryLimits:
    """The budget of one process, kept in memory (the embedded mode, or no REDIS_URL)."""

    def __init__(self, global_limit: int) -> None:
        self.global_limit = global_limit
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        # Times of the requests granted in the last global window, oldest first: a deque, since a
        # generous limit (the embedded default's fake Discord: 10,000 a second) keeps many.
        self._granted: deque[float] = deque()
        self._bucket_of: dict[str, str] = {}  # route name -> Discord's bucket id
        # "bucket:major" -> [remaining, reset_at, limit, period], times in ms (remaining and limit whole)
        self._buckets: dict[str, list[float]] = {}
        # server -> when it last asked for an announcement, the longest silent first
        self._asking: OrderedDict[int, float] = OrderedDict()
        self._server_grants: dict[int, list[float]] = {}  # server -> times of its grants in the window
        self._saturated_until = 0.0  # a server below its share was refused for the global limit

    @staticmethod
    def _now() -> float:
        return time.monotonic() * 1000

    def _key(self, route: Route) -> str:
        return f"{self._bucket_of.get(route.name, route.name)}:{route.major}"

    def acquire(self, route: Route, answer: bool = False, server: int = 0) -> Grant:
        ceiling = self.global_limit - (0 if answer else reserve(self.global_limit))
        shared = server if not answer else 0  # whose share the request counts against (0: none)
        with self._lock:
            now = self._now()
            if now < self._blocked_until:
                return Grant((self._blocked_until - now) / 1000)
            while self._granted and self._granted[0] <= now - GLOBAL_WINDOW_MS:
                self._granted.popleft()
            mine: list[float] = []
            share = ceiling
            if shared:
                self._asking[shared] = now
                self._asking.move_to_end(shared)
                while next(iter(self._asking.values())) <= now - GLOBAL_WINDOW_MS:
                    silent, _ = self._asking.popitem(last=False)
                    self._server_grants.pop(silent, None)  # its grants are older than its last ask
                mine = [t for t in self._server_grants.get(shared, []) if t > now - GLOBAL_WINDOW_MS]
                self._server_grants[shared] = mine
                share = fair_share(ceiling, len(self._asking))
                if now < self._saturated_until and len(mine) >= share:  # until its share frees
                    return Grant((mine[len(mine) - share] + GLOBAL_WINDOW_MS - now) / 1000)
            if len(self._granted) >= ceiling:  # until enough of the window's grants are a window old
                if shared and len(mine) < share:
                    self._saturated_until = now + GLOBAL_WINDOW_MS
                return Grant((self._granted[len(self._granted) - ceiling] + GLOBAL_WINDOW_MS - now) / 1000)
            state = self._buckets.get(self._key(route))
            if state is None or (now >= state[1] and not state[2]):
                self._buckets[self._key(route)] = [0, now + PROBE_MS, 0, 0]
                self._grant(now, mine)
                return Grant(0, None)
            if now >= state[1]:  # a new window: Discord's answer will say exactly when it ends
                state[0], state[1] = state[2] - 1, now + state[3]
                spare = int(state[0])
            elif state[0] > 0:
                state[0] -= 1
                spare = int(state[0])
            else:
                return Grant((state[1] - now) / 1000)
            self._grant(now, mine)
            return Grant(0, min(spare, ceiling - len(self._granted)))

    def _grant(self, now: float, mine: list[float]) -> None:
        self._granted.append(now)
        mine.append(now)  # the server's list (a fresh one when the request counts against none)

    def learn(self, route: Route, answer: Answer) -> float:
        """Keep what Discord's answer says; returns the seconds to wait after a 429 (else 0)."""
        with self._lock:
            now = self._now()
            bucket = answer.headers.get("X-RateLimit-Bucket")
            if bucket:
                self._bucket_of[route.name] = bucket
            key = self._key(route)
            state = self._buckets.get(key)
            if answer.status == 429:
                wait = retry_after(answer)
                if _is_global(answer):
                    self._blocked_until = max(self._blocked_until, now + wait * 1000)
                elif state is None:
                    self._buckets[key] = [0, now + wait * 1000, 0, 0]
                else:
                    state[0], state[1] = 0, max(state[1], now + wait * 1000)
                return wait
            told = _bucket_headers(answer)
            if told:
                limit, remaining, after = told
                if state is not None and state[2] and now < state[1]:
                    remaining = min(remaining, int(state[0]))  # grants still on their way count too
                period = max(state[3] if state else 0, after * 1000)
                self._buckets[key] = [remaining, now + after * 1000, limit, period]
            return 0.0

    def pause(self, seconds: float) -> None:
        """No request at all for `seconds` (the token was refused: each try counts against the bot)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._now() + seconds * 1000)


# The same rules in Lua, run inside Redis with its clock: one round trip each, atomic. KEYS are
# the blocked flag, the global window, the route's bucket id, the prefix of bucket states, the
# saturated flag, the servers asking and the prefix of each server's grants. ARGV[8]: the server
# whose share the request counts against ('0': none).
_ACQUIRE = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local global_limit, window, probe = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local route, major, server = ARGV[4], ARGV[5], ARGV[8]
global_limit = global_limit - tonumber(ARGV[7])  -- an announcement leaves the reserve to answers
local blocked = redis.call('PTTL', KEYS[1])
if blocked > 0 then return {blocked, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local granted = redis.call('ZCARD', KEYS[2])
local mine_key, mine, share = KEYS[7] .. server, 0, global_limit
if server ~= '0' then
  redis.call('ZADD', KEYS[6], now, server)
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - window)
  redis.call('PEXPIRE', KEYS[6], window)
  redis.call('ZREMRANGEBYSCORE', mine_key, '-inf', now - window)
  mine = redis.call('ZCARD', mine_key)
  share = math.max(math.floor(global_limit / math.max(redis.call('ZCARD', KEYS[6]), 1)), 1)
  if mine >= share and redis.call('EXISTS', KEYS[5]) == 1 then
    local oldest = redis.call('ZRANGE', mine_key, mine - share, mine - share, 'WITHSCORES')
    return {tonumber(oldest[2]) + window - now, 0}
  end
end
if granted >= global_limit then
  if server ~= '0' and mine < share then redis.call('SET', KEYS[5], '1', 'PX', window) end
  local freeing = granted - global_limit
  local oldest = redis.call('ZRANGE', KEYS[2], freeing, freeing, 'WITHSCORES')
  return {tonumber(oldest[2]) + window - now, 0}
end
local bucket = redis.call('GET', KEYS[3]) or route
local key = KEYS[4] .. bucket .. ':' .. major
local state = redis.call('HMGET', key, 'remaining', 'reset_at', 'limit', 'period')
local remaining, reset_at = tonumber(state[1]), tonumber(state[2])
local limit, period = tonumber(state[3]), tonumber(state[4])
local spare
if remaining == nil or (now >= reset_at and limit == 0) then
  remaining, reset_at, limit, period, spare = 0, now + probe, 0, 0, -1
elseif now >= reset_at then
  remaining, reset_at = limit - 1, now + period
  spare = remaining
elseif remaining > 0 then
  remaining = remaining - 1
  spare = remaining
else
  return {reset_at - now, 0}
end
redis.call('HSET', key, 'remaining', remaining, 'reset_at', reset_at, 'limit', limit, 'period', period)
redis.call('PEXPIREAT', key, reset_at + 3600000)
redis.call('ZADD', KEYS[2], now, now .. ':' .. ARGV[6])
redis.call('PEXPIRE', KEYS[2], window)
if server ~= '0' then
  redis.call('ZADD', mine_key, now, now .. ':' .. ARGV[6])
  redis.call('PEXPIRE', mine_key, window)
end
if spare < 0 then return {0, -1} end
return {0, math.min(spare, global_limit - granted - 1)}
"""

# ARGV: route, major, status, retry_after (ms), is_global, bucket id or '', limit, remaining,
# reset_after (ms) or '' when the answer had no bucket headers.
_LEARN = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local route, major, status = ARGV[1], ARGV[2], tonumber(ARGV[3])
if ARGV[6] ~= '' then redis.call('SET', KEYS[2], ARGV[6], 'EX', 86400) end
local bucket = redis.call('GET', KEYS[2]) or route
local key = KEYS[3] .. bucket .. ':' .. major
local state = redis.call('HMGET', key, 'remaining', 'reset_at', 'limit', 'period')
local remaining, reset_at = tonumber(state[1]), tonumber(state[2])
local limit, period = tonumber(state[3]), tonumber(state[4])
if status == 429 then
  local wait = tonumber(ARGV[4])
  if ARGV[5] == '1' then
    local left = redis.call('PTTL', KEYS[1])
    if left < wait then redis.call('SET', KEYS[1], '1', 'PX', wait) end
  elseif remaining == nil then
    redis.call('HSET', key, 'remaining', 0, 'reset_at', now + wait, 'limit', 0, 'period', 0)
  else
    redis.call('HSET', key, 'remaining', 0, 'reset_at', math.max(reset_at, now + wait))
  end
  redis.call('PEXPIRE', key, wait + 3600000)
  return
end
if ARGV[9] == '' then return end
local told_limit, told_remaining, after = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
if remaining ~= nil and limit > 0 and now < reset_at then
  told_remaining = math.min(told_remaining, remaining)
end
period = math.max(period or 0, after)
redis.call('HSET', key, 'remaining', told_remaining, 'reset_at', now + after, 'limit', told_limit, 'period', period)
redis.call('PEXPIRE', key, after + 3600000)
"""


# KEYS: the blocked flag. ARGV: ms. Never shortens a longer block.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
"""


class RedisLimits:
    """The budget shared by every process that uses this Redis: workers, runbot, gateways."""

    def __init__(self, client: redis.Redis, global_limit: int, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix + "ratelimit:"  # prefix: this bot's (botgateway/discordapi.py: redis_prefix)
        self.global_limit = global_limit
        self._acquire = client.register_script(_ACQUIRE)
        self._learn = client.register_script(_LEARN)
        self._pause = client.register_script(_PAUSE)
        # Each grant is a distinct member of the global window: this process's id and a counter.
        self._member = uuid.uuid4().hex[:12]
        self._sequence = 0
        self._lock = threading.Lock()

    def _keys(self, route: Route) -> list[str]:
        return [self.prefix + "blocked", self.prefix + "global", self.prefix + "route:" + route.name]

    def acquire(self, route: Route, answer: bool = False, server: int = 0) -> Grant:
        with self._lock:
            self._sequence += 1
            member = f"{self._member}:{self._sequence}"
        held_back = 0 if answer else reserve(self.global_limit)
        fair = [self.prefix + "saturated", self.prefix + "asking", self.prefix + "server:"]
        wait, spare = self._acquire(
            keys=[*self._keys(route), self.prefix + "bucket:", *fair],
            args=[self.global_limit, GLOBAL_WINDOW_MS, PROBE_MS, route.name, route.major, member, held_back,
                  0 if answer else server],
        )  # fmt: skip
        return Grant(wait / 1000, None if spare < 0 else spare)

    def learn(self, route: Route, answer: Answer) -> float:
        wait = retry_after(answer) if answer.status == 429 else 0.0
        told = _bucket_headers(answer)
        self._learn(
            keys=[self.prefix + "blocked", self.prefix + "route:" + route.name, self.prefix + "bucket:"],
            args=[
                route.name,
                route.major,
                answer.status,
                round(wait * 1000),
                "1" if answer.status == 429 and _is_global(answer) else "0",
                answer.headers.get("X-RateLimit-Bucket") or "",
                *((told[0], told[1], round(told[2] * 1000)) if told else ("", "", "")),
            ],
        )
        return wait

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.prefix + "blocked"], args=[round(seconds * 1000)])


def limits_for(redis_url: str | None, global_limit: int, prefix: str = "") -> Limits:
    """Shared through Redis (under `prefix`) when it is configured, this process's own otherwise."""
    if redis_url:
        return RedisLimits(redis_client.client(redis_url), global_limit, prefix)
    return MemoryLimits(global_limit)
