"""How allauth treats a Discord login: failures counted per address (as django-axes counts the
admin's), and no local accounts (the dashboard has no password login or sign-up form)."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base.constants import AuthError

from dashboard import throttle


class DiscordLoginAdapter(DefaultSocialAccountAdapter):
    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        # A wrong, missing or replayed state, a refused code: each counts. A person who
        # cancelled at Discord's consent page failed nothing.
        if error != AuthError.CANCELLED:
            throttle.failed(request)

    def is_open_for_signup(self, request, sociallogin):
        # A Discord account gets its dashboard user at its first login; local sign-up stays closed.
        return True

    def pre_social_login(self, request, sociallogin):
        if throttle.locked_out(request):
            raise ImmediateHttpResponse(throttle.refusal(request))


class NoLocalAccounts(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False
