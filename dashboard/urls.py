from django.urls import include, path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("logout/", views.logout, name="logout"),
    path("servers/<int:guild_id>/", views.server_settings, name="settings"),
    path("servers/<int:guild_id>/board/", views.board, name="board"),
    path("servers/<int:guild_id>/seasons/<int:number>/", views.season, name="season"),
    path("servers/<int:guild_id>/merge/", views.merge, name="merge"),
    path("servers/<int:guild_id>/unmerge/", views.unmerge, name="unmerge"),
    path("servers/<int:guild_id>/ledger/", views.ledger, name="ledger"),
    path("servers/<int:guild_id>/revert/", views.revert, name="revert"),
    path("servers/<int:guild_id>/export/<str:name>", views.export_file, name="export"),
]

# allauth's Discord login (dashboard/discordlogin/), and the page a cancelled consent lands on.
login_urlpatterns = [
    path("", include("dashboard.discordlogin.urls")),
    path("cancelled/", views.login_cancelled, name="socialaccount_login_cancelled"),
]
