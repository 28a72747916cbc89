"""The web process signs sessions and CSRF tokens, so it refuses to start on a weak key."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def secret_key_problem(key, debug):
    """Why `key` is unfit for serving the admin, or None."""
    if debug:
        return None
    if not key:
        return "must be set when DJANGO_DEBUG is off"
    if key.startswith("django-insecure-") or len(key) < 32 or len(set(key)) < 8:
        return "must be a long random value (at least 32 characters), not a placeholder"
    return None


def require_real_secret_key():
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django's own complaint about an empty key
        key = ""
    problem = secret_key_problem(key, settings.DEBUG)
    if problem:
        raise SystemExit(f"popple: configuration error: DJANGO_SECRET_KEY {problem}")
