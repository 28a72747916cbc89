"""A task, and a chat message, that kill the worker running them, as a message that crashes its
worker would (a segfault in a library, the kernel's OOM killer). Loaded only by the tests' workers
(`--include`)."""

import os
import signal

from celery import current_app, shared_task

from karma import tasks
from testkit.messages import POISON

# Routed to `karma` like the tasks it stands for: a worker accepts on each queue only the tasks
# routed there (poppleproject/consumer.py: tasks_by_queue).
current_app.conf.task_routes["testkit.poison"] = {"queue": "karma"}


@shared_task(name="testkit.poison")
def poison():
    die()


def die():
    os.kill(os.getpid(), signal.SIGKILL)


# A chat message saying POISON kills the worker that applies it.
def _respond_or_die(message, respond=tasks.respond):
    if message.content == POISON:
        die()
    return respond(message)


tasks.respond = _respond_or_die
