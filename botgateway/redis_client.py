"""The Redis client of the reply side and the gateway: redis-py's, with its round trips counted.

redis-py has no hook that sees each command (its event dispatcher covers connections and
re-authentication only), so the client counts in `execute_command`, which every command and every
script call (evalsha, and the script load after NOSCRIPT) goes through. Popple uses no pipelines.
"""

from typing import Any

import redis

from monitoring import metrics


class CountedRedis(redis.Redis):
    def execute_command(self, *args: Any, **options: Any) -> Any:
        metrics.REDIS_ROUND_TRIPS.inc()
        return super().execute_command(*args, **options)


def client(url: str) -> redis.Redis:
    return CountedRedis.from_url(url)
