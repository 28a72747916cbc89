from django.apps import AppConfig


class BotGatewayConfig(AppConfig):
    name = "botgateway"
    verbose_name = "Discord"

    def ready(self):
        # The reply task registers in every process, not only in workers: the karma task finds it
        # by name, also when it runs inline (runbot, tests). The signals close what a worker opened.
        from botgateway import housekeeping, signals, tasks  # noqa: F401
