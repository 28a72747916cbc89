from functools import wraps

from allauth.socialaccount.providers.discord.views import DiscordOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.shortcuts import render

from dashboard import throttle
from dashboard.pages import secured


class DiscordAdapter(DiscordOAuth2Adapter):
    @property
    def access_token_url(self):
        return f"{settings.DISCORD_API_BASE_URL}/oauth2/token"

    @property
    def authorize_url(self):
        return settings.DISCORD_OAUTH_AUTHORIZE_URL

    @property
    def profile_url(self):
        return f"{settings.DISCORD_API_BASE_URL}/users/@me"


def _only_when_on(view):
    """Without DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET, the dashboard's page says it is off
    (allauth would fail on the missing application); an address locked out after failed logins
    cannot start or finish one; and the pages are the dashboard's, with its headers."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not settings.DASHBOARD_ENABLED:
            return secured(render(request, "dashboard/off.html", status=404))
        if throttle.locked_out(request):
            return secured(throttle.refusal(request))
        return secured(view(request, *args, **kwargs))

    return checked


# What the dashboard's login form sends. allauth also reads `process` (connect a second account,
# which the dashboard has no page for), `scope` and `auth_params` (more than identify and guilds):
# none of them is the dashboard's to ask, so a login that carries them is refused.
LOGIN_FIELDS = {"csrfmiddlewaretoken", "next"}


def _only_the_dashboards_form(view):
    @wraps(view)
    def checked(request, *args, **kwargs):
        if set(request.POST) - LOGIN_FIELDS or request.GET:
            return render(
                request,
                "dashboard/refused.html",
                {"reason": "This login was not started by the dashboard."},
                status=400,
            )
        return view(request, *args, **kwargs)

    return checked


oauth2_login = _only_when_on(_only_the_dashboards_form(OAuth2LoginView.adapter_view(DiscordAdapter)))
oauth2_callback = _only_when_on(OAuth2CallbackView.adapter_view(DiscordAdapter))
