from django.urls import path

from leaderboard import views

app_name = "leaderboard"
urlpatterns = [
    path("", views.servers, name="servers"),
    path("servers/<int:guild_id>/", views.board, name="board"),
    path("servers/<int:guild_id>.json", views.board_json, name="board_json"),
    # `path`: a name may hold a slash.
    path("servers/<int:guild_id>/<path:subject>/", views.subject, name="subject"),
]
