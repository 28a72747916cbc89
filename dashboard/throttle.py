"""Failed Discord logins, counted per client address as django-axes counts the admin's: after
DJANGO_LOGIN_FAILURE_LIMIT failures, that address cannot start or finish a login for
DJANGO_LOGIN_COOLOFF_MINUTES (an hour when the admin's cooloff is 0, which there means "until an
admin lifts it": the dashboard has no such page)."""

import logging
from datetime import timedelta

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

logger = logging.getLogger(__name__)
DEFAULT_COOLOFF = timedelta(hours=1)


def _key(request) -> str:
    return f"popple:dashboard:login-failures:{get_client_ip_address(request) or 'unknown'}"


def _cooloff() -> timedelta:
    return settings.AXES_COOLOFF_TIME or DEFAULT_COOLOFF


def failed(request) -> None:
    key = _key(request)
    seconds = int(_cooloff().total_seconds())
    cache.add(key, 0, seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        count = 1
    logger.warning("a Discord login to the dashboard failed (%d from this address)", count)


def locked_out(request) -> bool:
    return (cache.get(_key(request)) or 0) >= settings.AXES_FAILURE_LIMIT


def refusal(request):
    minutes = int(_cooloff().total_seconds() // 60)
    return render(request, "dashboard/locked_out.html", {"minutes": minutes}, status=429)
