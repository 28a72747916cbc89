"""The reply task as the one-process default runs it: inline, the same code the workers run."""

import logging
from types import SimpleNamespace

import discord

from botgateway.tasks import send_reply


def discord_error(status):
    response = SimpleNamespace(status=status, reason="test")
    cls = discord.DiscordServerError if status >= 500 else discord.HTTPException
    return cls(response, {"message": "test", "code": 0})


def test_transient_discord_errors_are_retried(sent):
    sent.failures = [discord_error(502), discord_error(429), OSError("connection reset")]
    result = send_reply.apply(args=(1, 2, ["hi"], None))
    assert result.state == "SUCCESS"
    assert sent.deliveries == [(1, 2, ["hi"], None)]


def test_permanent_discord_errors_drop_the_reply(sent, caplog):
    sent.failures = [discord_error(403)]
    with caplog.at_level(logging.WARNING):
        result = send_reply.apply(args=(1, 2, ["hi"], None))
    assert result.state == "SUCCESS"
    assert sent.deliveries == []
    assert "reply to message 2 in channel 1 dropped: Discord answered 403" in caplog.text
