"""What a Celery worker does about Discord when it starts and stops."""

import logging

from celery.signals import worker_init, worker_ready, worker_shutdown
from django.conf import settings

from botgateway.delivery import courier, stop_courier
from botgateway.discordapi import require_token

logger = logging.getLogger(__name__)
REPLY_QUEUES = {"replies", "answers"}  # a worker that takes either posts to Discord


def takes_replies(app) -> bool:
    return bool(REPLY_QUEUES & set(app.amqp.queues.consume_from))


@worker_init.connect
def check_token(sender, **kwargs):
    # A worker that could not post replies stops at start, with one line; one that only applies
    # karma never speaks to Discord and is not given the token.
    if takes_replies(sender.app):
        require_token()


@worker_ready.connect
def start_courier(sender, **kwargs):
    # A worker that takes replies also posts for channels whose held replies are due, from the
    # start: replies a killed worker held are taken over before any new one comes.
    if takes_replies(sender.app):
        if not settings.REDIS_URL:
            logger.warning(
                "replies: REDIS_URL is not set: this worker keeps Discord's limits and held replies to "
                "itself; with more than one worker taking replies, set it"
            )
        courier().start()


@worker_shutdown.connect
def stop_posting(**kwargs):
    stop_courier()
