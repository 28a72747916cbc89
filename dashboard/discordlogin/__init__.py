"""allauth's Discord provider, told where Discord is: DISCORD_API_BASE_URL for the API (the tests'
double, a proxy), DISCORD_OAUTH_AUTHORIZE_URL for the consent page. allauth's own has discord.com
written in; SOCIALACCOUNT_PROVIDERS' `provider_class` swaps this one in."""
