from django.apps import AppConfig


class KarmaConfig(AppConfig):
    name = "karma"
    verbose_name = "Karma"

    def ready(self):
        from karma import checks, tasks  # noqa: F401  registers the karma tasks and checks in every process
