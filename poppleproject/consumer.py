"""A worker's consumer of task messages (CELERY_WORKER_CONSUMER): task events without publisher
confirms, and a check of each message before Celery runs it."""

import logging

from celery.worker.consumer import Consumer as WorkerConsumer
from kombu.exceptions import ContentDisallowed, DecodeError

from poppleproject import rabbitmq
from poppleproject.celery import app


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
