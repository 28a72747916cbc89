"""What every dashboard page shares: off without Discord's OAuth2 client, a refusal as a page of
its own, and a strict Content-Security-Policy (as the public boards', plus the login form, which
goes to Discord's consent page)."""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import render

from dashboard.access import LoginNeeded, Refused


def content_security_policy() -> str:
    authorize = urlsplit(settings.DISCORD_OAUTH_AUTHORIZE_URL)
    return (
        "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.discordapp.com; "
        f"base-uri 'none'; form-action 'self' {authorize.scheme}://{authorize.netloc}; frame-ancestors 'none'"
    )


def secured(response):
    response["Content-Security-Policy"] = content_security_policy()
    # Nothing of a moderator's page belongs in a shared cache, or in the browser's after logout.
    response["Cache-Control"] = "no-store"
    return response


def page(view):
    """A dashboard page: refused plainly (Refused, or the dashboard off), and secured (its 405 to a
    wrong method too: put it outside require_GET and the like)."""

    @wraps(view)
    def answer(request, *args, **kwargs):
        if not settings.DASHBOARD_ENABLED:
            return secured(render(request, "dashboard/off.html", status=404))
        try:
            response = view(request, *args, **kwargs)
        except LoginNeeded as refused:
            # Back to this page once logged in (allauth checks that `next` is this site's).
            context = {"reason": refused.reason, "next": request.get_full_path() if request.method == "GET" else ""}
            response = render(request, "dashboard/login.html", context, status=refused.status)
        except Refused as refused:
            response = render(request, "dashboard/refused.html", {"reason": refused.reason}, status=refused.status)
        return secured(response)

    return answer
