"""A task that kills the worker running it, as a message that crashes its worker would (a segfault
in a library, the kernel's OOM killer). Loaded only by the tests' workers (`--include`)."""

import os
import signal

from celery import current_app, shared_task

# Routed to `karma` like the tasks it stands for: a worker accepts on each queue only the tasks
# routed there (poppleproject/consumer.py: tasks_by_queue).
current_app.conf.task_routes["testkit.poison"] = {"queue": "karma"}


@shared_task(name="testkit.poison")
def poison():
    os.kill(os.getpid(), signal.SIGKILL)
