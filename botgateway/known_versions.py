"""What this process saw lately of each subject's version in the database, so that delivery need
not ask the database to believe a channel's memory.

Delivery leaves out a line whose version a channel was told already, but believes that memory (in
Redis) only if the database reached that version: a memory ahead of the database is of another
one (restored from a backup, or fresh behind an old Redis), and then the line is said
(botgateway/delivery.py: Courier._checked_against). Asking the database for every such line cost
the reply workers a quarter of their CPU under a burst, where replies often arrive after a newer
one was posted (bench/README.md). Yet the evidence is mostly at hand: every line a reply carries
was read from the database by the karma task that committed it, and every answer the database gave
delivery is one too. A memory at or below what this process saw of the subject within
`SECONDS` is believed without asking.

So a database replaced under a running Popple is noticed at most `SECONDS` later, as before it was
noticed at once; its lines are left out meanwhile, never said wrong.
"""

import threading
import time

SECONDS = 60.0  # how long evidence of a version counts
LIMIT = 50_000  # subjects remembered per process (about 200 bytes each); beyond, the stale are forgotten


class KnownVersions:
    def __init__(self, seconds: float = SECONDS, limit: int = LIMIT) -> None:
        self.seconds = seconds
        self.limit = limit
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, str], tuple[int, float]] = {}  # (server, subject) -> (version, until)

    def saw(self, guild_id: int, subject: str, version: int) -> None:
        """The database had `version` of the subject (or a newer one) a moment ago."""
        if not guild_id:
            return
        now = time.monotonic()
        key = (guild_id, subject)
        with self._lock:
            if key not in self._seen and len(self._seen) >= self.limit:
                self._forget(now)
            known, until = self._seen.get(key, (0, 0.0))
            if until <= now or known < version:
                known = version
            self._seen[key] = (known, now + self.seconds)

    def _forget(self, now: float) -> None:
        """Make room: the stale go, and all of it if the fresh would still fill half (forgetting
        costs a query each, no more), so that the next clearing is half a limit of subjects away."""
        self._seen = {key: seen for key, seen in self._seen.items() if seen[1] > now}
        if len(self._seen) > self.limit // 2:
            self._seen.clear()

    def reached(self, guild_id: int, subject: str, version: int) -> bool:
        """Whether the database had at least `version` of the subject within `seconds`."""
        with self._lock:
            known, until = self._seen.get((guild_id, subject), (0, 0.0))
        return until > time.monotonic() and known >= version
