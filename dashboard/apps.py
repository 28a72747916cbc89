from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "moderators' dashboard"

    def ready(self):
        from dashboard import session  # noqa: F401 (connects the login signal)
