"""Which shards this gateway process runs, and how processes take turns to IDENTIFY."""

import asyncio
import logging

import redis.asyncio as redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

IDENTIFY_INTERVAL = 5.0  # Discord: one IDENTIFY per 5 s per max_concurrency bucket


def shard_ids(text, count):
    """Parse DISCORD_SHARD_IDS ("0,2", "0-3", "0-1,4", or "2/4": the third of four equal parts)
    against DISCORD_SHARD_COUNT.

    Returns None for "every shard". Raises ValueError with the reason.
    """
    if not text:
        return None
    if not count:
        raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
    if "/" in text:
        return _part(text, count)
    ids: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"DISCORD_SHARD_IDS: {part.strip()!r} is not a shard id or range") from None
        if not 0 <= low <= high < count:
            raise ValueError(f"DISCORD_SHARD_IDS: {part.strip()!r} is outside 0-{count - 1}")
        ids.update(range(low, high + 1))
    return sorted(ids)


def _part(text, count):
    """ "i/n": part i (from 0) of the shards cut into n contiguous parts, as even as they go.

    So that n gateway processes told only their index (a Kubernetes StatefulSet's pod ordinal) and
    their number share the shards without overlap or gap.
    """
    index, _, parts = text.partition("/")
    try:
        index, parts = int(index), int(parts)
    except ValueError:
        raise ValueError(f"DISCORD_SHARD_IDS: {text.strip()!r} is not a part such as 2/4") from None
    if not 0 < parts <= count:
        raise ValueError(f"DISCORD_SHARD_IDS: {text.strip()!r}: the number of parts must be 1-{count}")
    if not 0 <= index < parts:
        raise ValueError(f"DISCORD_SHARD_IDS: {text.strip()!r}: the part must be 0-{parts - 1}")
    return list(range(index * count // parts, (index + 1) * count // parts))


class IdentifyThrottle:
    """Lets a shard IDENTIFY only when no other shard of its bucket did in the last 5 s.

    The turn is a Redis key that expires after the interval, so every gateway process that shares
    the Redis server shares the limit.
    """

    def __init__(self, redis_url, interval=IDENTIFY_INTERVAL):
        self.redis = redis.from_url(redis_url)
        self.interval = interval
        self.max_concurrency = 1

    async def wait_turn(self, shard_id):
        key = f"popple:identify:{shard_id % self.max_concurrency}"
        try:
            while not await self.redis.set(key, shard_id, nx=True, px=int(self.interval * 1000)):
                await asyncio.sleep(0.2)
        except RedisError as exc:
            # Without Redis the turn cannot be shared: wait the whole interval, which keeps this
            # process within Discord's limit, and connect rather than fail.
            logger.warning("identify turn: Redis unreachable (%s); waiting %.0f s instead", exc, self.interval)
            await asyncio.sleep(self.interval)
