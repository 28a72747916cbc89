"""The public boards ask the dashboard whether to link to it ({% load manage %}): the template
asks, so that the leaderboard's code does not import the dashboard (pyproject.toml's layers)."""

from django import template
from django.conf import settings

from dashboard import access

register = template.Library()


@register.simple_tag(takes_context=True)
def may_manage(context, guild_id: int) -> bool:
    request = context.get("request")
    return bool(settings.DASHBOARD_ENABLED and request is not None and access.may_manage(request, guild_id))
