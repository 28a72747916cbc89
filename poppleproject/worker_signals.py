"""What every process does around Celery's tasks (connected by poppleproject/celery.py): refuse a
wrong configuration at a worker's start, serve a worker's metrics, recycle database connections
around a task, label a task's arguments for Flower and the logs, and warn before a message's last
delivery."""

import logging

from celery.signals import before_task_publish, task_postrun, task_prerun, task_received, worker_init
from django.conf import settings
from django.db import connections

from karma.message import task_label
from poppleproject import rabbitmq


@worker_init.connect
def refuse_a_wrong_configuration(**kwargs):
    # Management commands run Django's system checks at start; a Celery worker does not. Those
    # tagged "popple" (karma/checks.py: too few LEDGER_DETAIL_DAYS, which the worker's housekeeping
    # would act on) stop it here, before it takes a task, with the check's own words.
    from django.core import checks

    errors = [error for error in checks.run_checks(tags=["popple"]) if error.is_serious()]
    if errors:
        raise SystemExit("popple: configuration error: " + " ".join(f"{e.msg} {e.hint or ''}".strip() for e in errors))


@worker_init.connect
def serve_metrics(**kwargs):
    # In the worker's own process, before its pool starts: the pool of threads (as deployed) counts
    # into the same registry. A prefork pool's children would count into their own, unseen.
    from monitoring import metrics  # Django's apps are loaded by now

    metrics.serve()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(**kwargs):
    # As around a web request: drop connections that failed or outlived CONN_MAX_AGE, and have the
    # next query check that the server is still there (after a database restart, it is not).
    # Inside a caller's transaction (a task run inline from a test) the connection is the caller's.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


@before_task_publish.connect
def label_arguments(headers, body, **kwargs):
    # Flower and the workers' logs show a task's arguments as a label (karma.message.task_label),
    # whoever publishes it: Popple's publishers pass the label themselves, this makes sure of it.
    args, task_kwargs = body[0], body[1]
    if len(args) == 1:
        headers["argsrepr"] = task_label(args[0])
    elif args:
        headers["argsrepr"] = f"({len(args)} arguments)"
    headers["kwargsrepr"] = "{...}" if task_kwargs else "{}"


@task_received.connect
def warn_of_the_last_delivery(request, **kwargs):
    # RabbitMQ counts (x-delivery-count) the deliveries of a message that ended without an
    # acknowledgement (its worker died, or lost the broker); once the count passes
    # RABBITMQ_DELIVERY_LIMIT it moves the message to the dead-letter queue instead of killing
    # workers forever (poppleproject/rabbitmq.py). This is the line that says so, before the last try.
    earlier = (request.message.headers or {}).get("x-delivery-count") or 0
    if earlier and earlier >= settings.RABBITMQ_DELIVERY_LIMIT:
        logging.getLogger(__name__).error(
            "task %s[%s] delivered %d times already (each time without an acknowledgement, as when its "
            "worker dies): if this attempt fails the same way, RabbitMQ moves it to the queue %s",
            request.name,
            request.id,
            earlier,
            rabbitmq.DEAD_LETTERS,
        )
