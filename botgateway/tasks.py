"""The reply tasks (queues `replies` and `answers`): hand the answer to a chat message to this
process's courier, complete a slash command's deferred response, and change members' reward roles.

It never waits on Discord: the courier posts what the budget allows now and holds the rest
(botgateway/delivery.py). Idempotent: a redelivered reply is held once, and every attempt at a
post carries the same nonce, so Discord posts it once.
"""

from celery import shared_task
from redis.exceptions import RedisError

from botgateway import roles, slash_answers
from botgateway.delivery import courier
from karma.message import Reply, RoleChange
from karma.slash import SlashAnswer
from karma.tasks import RETRY_POLICY, alone_if_redelivered, each_apart, each_parsed, parsed, reply_task
from poppleproject.celery import tasks_run_inline


@shared_task(
    name="karma.send_reply",  # the name the karma task sends it by (karma.tasks.REPLY_TASK)
    bind=True,
    autoretry_for=(RedisError,),  # held replies live in Redis when it is configured
    **RETRY_POLICY,
)
def send_reply(self, payload=None, *unexpected, **unknown):
    deliver(parsed(self, Reply.from_payload, payload, (*unexpected, *unknown), "reply"))


@shared_task(name="karma.send_answer", bind=True, autoretry_for=(RedisError,), **RETRY_POLICY)
def send_answer(self, payload=None, *unexpected, **unknown):
    """A reply that answers someone: send_reply's work, from queue `answers` (poppleproject/rabbitmq.py says why)."""
    deliver(parsed(self, Reply.from_payload, payload, (*unexpected, *unknown), "reply"))


@shared_task(name="karma.send_replies", bind=True, autoretry_for=(RedisError,), **RETRY_POLICY)
def send_replies(self, payloads=None, *unexpected, **unknown):
    """The replies to several chat messages that a karma task applied together, in turn. A retry
    delivers again the ones delivered already, which are held or posted once. Redelivered, each
    goes on alone by its own queue (one from an older karma worker may hold answers too)."""
    replies = each_parsed(self, Reply.from_payload, payloads, (*unexpected, *unknown), "reply")
    if not alone_if_redelivered(self, replies, reply_task):
        each_apart(self, replies, deliver, "reply")


def deliver(reply: Reply) -> None:
    if tasks_run_inline():
        # One process (runbot): the karma task's thread hands the reply over and goes on.
        courier().hand_over(reply)
    else:
        # A reply worker's thread posts it (or holds it) before the task is acknowledged.
        courier().deliver(reply)


@shared_task(name="karma.complete_interaction", bind=True, max_retries=None)
def complete_interaction(self, payload=None, *unexpected, **unknown):
    """Edit a deferred slash command's response into its answer (botgateway/slash_answers.py).

    Tried again as long as Discord's 15-minute token lasts; a retry waits in RabbitMQ (countdown),
    not in a worker's thread.
    """
    answer = parsed(self, SlashAnswer.from_payload, payload, (*unexpected, *unknown), "interaction answer")
    if tasks_run_inline():
        slash_answers.hand_over(answer)
        return
    wait = slash_answers.complete(answer, slash_answers.rest(), self.request.retries)
    if wait is not None:
        raise self.retry(countdown=wait)


@shared_task(name="karma.apply_roles", bind=True, max_retries=None, autoretry_for=(RedisError,), retry_backoff=1,
             retry_backoff_max=30, retry_jitter=True)  # fmt: skip
def apply_roles(self, payload=None, *unexpected, **unknown):
    """Bring a member's reward roles to what their karma earns (botgateway/roles.py).

    A wait for the budget or a claim waits in RabbitMQ (countdown), not in a worker's thread; the
    newest state of the person is what any of their tasks applies, so the rest find nothing to do.
    """
    change = parsed(self, RoleChange.from_payload, payload, (*unexpected, *unknown), "role change")
    if tasks_run_inline():
        roles.hand_over(change)  # runbot: the karma task's thread goes on
        return
    wait = roles.applier().apply(change, self.request.retries)
    if wait is not None:
        raise self.retry(countdown=wait)
