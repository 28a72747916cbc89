from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from botgateway.slash_endpoint import interactions

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("interactions", interactions, name="interactions"),
    path("", include("leaderboard.urls")),
]
