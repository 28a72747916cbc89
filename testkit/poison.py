"""A task that kills the worker running it, as a message that crashes its worker would (a segfault
in a library, the kernel's OOM killer). Loaded only by the tests' workers (`--include`)."""

import os
import signal

from celery import shared_task


@shared_task(name="testkit.poison")
def poison():
    os.kill(os.getpid(), signal.SIGKILL)
