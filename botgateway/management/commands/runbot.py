from django.core.management import call_command

from botgateway.management.commands import rungateway
from poppleproject.celery import app as celery_app
from poppleproject.discordurls import require_token


class Command(rungateway.Command):
    help = "Run all of Popple in this one process: the gateway, with karma tasks executed inline."

    def handle(self, **options):
        require_token()
        call_command("migrate", verbosity=0)
        # One process, whatever is configured: the tasks run here, on the same code path.
        celery_app.conf.task_always_eager = True
        super().handle(**options)
