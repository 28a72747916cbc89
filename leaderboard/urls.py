import re
from urllib.parse import quote, unquote

from django.urls import path, register_converter

from leaderboard import views


class NameConverter:
    """A subject's name in a URL: as it reads where it can (`ci/cd`, `ice cream`), escaped where
    it would not come back unchanged, so that every stored name has a working page.

    Django quotes what this gives (`%` becomes `%25`) and the server unquotes it once: what is
    escaped here reaches to_python still escaped, and is unquoted there. Escaped: `%` itself, control
    characters (Django's patterns do not match a line break), and, in a name with an empty or
    all-dots segment (`..`, `a//b`, `ci/`: browsers resolve dot segments, proxies merge slashes),
    its slashes and dots.
    """

    regex = ".+"
    _ESCAPED = re.compile(r"[%\x00-\x1f\x7f-\x9f]")

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, name: str) -> str:
        text = self._ESCAPED.sub(lambda match: quote(match.group(), safe=""), name)
        if any(not segment.strip(".") for segment in text.split("/")):
            text = text.replace("/", "%2F").replace(".", "%2E")
        return text


register_converter(NameConverter, "name")

app_name = "leaderboard"
urlpatterns = [
    path("", views.servers, name="servers"),
    path("servers/<int:guild_id>/", views.board, name="board"),
    path("servers/<int:guild_id>.json", views.board_json, name="board_json"),
    path("servers/<int:guild_id>/seasons/<int:number>/", views.season, name="season"),
    path("servers/<int:guild_id>/<name:subject>/", views.subject, name="subject"),
]
