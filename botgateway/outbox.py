"""Messages on their way to the broker, kept on disk until each one is handed over.

The gateway never waits for RabbitMQ: `put` queues in memory and returns. A writer thread stores
what arrives in a SQLite file at once; a publisher thread publishes from the file in arrival
order and deletes only what the broker has taken. While the broker is down the file grows (up to
`capacity`; beyond it new messages are dropped, with a log line), and a gateway restarted
meanwhile publishes what the file holds. The two threads are apart so that a publish stuck on an
unreachable broker never keeps arriving messages in memory.
"""

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

BATCH = 200  # rows read from the file at a time
# Rows that may be handed over together (`together`), consecutive, go in one `publish` of at most
# this many: under a backlog the gateway publishes one task per this many chat messages, and the
# per-task work of Celery and RabbitMQ (the most of a message's CPU, bench/costs.py) is shared.
# Without a backlog each row goes alone as it arrives: nothing waits to fill a group.
TOGETHER = 20
RETRY_SECONDS = (0.5, 1, 2, 5)  # between attempts while the broker is unreachable

_SCHEMA = "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)"


class Outbox:
    def __init__(self, path, capacity, publish, destination="broker", together=None):
        self.path = path
        self.capacity = capacity
        # publish(payloads): one hand-over of one or more payloads; raises when it was not taken.
        self.publish = publish
        self.together = together or (lambda payload: False)  # which payloads may share a hand-over
        self.destination = destination  # what `publish` hands over to, for the log ("database" in runbot)
        self.stored = 0  # rows in the file; the writer adds, the publisher removes
        self.dropped = 0
        # (last row id, time stored) of each stored batch not wholly published, oldest first: the
        # age of the oldest waiting message without a column for it in every row.
        self._arrivals: deque[tuple[int, float]] = deque()
        self._incoming: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()  # None: stop
        self._lock = threading.Lock()
        self._wake_publisher = threading.Event()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._write, name="outbox-writer", daemon=True),
            threading.Thread(target=self._publish, name="outbox-publisher", daemon=True),
        ]

    def put(self, payload):
        """Queue a payload for publishing. Never blocks: safe on discord.py's event loop."""
        self._incoming.put(payload)

    def start(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            self.stored, last = db.execute("SELECT count(*), max(id) FROM outbox").fetchone()
        finally:
            db.close()
        if self.stored:
            self._arrivals.append((last, time.time()))  # older than that, for all this run knows
            self._wake_publisher.set()  # publish them now, not when the next message arrives
            logger.info("outbox: %d messages stored by an earlier run will be published", self.stored)
        for thread in self._threads:
            thread.start()

    def oldest_age(self):
        """Seconds the oldest message in the file has waited (0 when it is empty)."""
        with self._lock:
            return max(time.time() - self._arrivals[0][1], 0.0) if self._arrivals else 0.0

    def stop(self, timeout=30):
        """Store what is still in memory and stop; what is on disk waits for the next start."""
        self._stop.set()
        self._incoming.put(None)
        self._wake_publisher.set()
        for thread in self._threads:
            thread.join(timeout)

    def _connect(self):
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        # WAL with NORMAL sync: a row is safe once written, even if this process is killed.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        return db

    @staticmethod
    @contextmanager
    def _transaction(db):
        # The connection is in autocommit mode (isolation_level=None): transactions are explicit.
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # The writer -------------------------------------------------------------------------------

    def _write(self):
        db = self._connect()
        while True:
            batch = [self._incoming.get()]
            while True:  # take whatever else has arrived, to store it in one transaction
                try:
                    batch.append(self._incoming.get_nowait())
                except queue.Empty:
                    break
            payloads = [payload for payload in batch if payload is not None]
            failing = False
            while payloads:
                try:
                    self._store(db, payloads)
                    break
                except sqlite3.Error as exc:  # a full or broken disk: keep them in memory meanwhile
                    if not failing:
                        logger.error("outbox: cannot write to %s (%s); retrying every second", self.path, exc)
                        failing = True
                    time.sleep(1)
            if None in batch:
                break
        db.close()

    def _store(self, db, payloads):
        with self._lock:
            room = max(self.capacity - self.stored, 0)
        accepted, refused = payloads[:room], payloads[room:]
        if accepted:
            if self.dropped:
                logger.warning("outbox: accepting messages again after dropping %d while full", self.dropped)
                self.dropped = 0
            with self._transaction(db):
                db.executemany("INSERT INTO outbox (payload) VALUES (?)", [(json.dumps(p),) for p in accepted])
                last = db.execute("SELECT max(id) FROM outbox").fetchone()[0]
            with self._lock:
                self.stored += len(accepted)
                self._arrivals.append((last, time.time()))
            self._wake_publisher.set()
        if refused:
            if not self.dropped:
                logger.error(
                    "outbox: full (%d messages waiting for the %s); dropping new messages",
                    self.stored,
                    self.destination,
                )
            self.dropped += len(refused)

    # The publisher ----------------------------------------------------------------------------

    def _publish(self):
        db = self._connect()
        failures = 0
        while not self._stop.is_set():
            if failures:
                self._stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])
            else:
                self._wake_publisher.wait()
            self._wake_publisher.clear()
            while not self._stop.is_set():
                try:
                    rows = db.execute("SELECT id, payload FROM outbox ORDER BY id LIMIT ?", (BATCH,)).fetchall()
                    if not rows:
                        break
                    published = self._publish_rows(db, rows, failures)
                except sqlite3.Error as exc:
                    logger.error("outbox: cannot read %s (%s); trying again", self.path, exc)
                    published = False
                if not published:
                    failures += 1
                    break
                if failures:
                    logger.info(
                        "outbox: %s reachable again, publishing %d stored messages", self.destination, self.stored
                    )
                    failures = 0
        db.close()

    def _publish_rows(self, db, rows, failures):
        published = None
        try:
            for group in self._groups(rows):
                self.publish([payload for _, payload in group])
                published = group[-1][0]
        except Exception as exc:  # the broker's client raises many kinds; each means "not taken"
            if not failures:
                logger.warning("outbox: %s unreachable (%s); keeping messages on disk", self.destination, exc)
            return False
        finally:
            if published is not None:
                with self._transaction(db):
                    deleted = db.execute("DELETE FROM outbox WHERE id <= ?", (published,)).rowcount
                with self._lock:
                    self.stored -= deleted
                    while self._arrivals and self._arrivals[0][0] <= published:
                        self._arrivals.popleft()
        return True

    def _groups(self, rows):
        """The rows in order, as lists of one, or of up to TOGETHER consecutive ones that may go
        together."""
        group: list[tuple[int, Any]] = []
        joins = False  # whether the group's rows may go together (its first row's say)
        for row_id, text in rows:
            payload = json.loads(text)
            may_join = self.together(payload)
            if group and not (joins and may_join and len(group) < TOGETHER):
                yield group
                group = []
            if not group:
                joins = may_join
            group.append((row_id, payload))
        if group:
            yield group
