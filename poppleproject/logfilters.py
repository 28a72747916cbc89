"""Keeps the Discord token out of every log line, whatever library wrote it."""

import logging

from django.conf import settings


class RedactSecrets(logging.Filter):
    def filter(self, record):
        token = settings.DISCORD_TOKEN
        if not token:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if token in message:
            record.msg, record.args = message.replace(token, "[redacted]"), None
        if record.exc_text and token in record.exc_text:
            record.exc_text = record.exc_text.replace(token, "[redacted]")
        return True
