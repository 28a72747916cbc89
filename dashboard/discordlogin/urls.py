from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from dashboard.discordlogin.provider import DiscordProvider

urlpatterns = default_urlpatterns(DiscordProvider)
