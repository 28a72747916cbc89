"""Work that a worker retries as a Celery task with a countdown (RabbitMQ holds the wait), retried
in one process instead (runbot; the web process when tasks run inline): on a small pool of this
process's threads, each wait a timer rather than a sleeping thread, so that the thread that handed
the work over goes on, and work that Discord keeps refusing holds up no other."""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)


class InlineRetries:
    def __init__(self, name: str, threads: int, attempt: Callable[[Any, int], float | None],
                 describe: Callable[[Any], str]):  # fmt: skip
        self.name = name
        self.threads = threads
        self.attempt = attempt  # attempt(item, number): None when done, else seconds to wait
        self.describe = describe  # what the log says an item is
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def hand_over(self, item: Any, attempt: int = 0) -> None:
        """Try `item` on this process's threads, again after each wait, as long as it takes."""
        with self._lock:
            if self._pool is None:  # started with the first item: most processes never need one
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)
        self._pool.submit(self._try, item, attempt)

    def _try(self, item: Any, attempt: int) -> None:
        try:
            wait = self.attempt(item, attempt)
        except Exception:
            logger.exception("%s: %s failed", self.name, self.describe(item))
            return
        if wait is not None:
            timer = threading.Timer(wait, self.hand_over, (item, attempt + 1))
            timer.daemon = True
            timer.start()
