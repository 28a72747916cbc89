"""What the gateway makes of reaction events: who wrote the message reacted to, and the order.

Discord's MESSAGE_REACTION_ADD says who wrote the message (its author's id) but not their
username, which is their karma's name. The gateway learns the names of the people whose messages
it sees (every server message arrives, blank or not, whatever the Message Content intent): most
reactions are to recent messages. For the others it asks Discord once per person (GET /users/{id},
one request, remembered like the rest), so a reaction to an old message still counts. At most
KNOWN_AUTHORS people are remembered, the least recently seen forgotten first: a few megabytes.

Discord's reaction events carry no time. `Stamps` orders them as the gateway received them, which
is the order that matters (a person adds, then removes); the workers apply them in parallel and
keep, per reaction, the newest (karma/ledger/reactions.py).
"""

import time
from collections import OrderedDict

KNOWN_AUTHORS = 50_000
BOT = ""  # the name remembered for a bot or a webhook: their messages earn no karma


class Authors:
    """Usernames of message authors by id, bounded (least recently seen forgotten first)."""

    def __init__(self, size: int = KNOWN_AUTHORS) -> None:
        self.size = size
        self._names: OrderedDict[int, str] = OrderedDict()

    def saw(self, user_id: int, name: str, bot: bool) -> None:
        self._names[user_id] = BOT if bot else name
        self._names.move_to_end(user_id)
        if len(self._names) > self.size:
            self._names.popitem(last=False)

    def name_of(self, user_id: int) -> str | None:
        """Their username, BOT for a bot, None when not seen."""
        name = self._names.get(user_id)
        if name is not None:
            self._names.move_to_end(user_id)
        return name

    def __len__(self) -> int:
        return len(self._names)


class Stamps:
    """Nanoseconds since the epoch, rising strictly within this process."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns(), self._last + 1)
        return self._last
