"""The Celery app, and the one place that decides whether this process runs its tasks inline.

Configuration comes from Django's settings (CELERY_ namespace). Tasks register when Django loads
the apps: each app's AppConfig.ready imports its tasks module, in every process, not only in
workers.
"""

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.beat import PersistentScheduler
from celery.exceptions import Reject
from celery.signals import before_task_publish, task_postrun, task_prerun, task_received, worker_init
from celery.worker.consumer import Consumer as WorkerConsumer
from django.conf import settings
from django.db import connections
from kombu.exceptions import ContentDisallowed, DecodeError

from poppleproject import rabbitmq

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

app = Celery("poppleproject")
app.config_from_object("django.conf:settings", namespace="CELERY")


class Consumer(WorkerConsumer):
    """A worker's consumer whose task events go out without publisher confirms.

    Celery asks this method for one connection only: the one its event dispatcher publishes task
    events on (for Flower), whose socket the worker's event loop also reads. With confirms, a pool
    thread waiting for one under the dispatcher's lock could miss it (the loop had read it), and the
    loop then waited for that lock: no heartbeat left the worker until RabbitMQ cut it, 20 s later
    (measured with quorum queues: 4 such stalls in each of two 5,000-message runs, none without
    events). An event lost in a crash costs a line in Flower; tasks and replies keep their confirms.
    """

    def connection_for_write(self, url=None, heartbeat=None):
        return self.ensure_connected(
            self.app.connection_for_write(url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False})
        )

    def create_task_handler(self, *args, **kwargs):
        """Celery's handler of task messages, behind a check of what each message asks for
        (`refusal`): a refused message costs one log line and goes to the dead-letter queue
        (rejected without requeue), before Celery even looks up its task."""
        handle = super().create_task_handler(*args, **kwargs)
        allowed = tasks_by_queue(self.app)  # the worker's app: the benchmarks' has routes of its own

        def on_task_received(message):
            queue = self.queue_of(message)
            problem = refusal(message, allowed.get(queue, frozenset()))
            if problem is None:
                return handle(message)
            headers = message.headers if isinstance(message.headers, dict) else {}
            logging.getLogger(__name__).error(
                "refused a message on queue %s (task %.100r, id %.100r): %s; it goes to the queue %s",
                queue,
                headers.get("task"),
                headers.get("id"),
                problem,
                rabbitmq.DEAD_LETTERS,
            )
            # (celery-types' Consumer lists neither connection_errors nor task_consumer.)
            errors = self.connection_errors  # type: ignore[attr-defined]
            message.reject_log_error(logging.getLogger(__name__), errors)  # without requeue
            return None

        return on_task_received

    def queue_of(self, message):
        """The queue a message came from: the one this consumer reads under the delivery's
        consumer tag. (Its routing key may be another: a retry with a countdown comes back through
        Celery's delayed-delivery exchanges with a longer one.)"""
        tag = message.delivery_info.get("consumer_tag")
        # kombu keeps the tag of each queue it consumes from in _active_tags (queue name -> tag).
        tags = self.task_consumer._active_tags  # type: ignore[attr-defined]
        return next((queue for queue, each in tags.items() if each == tag), None)


def tasks_by_queue(celery_app=app):
    """The task names each queue may carry: Popple's routing (CELERY_TASK_ROUTES), one table for
    where a task is sent and what a worker accepts."""
    allowed: dict[str, set[str]] = {}
    for name, route in celery_app.conf.task_routes.items():
        allowed.setdefault(route["queue"], set()).add(name)
    return allowed


# The Celery options that make a worker publish (or run) more tasks once a task ends: link,
# link_error, a chain's next steps, a chord's callback. Popple never sends them, and a worker
# would publish what they say with its own account, which may publish replies: so anyone who may
# publish to `karma` (gateway, web, beat) could have the bot post anything, anywhere.
FOLLOW_UPS = ("callbacks", "errbacks", "chain", "chord")


def refusal(message, allowed):
    """Why a task message must not run, or None. Only what Popple itself sends passes: Celery's
    protocol 2 (the task's name in the headers, a body of [args, kwargs, options]), a task `allowed`
    on its queue, and no follow-up tasks, neither in the options nor in the headers (a worker reads
    the task's options from both)."""
    headers = message.headers
    if not isinstance(headers, dict) or "task" not in headers:
        return "not a Celery task message (protocol 2)"
    if headers["task"] not in allowed:
        return "the task is not one this queue carries"
    if any(headers.get(key) for key in FOLLOW_UPS):
        return "it asks for follow-up tasks (links, errbacks, chains or chords)"
    try:
        body = message.decode()  # kombu keeps it: Celery's own handler does not decode it again
    except (ContentDisallowed, DecodeError) as exc:
        return f"its body cannot be read ({type(exc).__name__})"
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[2], dict | None)):
        return "its body is not [args, kwargs, options]"
    options = body[2] or {}
    if set(options) - set(FOLLOW_UPS):
        return "its options hold more than Celery's follow-up fields"  # a worker would read them too
    if any(options.values()):
        return "it asks for follow-up tasks (links, errbacks, chains or chords)"
    return None


def tasks_run_inline():
    """True when a task runs in the process that calls it, without a broker.

    The default when CELERY_BROKER_URL is unset (settings.py); `runbot` and `chat` ask for it
    whatever is configured (run_tasks_inline). Everything that cares reads it here.
    """
    return app.conf.task_always_eager


def run_tasks_inline():
    """This process runs every task it calls itself: the one-process commands."""
    app.conf.task_always_eager = True


def parsed(task: Task, parse: Callable[[Any], Any], payload: Any, extra: tuple, what: str) -> Any:
    """`parse(payload)` for a task that takes one payload; a malformed one (or `extra` arguments)
    costs one log line and the message is dropped, never retried: Reject, without requeue."""
    try:
        if extra:
            raise ValueError(f"the task takes exactly one argument, the {what} payload")
        return parse(payload)
    except ValueError as exc:
        logging.getLogger(task.__module__).error(
            "rejected malformed %s payload (task %s): %s", what, task.request.id, exc
        )
        raise Reject(str(exc), requeue=False) from None


def no_arguments(task: Task, extra: tuple) -> None:
    """For a task that takes no arguments (the periodic ones): any costs one log line and the
    message is dropped, never retried."""
    if extra:
        logging.getLogger(task.__module__).error(
            "rejected task %s (%s): it takes no arguments", task.name, task.request.id
        )
        raise Reject("the task takes no arguments", requeue=False)


class Scheduler(PersistentScheduler):
    """Celery beat's scheduler (CELERY_BEAT_SCHEDULER), which also creates the folder its schedule
    file goes in: var/ is not in the repository, and beat would not start without it."""

    def setup_schedule(self):
        # (celery-types' PersistentScheduler lists no schedule_filename.)
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
        super().setup_schedule()


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
    # Flower and the workers' logs show a task's arguments as this label, not the chat message (its
    # contents, its author) or the reply's text: which message and channel is enough to follow it.
    args, task_kwargs = body[0], body[1]
    payload = args[0] if args else None
    if isinstance(payload, dict):
        ids = {key: payload.get(key) for key in ("message_id", "interaction_id", "channel_id")}
        label = [f"{key}={value}" for key, value in ids.items() if isinstance(value, int)]
        if isinstance(payload.get("guild_ids"), list):  # a server event (karma.message.ServerEvent)
            label.append(f"servers={len(payload['guild_ids'])}")
        if isinstance(payload.get("deleted"), list):  # deleted messages (karma.message.Deletion)
            label.append(f"deleted={len(payload['deleted'])}")
        if payload.get("edited"):
            label.append("edited")
        headers["argsrepr"] = " ".join(label) or "(hidden)"
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
