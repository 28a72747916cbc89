import re

from django.conf import settings
from django.core.management.base import BaseCommand

from poppleproject.celery import app as celery_app

# Flower reads FLOWER_BASIC_AUTH itself ("user:password", comma-separated for several users);
# this command only refuses to start it without one.
_CREDENTIALS = re.compile(r"[^:,\s]+:[^,\s]+(,[^:,\s]+:[^,\s]+)*")


class Command(BaseCommand):
    help = "Start Flower, Celery's task monitor, behind the basic auth in FLOWER_BASIC_AUTH."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=5555)

    def handle(self, *args, port, **options):
        if not _CREDENTIALS.fullmatch(settings.FLOWER_BASIC_AUTH):
            raise SystemExit("popple: configuration error: FLOWER_BASIC_AUTH must be set to user:password")
        celery_app.start(["flower", f"--port={port}"])
