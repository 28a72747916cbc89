from django.apps import AppConfig


class KarmaConfig(AppConfig):
    name = "karma"
    verbose_name = "Karma"

    def ready(self):
        from karma import tasks  # noqa: F401  registers the karma task in every process
