"""A reply's text as Discord messages: at most 2,000 characters each, split only between lines.

The domain caps an answer at a number of such messages (karma/replies.py: capped, with the same
limit, karma/message.py: MESSAGE_LIMIT); this is where it is cut into them, and where replies held
for one channel are packed together (botgateway/coalesce.py).
"""

from collections.abc import Sequence

from karma.message import Reply

DISCORD_MESSAGE_LIMIT = 2000  # characters in one Discord message


def messages(reply: Reply, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """The reply's text as Discord messages of at most `limit` characters, split only between lines."""
    pieces = [(reply.joiner, line.text) for line in reply.lines]
    said = []
    while pieces:
        count = fit(pieces, limit)
        said.append(joined(pieces[:count]))
        pieces = pieces[count:]
    return said


def fit(pieces: Sequence[tuple[str, str]], limit: int = DISCORD_MESSAGE_LIMIT) -> int:
    """How many of `pieces` fit in one message of at most `limit` characters (at least one).

    A piece is (separator, text); the separator goes before the text unless it starts the message.
    """
    length = 0
    for count, (separator, text) in enumerate(pieces):
        length += len(text) + (len(separator) if count else 0)
        if length > limit and count:
            return count
    return len(pieces)


def joined(pieces: Sequence[tuple[str, str]]) -> str:
    return "".join(text if index == 0 else separator + text for index, (separator, text) in enumerate(pieces))
