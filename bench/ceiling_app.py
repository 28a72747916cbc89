"""Two no-op Celery tasks with Popple's Celery settings: the bare cost of the pipeline's two hops.

`hop1` stands for the karma task (it only enqueues `hop2`), `hop2` for the reply task (it only
counts itself in Redis, so the benchmark knows when all are done).
"""

import os

import redis
from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")

app = Celery("ceiling")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Quorum queues with a topic exchange each, as Popple's own (poppleproject/rabbitmq.py), or classic
# ones (CEILING_QUEUE_TYPE=classic: the lighter ceiling issue 24 compares with); declared here, by
# the benchmark's administrator account. A queue's type is fixed once declared: each has its names.
QUEUE_TYPE = os.environ.get("CEILING_QUEUE_TYPE", "quorum")


def queues(queue_type=QUEUE_TYPE):
    """The two hops' queues of this type: quorum ones keep the names they always had."""
    names = (
        ("bench-hop1", "bench-hop2")
        if queue_type == "quorum"
        else (f"bench-{queue_type}-hop1", f"bench-{queue_type}-hop2")
    )
    return [
        Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments={"x-queue-type": queue_type})
        for name in names
    ]


app.conf.task_queues = queues()
app.conf.task_routes = {
    "ceiling.hop1": {"queue": app.conf.task_queues[0].name},
    "ceiling.hop2": {"queue": app.conf.task_queues[1].name},
}
COUNTER = "popple:bench:hop2"
_redis = None


@app.task(name="ceiling.hop1")
def hop1(payload):
    hop2.delay(payload["channel_id"], payload["message_id"], ["x has 1 karma."], None)


@app.task(name="ceiling.hop2")
def hop2(channel_id, message_id, chunks, reaction):
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    _redis.incr(COUNTER)
