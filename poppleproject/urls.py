from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from botgateway.slash_endpoint import interactions
from dashboard.urls import login_urlpatterns

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("interactions", interactions, name="interactions"),
    # The moderators' dashboard; allauth's login views keep their own (unnamespaced) URL names.
    path("dashboard/login/", include(login_urlpatterns)),
    path("dashboard/", include("dashboard.urls")),
    path("", include("leaderboard.urls")),
]
