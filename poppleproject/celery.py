"""The Celery app, and the one place that decides whether this process runs its tasks inline.

Configuration comes from Django's settings (CELERY_ namespace). Tasks register when Django loads
the apps: each app's AppConfig.ready imports its tasks module, in every process, not only in
workers.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import connections

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


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(**kwargs):
    # As around a web request: drop connections that failed or outlived CONN_MAX_AGE, and have the
    # next query check that the server is still there (after a database restart, it is not).
    # Inside a caller's transaction (a task run inline from a test) the connection is the caller's.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
