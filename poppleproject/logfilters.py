"""Keeps secrets out of every log line, whatever library wrote it: the Discord token, the OAuth2
client secret (the dashboard's login), and the interaction tokens that stand in the path of
Discord's interaction and webhook URLs (each lets whoever holds it answer as Popple for 15 minutes)."""

import logging
import re

from django.conf import settings

_INTERACTION_TOKEN = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?'\"]+")


def redacted(text: str) -> str:
    for secret in (settings.DISCORD_TOKEN, settings.DISCORD_CLIENT_SECRET):
        if secret and secret in text:
            text = text.replace(secret, "[redacted]")
    if "/interactions/" in text or "/webhooks/" in text:
        text = _INTERACTION_TOKEN.sub(r"\1[redacted]", text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = redacted(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redacted(record.exc_text)
        return True
