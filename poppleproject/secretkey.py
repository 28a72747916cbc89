"""The web process signs sessions and CSRF tokens, so it refuses to start on a weak key: exactly the
keys Django's deployment check (`manage.py check --deploy`, security.W009) warns about."""

from django.conf import settings
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured


def secret_key_problem(key, debug):
    """Why `key` is unfit for serving the admin, or None."""
    if debug:
        return None
    if not key:
        return "must be set when DJANGO_DEBUG is off"
    if (
        key.startswith(SECRET_KEY_INSECURE_PREFIX)
        or len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    ):
        return f"must be a long random value (at least {SECRET_KEY_MIN_LENGTH} characters), not a placeholder"
    return None


def require_real_secret_key():
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django's own complaint about an empty key
        key = ""
    problem = secret_key_problem(key, settings.DEBUG)
    if problem:
        raise SystemExit(f"popple: configuration error: DJANGO_SECRET_KEY {problem}")
