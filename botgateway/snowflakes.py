"""Discord's ids (snowflakes): each says when it was made, in milliseconds since Discord's epoch,
above 22 bits that keep ids made in the same millisecond apart.

The gateway reads times from ids here and hands them to the domain as plain times (the payloads'
`sent_at` fields, karma/message.py); the domain never decodes an id.
"""

DISCORD_EPOCH = 1420070400  # seconds since the Unix epoch at Discord's first snowflake
_LOW_BITS = 2**22 - 1


def sent_at(snowflake: int) -> float:
    """When a Discord message (or interaction) was made, in seconds since the epoch: its id says."""
    return (snowflake >> 22) / 1000 + DISCORD_EPOCH


def first_id_at(seconds: float) -> int:
    """The lowest id made at `seconds` since the epoch or later: ids below it are older."""
    return max(int((seconds - DISCORD_EPOCH) * 1000), 0) << 22


def edit_reply_id(message_id: int, edited: int) -> int:
    """The id the reply to an edit is held and posted under (delivery keys replies by id).

    A snowflake of the edit's time (`edited`, in microseconds since the epoch) with the message's
    low bits: the reply to a message and the replies to each of its edits are different replies,
    and it sorts where the edit happened in the channel. It names no Discord message: an edit's
    reply never reacts.
    """
    return ((edited // 1000 - DISCORD_EPOCH * 1000) << 22) | (message_id & _LOW_BITS)


def reaction_reply_id(stamp: int) -> int:
    """The id the reply to a reaction event is held and posted under: a snowflake of the time the
    gateway stamped it (`stamp`, in nanoseconds since the epoch) in its milliseconds, and the
    nanoseconds within that millisecond (under 2^22) in its low bits: events stamped in one
    millisecond stay apart and in order (a gateway's stamps rise strictly, and a channel's events
    all come through one gateway). It names no Discord message, and sorts where the reaction
    happened in its channel."""
    return ((stamp // 1_000_000 - DISCORD_EPOCH * 1000) << 22) | (stamp % 1_000_000)


def notice_id(at: float, salt: int) -> int:
    """An id for something Popple says of its own accord (a role it may not manage:
    botgateway/roles.py), which answers no message: a snowflake of the time it is said, with
    `salt`'s low bits, so that two notices said in one millisecond stay apart."""
    return first_id_at(at) | (salt & _LOW_BITS)
