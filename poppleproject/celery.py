"""The Celery app: configuration from Django's settings (CELERY_ namespace), tasks from the apps."""

import os

from celery import Celery
from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")


class MonitoringEventDispatcher(EventDispatcher):
    """Sends task events (for Flower) without waiting for RabbitMQ to confirm each one.

    Tasks are published with confirms (settings.CELERY_BROKER_TRANSPORT_OPTIONS): losing one would
    lose a karma change. An event lost in a broker crash only leaves a gap in the monitor, and
    waiting on its confirm holds the lock every worker thread needs to report a task: with 16
    threads per worker the wait took the whole machine (bench/README.md).
    """

    def __init__(self, connection=None, *args, **kwargs):
        if connection is not None and connection.transport_options.get("confirm_publish"):
            options = {**connection.transport_options, "confirm_publish": False}
            connection = connection.clone(transport_options=options)
        super().__init__(connection, *args, **kwargs)


class PoppleEvents(Events):
    dispatcher_cls = "poppleproject.celery:MonitoringEventDispatcher"


app = Celery("poppleproject", events=PoppleEvents)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
