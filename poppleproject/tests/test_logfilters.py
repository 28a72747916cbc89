"""No secret reaches a log line: the bot's token, and interaction tokens in Discord's URLs."""

import logging

from poppleproject.logfilters import RedactSecrets


def filtered(message, *args, exc_info=None):
    record = logging.LogRecord("test", logging.WARNING, __file__, 1, message, args, exc_info)
    RedactSecrets().filter(record)
    return record.getMessage(), record.exc_text


def test_the_bot_token_is_redacted(settings):
    settings.DISCORD_TOKEN = "bot-token.abc"
    assert filtered("sent %s", "Bot bot-token.abc")[0] == "sent Bot [redacted]"


def test_the_oauth2_client_secret_is_redacted(settings):
    settings.DISCORD_CLIENT_SECRET = "client-secret-xyz"
    assert filtered("POST token client_secret=%s", "client-secret-xyz")[0] == "POST token client_secret=[redacted]"


def test_interaction_tokens_in_urls_are_redacted(settings):
    settings.DISCORD_TOKEN = ""
    url = "https://discord.com/api/v10/interactions/123/aW50ZXJhY3Rpb24.secret-part/callback?with_response=1"
    assert filtered("POST %s failed", url)[0] == (
        "POST https://discord.com/api/v10/interactions/123/[redacted]/callback?with_response=1 failed"
    )
    edit = "PATCH /api/v10/webhooks/900/aW50-tok_en/messages/@original"
    assert filtered(edit)[0] == "PATCH /api/v10/webhooks/900/[redacted]/messages/@original"


def test_tracebacks_are_redacted_too(settings):
    settings.DISCORD_TOKEN = "bot-token.abc"
    try:
        raise RuntimeError("at /webhooks/900/secret-token/messages/@original with bot-token.abc")
    except RuntimeError as exc:
        message, traceback = filtered("failed", exc_info=(type(exc), exc, exc.__traceback__))
    assert message == "failed"
    assert "secret-token" not in traceback
    assert "bot-token.abc" not in traceback
    assert "/webhooks/900/[redacted]/messages" in traceback
