"""Messages on their way to the broker, kept on disk until each one is handed over.

The gateway never waits for RabbitMQ: `put` queues in memory and returns; one thread writes what
arrives to a SQLite file and publishes from it in arrival order, deleting only what the broker
has confirmed. While the broker is down the file grows (up to `capacity`, then new messages are
dropped with a log line); a gateway restarted meanwhile publishes what the file holds.
"""

import json
import logging
import queue
import sqlite3
import threading
import time

logger = logging.getLogger(__name__)

BATCH = 200
RETRY_SECONDS = (0.5, 1, 2, 5)  # between attempts while the broker is unreachable


class Outbox:
    def __init__(self, path, capacity, publish):
        self.path = path
        self.capacity = capacity
        self.publish = publish  # raises when the broker did not take the message
        self._incoming = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self.stored = 0
        self.dropped = 0

    def put(self, payload):
        """Queue a payload for publishing. Never blocks: safe on discord.py's event loop."""
        self._incoming.put(payload)

    def start(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self, timeout=30):
        """Write what is still in memory to disk and stop; what is on disk waits for the next start."""
        self._stop.set()
        self._incoming.put(None)
        self._thread.join(timeout)

    def _run(self):
        db = sqlite3.connect(self.path, isolation_level=None)
        # WAL with NORMAL sync: a row is safe once written, even if this process is killed.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)")
        self.stored = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        if self.stored:
            logger.info("outbox: %d messages stored by an earlier run will be published", self.stored)
        failures = 0
        retry_at = 0.0
        while True:
            now = time.monotonic()
            if self.stored and now >= retry_at:
                wait = 0
            elif self.stored:
                wait = retry_at - now
            else:
                wait = None
            self._store(db, self._take(wait))
            if self._stop.is_set():
                break
            if self.stored and time.monotonic() >= retry_at:
                if self._publish_batch(db, failures):
                    if failures:
                        logger.info("outbox: broker reachable again, publishing %d stored messages", self.stored)
                    failures = 0
                else:
                    failures += 1
                    retry_at = time.monotonic() + RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
        db.close()

    def _take(self, wait):
        """Everything waiting in memory, after waiting up to `wait` seconds (None: forever) for one."""
        items = []
        try:
            items.append(self._incoming.get(timeout=wait) if wait != 0 else self._incoming.get_nowait())
            while True:
                items.append(self._incoming.get_nowait())
        except queue.Empty:
            pass
        return [item for item in items if item is not None]

    def _store(self, db, payloads):
        if not payloads:
            return
        room = max(self.capacity - self.stored, 0)
        accepted, refused = payloads[:room], payloads[room:]
        if accepted:
            if self.dropped:
                logger.warning("outbox: accepting messages again after dropping %d while full", self.dropped)
                self.dropped = 0
            with db:
                db.executemany("INSERT INTO outbox (payload) VALUES (?)", [(json.dumps(p),) for p in accepted])
            self.stored += len(accepted)
        if refused:
            if not self.dropped:
                logger.error("outbox: full (%d messages waiting for the broker); dropping new messages", self.stored)
            self.dropped += len(refused)

    def _publish_batch(self, db, failures):
        rows = db.execute("SELECT id, payload FROM outbox ORDER BY id LIMIT ?", (BATCH,)).fetchall()
        published = None
        try:
            for row_id, payload in rows:
                self.publish(json.loads(payload))
                published = row_id
        except Exception as exc:  # the broker's client raises many kinds; each means "not taken"
            self._forget_through(db, published)
            if not failures:
                logger.warning("outbox: broker unreachable (%s); keeping messages on disk", exc)
            return False
        self._forget_through(db, published)
        return True

    def _forget_through(self, db, row_id):
        if row_id is not None:
            with db:
                self.stored -= db.execute("DELETE FROM outbox WHERE id <= ?", (row_id,)).rowcount
