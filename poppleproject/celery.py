"""The Celery app, and the one place that decides whether this process runs its tasks inline.

Configuration comes from Django's settings (CELERY_ namespace). Tasks register when Django loads
the apps: each app's AppConfig.ready imports its tasks module, in every process, not only in
workers. What a worker adds to Celery lives beside it, named by the settings that use it:
poppleproject/consumer.py (CELERY_WORKER_CONSUMER), poppleproject/scheduler.py
(CELERY_BEAT_SCHEDULER), and poppleproject/worker_signals.py (connected here, in every process).
"""

import os

from celery import Celery

from poppleproject import worker_signals  # noqa: F401  connects the signal handlers in every process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

app = Celery("poppleproject")
app.config_from_object("django.conf:settings", namespace="CELERY")


def tasks_run_inline():
    """True when a task runs in the process that calls it, without a broker.

    The default when CELERY_BROKER_URL is unset (settings.py); `runbot` and `chat` ask for it
    whatever is configured (run_tasks_inline). Everything that cares reads it here.
    """
    return app.conf.task_always_eager


def run_tasks_inline():
    """This process runs every task it calls itself: the one-process commands."""
    app.conf.task_always_eager = True
