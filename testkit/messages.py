"""Building chat messages for tests."""

import itertools
import time

from karma.message import DISCORD_EPOCH, IncomingMessage

BOT_ID = 900
BOT_NAME = "Popple"
_ids = itertools.count(10_000)
_sequence = itertools.count(1)


def snowflake(seconds_ago=0.0):
    """A message id as Discord makes them: it says when the message was sent."""
    ms = int((time.time() - seconds_ago - DISCORD_EPOCH) * 1000)
    return (ms << 22) | (next(_sequence) % (1 << 22))


def chat(content, guild_id=1, author_id=500, can_manage=True, mentions=None, message_id=None, author_name=None,
         author_global_name="", author_nick="", edited=0, message_forwarded=True):  # fmt: skip
    return IncomingMessage(
        guild_id=guild_id,
        channel_id=guild_id * 10,
        message_id=message_id or next(_ids),
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
    )
