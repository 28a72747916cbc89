"""Building chat messages for tests."""

import itertools
import time

from botgateway.snowflakes import DISCORD_EPOCH, edit_reply_id, reaction_reply_id, sent_at
from botgateway.splitting import messages as discord_messages  # noqa: F401 (for the domain's tests)
from karma.message import ADDED, CLEARED, Deletion, IncomingMessage, ReactionEvent

BOT_ID = 900
BOT_NAME = "Popple"
_ids = itertools.count(10_000)
_sequence = itertools.count(1)


def snowflake(seconds_ago=0.0):
    """A message id as Discord makes them: it says when the message was sent."""
    ms = int((time.time() - seconds_ago - DISCORD_EPOCH) * 1000)
    return (ms << 22) | (next(_sequence) % (1 << 22))


# A chat message that kills the worker applying it, in the tests' workers (testkit/poison.py).
POISON = "(this message kills its worker)++"


def chat(content, guild_id=1, author_id=500, can_manage=True, mentions=None, message_id=None, author_name=None,
         author_global_name="", author_nick="", edited=0, message_forwarded=True):  # fmt: skip
    """A chat message as the gateway forwards it: its time and an edit's reply id read from its id."""
    message_id = message_id or next(_ids)
    return IncomingMessage(
        guild_id=guild_id,
        channel_id=guild_id * 10,
        message_id=message_id,
        author_id=author_id,
        author_name=author_name or f"user{author_id}",
        content=content,
        bot_id=BOT_ID,
        bot_name=BOT_NAME,
        mentions=mentions or {},
        can_manage=can_manage,
        author_global_name=author_global_name,
        author_nick=author_nick,
        edited=edited,
        message_forwarded=message_forwarded,
        sent_at=sent_at(message_id),
        reply_id=edit_reply_id(message_id, edited) if edited else 0,
    )


def deletion(guild_id, channel_id, deleted, at, not_forwarded=()):
    """A deletion as the gateway forwards it: each message's time read from its id."""
    return Deletion(guild_id, channel_id, list(deleted), at, list(not_forwarded), [sent_at(i) for i in deleted])


_stamps = itertools.count(time.time_ns())


def reaction(kind, guild_id, message_id, emoji="👍", user_id=700, author_id=500, stamp=None, **names):
    """A reaction event as the gateway forwards it: stamped in order unless `stamp` says otherwise."""
    stamp = stamp or next(_stamps)
    # A removal names only who removed it, as the gateway forwards it.
    default_name = f"user{user_id}" if kind == ADDED else ""
    people = {"user_id": user_id, "user_name": names.pop("user_name", default_name)} if kind != CLEARED else {}
    if kind == ADDED:
        people.update(author_id=author_id, author_name=names.pop("author_name", f"user{author_id}"))
    return ReactionEvent(
        kind=kind,
        guild_id=guild_id,
        channel_id=guild_id * 10,
        message_id=message_id,
        emoji=emoji,
        stamp=stamp,
        reply_id=reaction_reply_id(stamp),
        bot_id=BOT_ID,
        bot_name=BOT_NAME,
        **people,
        **names,
    )
