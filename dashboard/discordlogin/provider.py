from allauth.socialaccount.providers.discord.provider import DiscordProvider as AllauthDiscordProvider

from dashboard.discordlogin.views import DiscordAdapter


class DiscordProvider(AllauthDiscordProvider):
    oauth2_adapter_class = DiscordAdapter
    # allauth finds the login and callback views in this package's urls and views.
    package = "dashboard.discordlogin"


provider_classes = [DiscordProvider]
