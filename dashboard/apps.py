from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "moderators' dashboard"

    def ready(self):
        from dashboard import session  # noqa: F401 (connects the login signal)

        self._hide_from_the_admin()

    @staticmethod
    def _hide_from_the_admin():
        """allauth's admin pages for what the dashboard keeps elsewhere: the Discord application
        comes from DISCORD_CLIENT_ID/SECRET (one made in the admin too would make logins fail on
        two), tokens are never stored, and no one has an email address here. The admin ran its
        autodiscovery first (it is the first app)."""
        from allauth.account.models import EmailAddress
        from allauth.socialaccount.models import SocialApp, SocialToken
        from django.contrib import admin

        for model in (SocialApp, SocialToken, EmailAddress):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
