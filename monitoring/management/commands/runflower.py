import re

import flower.urls
from django.conf import settings
from django.core.management.base import BaseCommand

from poppleproject.celery import app as celery_app

# Flower reads FLOWER_BASIC_AUTH itself ("user:password", comma-separated for several users);
# this command refuses to start it with a missing or weak one.
_CREDENTIALS = re.compile(r"[^:,\s]+:[^,\s]+(,[^:,\s]+:[^,\s]+)*")
MIN_PASSWORD_LENGTH = 12

# Flower's API can run any task (`/api/task/async-apply/karma.send_reply` posts to any channel),
# revoke tasks and shut workers down or resize them. Popple's operators watch with Flower; they
# act through the admin and the process manager. These routes are removed: they answer 404 like
# any unknown path. (Flower has no switch for it; its RabbitMQ account could not publish them
# to the task queues either, poppleproject/rabbitmq.py.)
_ACTIONS = re.compile(r"/api/(worker/|task/(apply|async-apply|send-task|abort|timeout|rate-limit|revoke)/)")


def weak_credentials(value):
    """Why FLOWER_BASIC_AUTH is not acceptable, or None when it is."""
    if not _CREDENTIALS.fullmatch(value):
        return "must be set to user:password (several: user1:password1,user2:password2)"
    if any(len(pair.split(":", 1)[1]) < MIN_PASSWORD_LENGTH for pair in value.split(",")):
        return f"must give each user a password of at least {MIN_PASSWORD_LENGTH} characters"
    return None


def remove_actions(handlers):
    """Flower's routes without those that act on tasks or workers."""
    return [handler for handler in handlers if not _ACTIONS.match(_pattern(handler))]


def _pattern(handler):
    return handler[0] if isinstance(handler, tuple) else handler.regex.pattern


class Command(BaseCommand):
    help = "Start Flower, Celery's task monitor, read-only, behind the basic auth in FLOWER_BASIC_AUTH."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=5555)

    def handle(self, *args, port, **options):
        problem = weak_credentials(settings.FLOWER_BASIC_AUTH)
        if problem:
            raise SystemExit(f"popple: configuration error: FLOWER_BASIC_AUTH {problem}")
        flower.urls.handlers[:] = remove_actions(flower.urls.handlers)
        # Given to Flower here, in this process (not on a command line), since it may come from
        # a file (FLOWER_BASIC_AUTH_FILE) rather than the variable Flower would read.
        celery_app.start(
            [
                "flower",
                f"--port={port}",
                f"--address={settings.FLOWER_ADDRESS}",
                f"--basic-auth={settings.FLOWER_BASIC_AUTH}",
            ]
        )
