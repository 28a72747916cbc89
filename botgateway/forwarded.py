"""Which messages the gateway forwarded a version of that held a karma sign, while they may still
be edited.

Only such a message can have changed karma, so only its edits and its deletion are worth a
worker's time (botgateway/gateway.py). The gateway keeps no message cache: it keeps these ids,
each with whether it forwarded the message as sent (an edit that arrives at a worker before such a
message waits for it; karma/ledger/writes.py), in a SQLite file next to its outbox, so that a restarted
gateway still knows what it forwarded before. A message's id says when it was sent: ids older than
the edit window go by a range of the primary key, so the file holds at most one edit window of
what the gateway forwarded with a sign.

It is read and written on the gateway's event loop: one short statement per forwarded message with
a sign and per edit or deletion, without an fsync (a row lost in a power cut only leaves that
message's later edits and deletion unfollowed).
"""

import sqlite3
import time
from pathlib import Path

from django.conf import settings

from botgateway.snowflakes import first_id_at, sent_at

_SCHEMA = "CREATE TABLE IF NOT EXISTS forwarded (message_id INTEGER PRIMARY KEY, sent INTEGER NOT NULL)"
_SENT = "INSERT INTO forwarded (message_id, sent) VALUES (?, 1) ON CONFLICT (message_id) DO UPDATE SET sent = 1"
_EDITED = "INSERT INTO forwarded (message_id, sent) VALUES (?, 0) ON CONFLICT (message_id) DO NOTHING"
_FIND = "SELECT message_id, sent FROM forwarded WHERE message_id IN ({ids})"
_FORGET = "DELETE FROM forwarded WHERE message_id < ?"


class Forwarded:
    def __init__(self, path=":memory:", edit_window=None):
        """`path`: the SQLite file (the default, in memory, forgets at exit: for tests and tools)."""
        self.edit_window = settings.EDIT_WINDOW if edit_window is None else edit_window
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(_SCHEMA)
        self.forget_old()

    def sent(self, message_id):
        """The gateway forwarded the message as sent, holding a karma sign."""
        self.db.execute(_SENT, (message_id,))

    def edited(self, message_id):
        """The gateway forwarded an edit of the message that holds a karma sign."""
        self.db.execute(_EDITED, (message_id,))

    def find(self, message_ids):
        """{id: whether the message was forwarded as sent} of those among `message_ids` recorded."""
        ids = ", ".join("?" * len(message_ids))
        return {message_id: bool(sent) for message_id, sent in self.db.execute(_FIND.format(ids=ids), message_ids)}

    def too_old(self, message_id, at):
        """Whether the message could no longer be edited or deleted at `at` (seconds since the epoch)."""
        return at - sent_at(message_id) > self.edit_window

    def forget_old(self, now=None):
        """Forget the messages sent more than the edit window ago."""
        self.db.execute(_FORGET, (first_id_at((now or time.time()) - self.edit_window),))

    def close(self):
        self.db.close()
