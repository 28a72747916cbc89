"""The language a server's answers are in: its setting (`@Popple config language de`), or else
Discord's preferred locale of the server, when Popple speaks it, or else English.

Only the answers are translated (Django's catalogs, locale/); the commands people type (`karma`,
`top`, `config`...) and the settings' values (`on`, `off`, `auto`) stay English words in every
language, so that what the README and the answers show works wherever it is typed.
"""

ENGLISH = "en"
# Discord's locale codes of the languages Popple speaks (what the setting stores and shows), and
# Django's code of each (settings.LANGUAGES; locale/<code>/ holds its catalog).
DJANGO_CODES = {"en": "en", "de": "de", "fr": "fr", "es-ES": "es", "pt-BR": "pt-br"}
SUPPORTED = tuple(DJANGO_CODES)
AUTO = "auto"  # the setting's value for "Discord's preferred locale of the server"
# What people may type for each, besides its code: any case, `_` for `-`, the language alone.
_TYPED = {"en": "en", "en-us": "en", "en-gb": "en", "de": "de", "fr": "fr", "es": "es-ES", "es-es": "es-ES",
          "es-419": "es-ES", "pt": "pt-BR", "pt-br": "pt-BR"}  # fmt: skip


def parse(text: str) -> str | None:
    """The setting as stored ("" for auto) from what a moderator typed; None when Popple does not
    speak it."""
    word = text.strip().lower().replace("_", "-")
    if word == AUTO:
        return ""
    return _TYPED.get(word)


def show(value: str) -> str:
    return value or AUTO


def of_discord(locale: str) -> str:
    """The supported language (a Discord code) for one of Discord's locales (`en-US`, `es-419`,
    `pt-BR`...): the same code or the same language; English for the others."""
    return _TYPED.get((locale or "").lower()) or _TYPED.get((locale or "").lower().split("-")[0], ENGLISH)


def django_code(setting: str, locale: str = "") -> str:
    """Django's code of the language a server's answers are in: its setting, else its Discord
    locale's language, else English."""
    return DJANGO_CODES[setting if setting in DJANGO_CODES else of_discord(locale)]
