"""What this machine's broker, Celery and database can do at best, measured beside the pipeline."""

import contextlib
import sys
import tempfile
import threading
import time

import kombu
import MySQLdb
import redis

from bench.ceiling_app import COUNTER
from bench.report import mysql_params
from testkit.processes import Process, clean_env
from testkit.stack import BROKER_URL, REDIS_URL

PAYLOAD = {
    "guild_id": 1575957012741619715,
    "channel_id": 1575957012741619717,
    "message_id": 1575957012741619720,
    "author_id": 1575957012741619719,
    "author_name": "someone",
    "content": "thanks coffee++ (the build server)--",
    "bot_id": 1575957012733231105,
    "bot_name": "Popple",
    "mentions": {},
    "can_manage": False,
}


def measure(count, deployed, database_url):
    return {
        "celery two-hop no-op, messages/s": celery_two_hops(count, *deployed),
        "kombu publish+consume, messages/s": kombu_round_trip(count),
        "MariaDB single-row increments/s": mariadb_increments(database_url, seconds=3),
    }


def celery_two_hops(count, workers, pool, concurrency, queue_type="quorum"):
    """hop1 enqueues hop2, through workers deployed as Popple's, with Popple's Celery settings, on
    quorum queues as Popple's or on classic ones."""
    from bench.ceiling_app import hop1, queues

    hop1_queue, hop2_queue = queues(queue_type)

    counter = redis.Redis.from_url(REDIS_URL)
    counter.delete(COUNTER)
    log_dir = tempfile.mkdtemp(prefix="popple-ceiling-")
    # Workers of a Django project check for a Discord token at start (botgateway/signals.py), as
    # Popple's do; these never use it.
    env = clean_env(CELERY_BROKER_URL=BROKER_URL, REDIS_URL=REDIS_URL, DISCORD_TOKEN="ceiling-workers-post-nothing",
                    CEILING_QUEUE_TYPE=queue_type)  # fmt: skip
    processes = [
        Process(
            f"ceiling{n}",
            [sys.executable, "-m", "celery", "-A", "bench.ceiling_app", "worker",
             "-Q", f"{hop1_queue.name},{hop2_queue.name}", "-P", pool, "-c", str(concurrency),
             "-n", f"ceiling{n}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            env, log_dir,
        ).start()
        for n in range(workers)
    ]  # fmt: skip
    try:
        for process in processes:
            process.wait_for_log(r"ready\.", timeout=60)
        hop1.app.conf.task_always_eager = False  # this process has no broker configured: publish anyway
        start = time.perf_counter()
        # Published as the gateway publishes: one thread, each message confirmed by RabbitMQ.
        with kombu.Connection(BROKER_URL, transport_options={"confirm_publish": True}) as connection:
            producer = hop1.app.amqp.Producer(connection)
            for _ in range(count):
                hop1.apply_async(args=(PAYLOAD,), producer=producer, queue=hop1_queue)
        while int(counter.get(COUNTER) or 0) < count:
            time.sleep(0.01)
        return round(count / (time.perf_counter() - start))
    finally:
        for process in processes:
            process.stop()


def kombu_round_trip(count):
    """Persistent messages published with confirms into a quorum queue (as Popple's) and consumed
    with acks."""
    queue = kombu.Queue("bench-kombu", durable=True, queue_arguments={"x-queue-type": "quorum"})
    body = {"args": [PAYLOAD]}
    done = threading.Event()
    received = 0

    def consume():
        nonlocal received
        with kombu.Connection(BROKER_URL) as connection:

            def on_message(body, message):
                nonlocal received
                message.ack()
                received += 1
                if received == count:
                    done.set()

            with connection.Consumer(queue, callbacks=[on_message], prefetch_count=10):
                while not done.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=1)

    with kombu.Connection(BROKER_URL, transport_options={"confirm_publish": True}) as connection:
        queue(connection.default_channel).declare()
        queue(connection.default_channel).purge()
        consumer = threading.Thread(target=consume)
        consumer.start()
        time.sleep(0.5)
        producer = connection.Producer()
        start = time.perf_counter()
        for _ in range(count):
            producer.publish(body, routing_key="bench-kombu", delivery_mode=2, serializer="json")
        done.wait(300)
        elapsed = time.perf_counter() - start
        consumer.join()
        queue(connection.default_channel).delete()
    return round(count / elapsed)


def mariadb_increments(database_url, seconds):
    """`UPDATE ... SET n = n + 1` on one row, each its own commit, from one connection."""
    connection = MySQLdb.connect(**mysql_params(database_url), autocommit=True)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
    cursor.execute("REPLACE INTO bench_counter VALUES (1, 0)")
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        cursor.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
        done += 1
    rate = done / (time.perf_counter() - start)
    cursor.execute("DROP TABLE bench_counter")
    connection.close()
    return round(rate)
