"""The karma tasks (queue `karma`): apply one chat message (as sent or edited) and hand its answer
to the reply task; take back what deleted messages did; record that Popple joined or left servers;
and the periodic housekeeping that Celery beat runs.

Each is idempotent, which is what makes acks_late and redelivery safe: a version of a message is
applied once (the ledger's unique key), and a rerun answers as the first time; an older version
than the one applied, or a deletion again, changes nothing; a server event older than the one
recorded changes nothing; housekeeping does nothing the second time.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Any

from amqp.exceptions import MessageNacked
from celery import Task, current_app, shared_task
from celery.exceptions import Reject
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from karma import retention, slash
from karma.ledger import rollup, writes
from karma.message import Deletion, IncomingMessage, ReactionEvent, Reply, RoleChange, ServerEvent, task_label
from karma.router import forget_deleted, respond, respond_to_reaction

logger = logging.getLogger(__name__)

# The Discord side delivers the answer (botgateway/tasks.py). The domain knows the task by its name
# only; the two sides meet at the queue.
REPLY_TASK = "karma.send_reply"
REPLIES_TASK = "karma.send_replies"  # several replies in one task
ANSWER_TASK = "karma.send_answer"  # a reply that answers someone, on a queue of its own
ROLE_TASK = "karma.apply_roles"
INTERACTION_REPLY_TASK = "karma.complete_interaction"

# Backs off exponentially with full jitter: retry n waits a random time up to min(2^n, 30) s.
# 40 retries ride out an outage of about 9 minutes on average (18 at most) without hammering
# the database.
RETRY_POLICY: dict[str, Any] = {"retry_backoff": 1, "retry_backoff_max": 30, "retry_jitter": True, "max_retries": 40}
# A publish that RabbitMQ neither confirms nor refuses (a resource alarm) fails after this long.
PUBLISH_CONFIRM_TIMEOUT = 30


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


def each_parsed(task: Task, parse: Callable[[Any], Any], payloads: Any, extra: tuple, what: str) -> list[Any]:
    """`parse` of each payload of a task that takes a list of them: a malformed list is rejected as
    `parsed` rejects a payload; a malformed payload in it costs one log line and is skipped."""
    payloads = parsed(task, _non_empty_list, payloads, extra, f"{what} list")
    items = []
    for payload in payloads:
        try:
            items.append(parse(payload))
        except ValueError as exc:
            logging.getLogger(task.__module__).error(
                "skipped a malformed %s payload (task %s): %s", what, task.request.id, exc
            )
    return items


def _non_empty_list(payloads: Any) -> list:
    if not (isinstance(payloads, list) and payloads):
        raise ValueError("the payload must be a non-empty list")
    return payloads


def redelivered(task: Task) -> bool:
    """Whether RabbitMQ delivered this task before (to a worker that died, or whose ack was lost)."""
    return bool((task.request.delivery_info or {}).get("redelivered"))


def alone_if_redelivered(task: Task, items: list, single: str | Callable[[Any], str]) -> bool:
    """Publish each item (a message or a reply) of a task that came back from RabbitMQ as a task
    `single` of its own (or `single(item)`), and say so (the caller then has nothing left to do).

    A task that came back was running when its worker died (or its ack was lost), perhaps because
    of one of its payloads; each going on alone, only such a payload is delivered again and again
    until RabbitMQ moves it to the dead-letter queue (RABBITMQ_DELIVERY_LIMIT), not the ones that
    came with it. Whatever ran already runs again, and changes nothing the second time.
    """
    if not (redelivered(task) and len(items) > 1):
        return False
    logger.info("task %s redelivered by the broker: its %d payloads go on alone", task.request.id, len(items))
    for item in items:
        publish(single if isinstance(single, str) else single(item), item.to_payload())
    return True


def each_apart(task: Task, items: list, work: Callable[[Any], Any], what: str) -> list[Any]:
    """`work(item)` for each item of a task of several, in turn; what `work` returns, in order.

    An error the task retries on (its autoretry_for) stops it, to be retried whole. Any other fails
    that item alone, as it would fail a task of its own (logged with its traceback; the item is
    not tried again), and the others go on.
    """
    retried = tuple(getattr(task, "autoretry_for", ()))
    results = []
    for item in items:
        try:
            results.append(work(item))
        except retried:
            raise
        except Exception:
            logging.getLogger(task.__module__).exception("task %s: a %s failed", task.request.id, what)
    return results


def publish(name: str, payload: Any) -> None:
    """Publish a task of this app with its payload, confirmed by RabbitMQ; or, with tasks inline
    (one process: runbot, chat), run it here and now."""
    # Looked up rather than sent by name, so that a missing task fails loudly instead of being
    # published to a broker no one reads.
    task = current_app.tasks[name]
    if current_app.conf.task_always_eager:
        # Called as a function rather than through Celery's eager apply, which builds a tracer and
        # a result for each call: a tenth of the applying thread's time in the one-process default
        # (py-spy, bench/embedded.py), for tasks that hand their work to threads and return. One
        # that fails is logged, as Celery would, and the caller goes on.
        task.push_request(id=str(uuid.uuid4()), args=(payload,))  # an id for its log lines
        try:
            task.run(payload)
        except Exception:
            logger.exception("task %s failed", name)
        finally:
            task.pop_request()
        return
    # (celery-types lists no confirm_timeout, which Celery hands to kombu's publish with the
    # other options.)
    task.apply_async(  # type: ignore[call-arg]
        args=(payload,), argsrepr=task_label(payload), kwargsrepr="{}", confirm_timeout=PUBLISH_CONFIRM_TIMEOUT
    )


def no_arguments(task: Task, extra: tuple) -> None:
    """For a task that takes no arguments (the periodic ones): any costs one log line and the
    message is dropped, never retried."""
    if extra:
        logging.getLogger(task.__module__).error(
            "rejected task %s (%s): it takes no arguments", task.name, task.request.id
        )
        raise Reject("the task takes no arguments", requeue=False)


# BrokerError: the reply could not be queued; MessageNacked: RabbitMQ refused it (the replies
# queue is full, poppleproject/rabbitmq.py). The message is applied already, and a rerun answers
# as the first time.
@shared_task(
    name="karma.handle_message",
    bind=True,
    autoretry_for=(OperationalError, InterfaceError, BrokerError, MessageNacked),
    **RETRY_POLICY,
)
def handle_message(self, payload=None, *unexpected, **unknown):
    message = parsed(self, IncomingMessage.from_payload, payload, (*unexpected, *unknown), "message")
    if redelivered(self):
        logger.info("message %s redelivered by the broker", message.message_id)
    send_replies([respond(message)])


# Several chat messages that waited in a gateway's outbox together (botgateway/outbox.py, TOGETHER):
# one task message instead of one each shares Celery's and RabbitMQ's per-task work between them.
@shared_task(
    name="karma.handle_messages",
    bind=True,
    autoretry_for=(OperationalError, InterfaceError, BrokerError, MessageNacked),
    **RETRY_POLICY,
)
def handle_messages(self, payloads=None, *unexpected, **unknown):
    """Apply each message in turn, each in its own transaction as `handle_message` does (in one
    with a savepoint each on SQLite: writes.together), and hand their answers to the reply side
    together, once committed. A retry replays the ones applied already, which answer as the first
    time."""
    messages = each_parsed(self, IncomingMessage.from_payload, payloads, (*unexpected, *unknown), "message")
    if not alone_if_redelivered(self, messages, "karma.handle_message"):
        with writes.together() as apart:
            replies = each_apart(self, messages, apart(respond), "message")
        send_replies(replies)


@shared_task(
    name="karma.handle_reaction",
    bind=True,
    autoretry_for=(OperationalError, InterfaceError, BrokerError, MessageNacked),
    **RETRY_POLICY,
)
def handle_reaction(self, payload=None, *unexpected, **unknown):
    """A reaction added or removed, or a message's reactions removed: its karma and announcement."""
    event = parsed(self, ReactionEvent.from_payload, payload, (*unexpected, *unknown), "reaction")
    send_replies([respond_to_reaction(event)])


def send_replies(replies: list[Reply]) -> None:
    """Hand replies to the reply side, and the roles their changes call for to the role task (none
    unless the server gives roles).

    One that answers someone (a command, a refusal, a reaction) goes to queue `answers`, which the
    reply workers take beside `replies`: someone waits for it, and it must not queue behind a
    backlog of announcements (poppleproject/rabbitmq.py). Each goes alone: answers are few beside
    announcements, and one in a task of its own waits for no other reply of its group to be posted
    or held first. Announcements go to `replies`, in one task however many.
    """
    # The karma transactions have committed by now: a reply never announces a rolled-back change.
    for reply in replies:
        send_roles(reply.roles)
    announcements = []
    for reply in replies:
        if reply.answers():
            publish(ANSWER_TASK, reply.to_payload())
        elif reply:
            announcements.append(reply.to_payload())
    if len(announcements) == 1:
        publish(REPLY_TASK, announcements[0])
    elif announcements:
        publish(REPLIES_TASK, announcements)


def reply_task(reply: Reply) -> str:
    """The task a reply goes alone by: an answer to queue `answers`, an announcement to `replies`."""
    return ANSWER_TASK if reply.answers() else REPLY_TASK


@shared_task(name="karma.post_log", bind=True, autoretry_for=(BrokerError, MessageNacked), **RETRY_POLICY)
def post_log(self, payload=None, *unexpected, **unknown):
    """A line of a server's moderators' log (karma/modlog.py), to the reply side. The karma queue
    carries it, which every process that changes settings may publish to (the web may not publish
    replies)."""
    send_replies([parsed(self, Reply.from_payload, payload, (*unexpected, *unknown), "log")])


def send_roles(changes: tuple[RoleChange, ...]) -> None:
    """Hand each person's roles to the role task (queue `replies`, whose budget it shares).

    After the karma transaction committed, like a reply; one task per person, however many roles.
    """
    for change in changes:
        publish(ROLE_TASK, change.to_payload())


@shared_task(
    name="karma.handle_interaction",
    bind=True,
    autoretry_for=(OperationalError, InterfaceError, BrokerError, MessageNacked),
    **RETRY_POLICY,
)
def handle_interaction(self, payload=None, *unexpected, **unknown):
    """A slash command, acknowledged already (karma/slash.py): its answer, to the reply side."""
    interaction = parsed(self, slash.SlashCommand.from_payload, payload, (*unexpected, *unknown), "interaction")
    if slash.too_late(interaction):
        # Its token no longer lets anyone answer it (a long outage): nothing useful is left to do.
        logger.warning("slash command %s dropped: older than its 15-minute token", interaction.interaction_id)
        return
    answer = slash.answer(interaction)
    send_roles(answer.roles)
    publish(INTERACTION_REPLY_TASK, answer.to_payload())


# (BrokerError, MessageNacked: the roles could not be handed over. The deletion is applied once,
# and a rerun finds it applied and hands over nothing: those roles then follow the person's next
# change, unlike a message's, whose replay says what it did.)
@shared_task(
    name="karma.message_deleted",
    bind=True,
    autoretry_for=(OperationalError, InterfaceError, BrokerError, MessageNacked),
    **RETRY_POLICY,
)
def message_deleted(self, payload=None, *unexpected, **unknown):
    """Chat messages were deleted: what they did is taken back (no reply), and the roles it gave
    where the server gives roles."""
    send_roles(forget_deleted(parsed(self, Deletion.from_payload, payload, (*unexpected, *unknown), "deletion")))


@shared_task(name="karma.server_event", bind=True, autoretry_for=(OperationalError, InterfaceError), **RETRY_POLICY)
def server_event(self, payload=None, *unexpected, **unknown):
    """Popple joined or left a server, or found itself in servers (from a gateway, like messages)."""
    retention.record(parsed(self, ServerEvent.from_payload, payload, (*unexpected, *unknown), "server event"))


# Periodic (CELERY_BEAT_SCHEDULE; `runbot` runs them itself). Not retried: the next run catches up.
@shared_task(name="karma.anonymise_ledger", bind=True)
def anonymise_ledger(self, *unexpected, **unknown):
    no_arguments(self, (*unexpected, *unknown))
    retention.anonymise_ledger(settings.LEDGER_RETENTION_DAYS)


@shared_task(name="karma.rollup_ledger", bind=True)
def rollup_ledger(self, *unexpected, **unknown):
    no_arguments(self, (*unexpected, *unknown))
    rollup.roll_up(settings.LEDGER_DETAIL_DAYS)


@shared_task(name="karma.delete_departed_servers", bind=True)
def delete_departed_servers(self, *unexpected, **unknown):
    no_arguments(self, (*unexpected, *unknown))
    retention.delete_departed(settings.DEPARTED_SERVER_RETENTION_DAYS)


# The third, karma.forget_message_versions, is in botgateway/housekeeping.py: only a Discord id
# says how old its message is. botgateway/housekeeping.py: HOUSEKEEPING lists all four.
HOUSEKEEPING = (anonymise_ledger, rollup_ledger, delete_departed_servers)
