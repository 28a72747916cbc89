"""Popple's layout on RabbitMQ: its queues, their limits, and what each process's account may do.

`manage.py setup_rabbitmq` creates all of it (compose and scripts/test run it). Celery's settings
use the same queue definitions but never declare them: only the setup creates or changes a queue,
so no Popple process needs the right to, and the accounts can be narrow.

RabbitMQ grants per account three regular expressions over queue and exchange names: configure
(declare, delete), write (publish to an exchange, bind to a queue) and read (consume from a queue,
bind from an exchange). Each task queue has a topic exchange of the same name, as Celery's native
delayed delivery (retries with a countdown on quorum queues) needs.
"""

from kombu import Exchange, Queue

VHOST = "popple"
# `answers`: replies that answer someone (a command, a refusal, a reaction), which the reply workers
# take beside `replies` so that they never wait behind a backlog of announcements there (issue 26).
# A queue of their own rather than message priorities: quorum queues have none on RabbitMQ 3.10
# (priorities came to them in 4.0), and a classic priority queue would lose what the quorum queues
# give (the delivery limit that dead-letters a poison message, replication).
TASK_QUEUES = ("karma", "replies", "answers")
# Where RabbitMQ moves what needs a person's attention: a message redelivered `delivery_limit`
# times (each delivery ended without an acknowledgement: its worker died, or lost the broker), and
# a malformed one a worker rejected (karma/tasks.py: parsed). Bounded: the oldest go.
DEAD_LETTERS = "dead-letters"

NOTHING = "^$"
# What a Celery worker declares and uses besides the task queues: its remote-control queue
# (<name>.celery.pidbox, answering `inspect`), the event exchange Flower reads, and the 28
# queues of native delayed delivery (celery_delayed_0 ... 27 and celery_delayed_delivery).
# Workers run --without-gossip (Procfile): gossip would need a celeryev.<uuid> queue of their own.
_PIDBOX = r"celery\.pidbox|reply\.celery\.pidbox|.+\.celery\.pidbox"
_WORKER_OWN = rf"celeryev|{_PIDBOX}|celery_delayed_.*"

# role: (configure, write, read)
PERMISSIONS = {
    # Publishes chat messages to `karma`; cannot read any queue nor publish anywhere else.
    "gateway": (NOTHING, "^karma$", NOTHING),
    # Both worker pools: consume `karma`, `replies` and `answers`, publish replies, answers and their
    # own retries.
    "worker": (
        f"^({_WORKER_OWN})$",
        f"^(karma|replies|answers|{_WORKER_OWN})$",
        f"^(karma|replies|answers|{_WORKER_OWN})$",
    ),
    # Celery beat: publishes the periodic housekeeping tasks to `karma`.
    "beat": (NOTHING, "^karma$", NOTHING),
    # Reads task events through its own celeryev.<uuid> queue, and asks workers for their state
    # through celery.pidbox (its event capture wakes them that way; its Workers page inspects).
    # It may not publish to the task queues; its API for running tasks or shutting workers down
    # is removed (runflower).
    "flower": (
        r"^(celeryev|celeryev\..+|celery\.pidbox|reply\.celery\.pidbox|.+\.reply\.celery\.pidbox)$",
        r"^(celeryev\..+|celery\.pidbox|.+\.reply\.celery\.pidbox)$",
        r"^(celeryev|celeryev\..+|reply\.celery\.pidbox|.+\.reply\.celery\.pidbox)$",
    ),
    # /interactions (slash commands over HTTP) publishes them to `karma`, as a gateway does. It
    # cannot read any queue nor publish replies.
    "web": (NOTHING, "^karma$", NOTHING),
    # KEDA (deploy/kubernetes/keda.yaml) asks the task queues' lengths: a passive declare, which
    # needs no right at all. No other right: Flower's account, which it used, may broadcast to
    # the workers (celery.pidbox).
    "keda": (NOTHING, NOTHING, NOTHING),
}
# Accounts made only when their password is given: compose runs no KEDA.
OPTIONAL_ROLES = ("keda",)


def task_queues():
    """The task queues as Celery's settings describe them: quorum queues, declared by the setup."""
    return tuple(
        Queue(
            name,
            Exchange(name, type="topic", no_declare=True),
            routing_key=name,
            queue_arguments={"x-queue-type": "quorum"},  # tells Celery: per-consumer prefetch
            no_declare=True,
        )
        for name in TASK_QUEUES
    )


def queue_policy(delivery_limit, max_length):
    """The limits on the task queues (a policy, so that the setup can change them in place)."""
    return {
        # A message redelivered this many times without an ack (its worker died each time) goes
        # to the dead-letter queue instead of killing workers forever: at most limit + 1 tries.
        "delivery-limit": delivery_limit,
        "dead-letter-exchange": DEAD_LETTERS,
        # Dead-lettered messages are confirmed by the dead-letter queue before they leave.
        "dead-letter-strategy": "at-least-once",
        # A full queue refuses new messages rather than dropping old ones: the gateway keeps a
        # refused message in its outbox and publishes it again; a worker retries a refused reply.
        "max-length": max_length,
        "overflow": "reject-publish",
    }


def dead_letter_policy(max_length):
    """The dead-letter queue keeps the newest messages: a flood of malformed ones cannot fill the disk."""
    return {"max-length": max_length, "overflow": "drop-head"}
