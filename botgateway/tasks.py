"""The reply task (queue `replies`): hand the answer to a chat message to this process's courier.

It never waits on Discord: the courier posts what the budget allows now and holds the rest
(botgateway/delivery.py). Idempotent: a redelivered reply is held once, and every attempt at a
post carries the same nonce, so Discord posts it once.
"""

from celery import shared_task
from redis.exceptions import RedisError

from botgateway.delivery import courier
from karma.message import Reply
from karma.tasks import RETRY_POLICY
from poppleproject.celery import parsed, tasks_run_inline


@shared_task(
    name="karma.send_reply",  # the name the karma task sends it by (karma.tasks.REPLY_TASK)
    bind=True,
    autoretry_for=(RedisError,),  # held replies live in Redis when it is configured
    **RETRY_POLICY,
)
def send_reply(self, payload=None, *unexpected, **unknown):
    reply = parsed(self, Reply.from_payload, payload, (*unexpected, *unknown), "reply")
    if tasks_run_inline():
        # One process (runbot): the karma task's thread hands the reply over and goes on.
        courier().hand_over(reply)
    else:
        # A reply worker's thread posts it (or holds it) before the task is acknowledged.
        courier().deliver(reply)
