"""Talking to Popple in this process, as the data layer's tests do: a server of a test's own, a
message said there, and what Popple answers (the router, no processes, no Discord).

The root conftest.py gives the `guild` fixture from here.
"""

import itertools

from karma.router import respond
from testkit.messages import chat

_guilds = itertools.count(100_000)  # above the ids tests write by hand (1, 3, 222...)


def new_guild():
    """A server id no other test of this process has used: tests sharing a database never see each
    other's karma, settings or ledger."""
    return next(_guilds)


def reply_to(guild, content, **kwargs):
    """Popple's reply to `content` said in server `guild` (testkit.messages.chat: the rest)."""
    return respond(chat(content, guild_id=guild, **kwargs))


def say(guild, content, **kwargs):
    """What Popple answers `content` said in server `guild`: its text, None when it has none (it
    stays silent or only reacts), and its reaction."""
    reply = reply_to(guild, content, **kwargs)
    return reply.text() or None, reply.reaction
