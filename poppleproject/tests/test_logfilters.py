"""No secret reaches a log line: the bot's token, and interaction tokens in Discord's URLs. No
traceback for what is no bug: an outage a library retries, a task rejected on purpose, bad input."""

import logging

from amqp.exceptions import RecoverableConnectionError
from celery.exceptions import Reject
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

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


def through_the_console_handler(logger, message, exc):
    """A record as a library logs it with its exception, through the filters the settings give
    the console handler, in their order; the line that handler would print."""
    record = logging.LogRecord(logger, logging.ERROR, __file__, 1, message, None, (type(exc), exc, exc.__traceback__))
    handler = logging.StreamHandler()
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(settings.LOGGING["filters"][name]["()"])())
    assert handler.filter(record)
    return logging.Formatter("%(message)s").format(record)


def raised(exc, cause=None):
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def test_an_outage_a_library_logs_is_one_line():
    # Celery's worker, when the broker took its channel while a task ran (fault suite: broker-lost).
    closed = raised(RecoverableConnectionError(None, "connection already closed", None, ""))
    line = through_the_console_handler("celery.worker.request", "Couldn't reject 8526", closed)
    assert line == "Couldn't reject 8526 (RecoverableConnectionError: connection already closed: (0) None)"
    # discord.py, reconnecting to a gateway that refuses (aiohttp's error is an OSError).
    refused = raised(ConnectionRefusedError(111, "Connect call failed"))
    line = through_the_console_handler("discord.shard", "Attempting a reconnect for shard ID 0 in 0.76s", refused)
    assert (
        line
        == "Attempting a reconnect for shard ID 0 in 0.76s (ConnectionRefusedError: [Errno 111] Connect call failed)"
    )
    assert "Traceback" not in line


def test_a_rejected_task_says_why_without_a_traceback():
    # Celery's own Reject when a retry could not be published: the broker's error is in the reason.
    reject = raised(Reject(OperationalError("timed out"), requeue=False), OperationalError("timed out"))
    line = through_the_console_handler(
        "celery.app.trace", "Task karma.handle_message[1] reject requeue=False: timed out", reject
    )
    assert line == "Task karma.handle_message[1] reject requeue=False: timed out"


def test_a_refused_request_is_one_line():
    bad_host = raised(DisallowedHost("Invalid HTTP_HOST header: 'evil.example'."))
    line = through_the_console_handler(
        "django.security.DisallowedHost", "Invalid HTTP_HOST header: 'evil.example'.", bad_host
    )
    assert line == "Invalid HTTP_HOST header: 'evil.example'."


def test_a_bug_keeps_its_traceback_and_its_secrets_stay_out(settings):
    settings.DISCORD_TOKEN = "bot-token.abc"
    # The same loggers, an exception that is no outage or decision: a bug, whose traceback helps.
    bug = raised(KeyError("bot-token.abc"))
    line = through_the_console_handler("celery.app.trace", "Task karma.handle_message[1] raised", bug)
    assert line.startswith("Task karma.handle_message[1] raised\nTraceback (most recent call last):")
    assert "bot-token.abc" not in line
    # A secret in an outage's message moves into the line, and is redacted there too.
    outage = raised(ConnectionResetError(104, "reset by bot-token.abc"))
    line = through_the_console_handler("discord.client", "Attempting a reconnect in 1.00s", outage)
    assert line == "Attempting a reconnect in 1.00s (ConnectionResetError: [Errno 104] reset by [redacted])"
    # Another logger, an outage all the same: left as it is (Popple's own lines choose their form).
    line = through_the_console_handler("karma.tasks", "failed", raised(ConnectionResetError(104, "reset")))
    assert "Traceback" in line
    # The same logger as discord.py's reconnects, but Popple's own event handler failing (a full
    # disk under the outbox): a bug, whose traceback stays.
    full = raised(OSError(28, "No space left on device"))
    line = through_the_console_handler("discord.client", "Ignoring exception in on_message", full)
    assert line.startswith("Ignoring exception in on_message\nTraceback (most recent call last):")
    # Celery wraps any failure to publish a retry in a Reject: one that is no outage is a bug.
    unencodable = raised(Reject(TypeError("Object of type set is not JSON serializable"), requeue=False))
    line = through_the_console_handler(
        "celery.app.trace", "Task karma.handle_message[1] reject requeue=False", unencodable
    )
    assert "Traceback (most recent call last):" in line
