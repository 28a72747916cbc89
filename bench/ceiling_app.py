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
# Quorum queues with a topic exchange each, as Popple's own (poppleproject/rabbitmq.py); declared
# here, by the benchmark's administrator account.
app.conf.task_queues = [
    Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments={"x-queue-type": "quorum"})
    for name in ("bench-hop1", "bench-hop2")
]
app.conf.task_routes = {"ceiling.hop1": {"queue": "bench-hop1"}, "ceiling.hop2": {"queue": "bench-hop2"}}
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
