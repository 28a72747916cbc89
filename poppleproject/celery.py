"""The Celery app: configuration from Django's settings (CELERY_ namespace), tasks from the apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

app = Celery("poppleproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
