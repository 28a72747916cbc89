"""Popple's processes, started against real services and the fake Discord (tests and benchmarks)."""

import os
import shlex
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import kombu
import redis
from celery import Celery
from django.conf import settings

from poppleproject import rabbitmq
from testkit.processes import ROOT, Process, clean_env

# RabbitMQ's administrator on Popple's vhost: the tests purge, inspect and publish what they like.
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/popple")
VHOST = BROKER_URL.rpartition("/")[2]  # what the tests set up with `setup_rabbitmq --vhost`


def broker_url(role):
    """The account of a Popple process on the tests' RabbitMQ, as scripts/test sets it up
    (manage.py setup_rabbitmq, with the password test-<role>-password)."""
    host = BROKER_URL.rpartition("@")[2]
    return f"amqp://popple-{role}:test-{role}-password@{host}"


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONNECTED = "connected to Discord as Popple"  # what a gateway logs once the fake Discord has it
QUEUES = (*rabbitmq.TASK_QUEUES, rabbitmq.DEAD_LETTERS)  # what purge_queues empties


def procfile(root=ROOT):
    """The processes of the checkout at `root` (a benchmark runs an older one beside this one)."""
    return dict(line.split(": ", 1) for line in (Path(root) / "Procfile").read_text().splitlines() if line.strip())


def all_queues(root=ROOT):
    """What a worker that does everything consumes: every queue the checkout's Procfile workers do
    (an older checkout has no `answers`, and its workers would refuse it)."""
    queues = []
    for line in procfile(root).values():
        command = shlex.split(line)
        if "-Q" in command:
            queues += command[command.index("-Q") + 1].split(",")
    return ",".join(dict.fromkeys(queues))


PROCFILE = procfile()


def queued(name):
    """How many messages wait, ready, in the queue `name`."""
    with kombu.Connection(BROKER_URL) as connection:
        return connection.default_channel.queue_declare(name, passive=True).message_count


def purge_queues():
    with kombu.Connection(BROKER_URL) as connection:
        for name in QUEUES:
            channel = connection.channel()
            try:
                channel.queue_purge(name)
            except connection.channel_errors:
                pass  # not declared yet: nothing to purge
            finally:
                channel.close()


def mariadb_test_url():
    """The MariaDB test database that pytest-django created, as a URL for other processes."""
    db = settings.DATABASES["mariadb"]
    return f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['TEST']['NAME']}"


def reader_url(database_url):
    """The same database through the reply workers' account, which may only read (scripts/test
    makes it as deploy/mariadb/replies-account.sh does)."""
    parts = urlsplit(database_url)
    return parts._replace(netloc=f"popple-replies:popple-replies@{parts.hostname}:{parts.port}").geturl()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """Popple's processes against the fake Discord and the real services."""

    def __init__(self, fake, log_dir, database_url, root=ROOT, **variables):
        self.fake = fake
        self.log_dir = Path(log_dir)
        self.root = root  # the checkout the processes run from
        self.processes = {}
        self.workers = set()  # names of the Celery workers among the processes
        self.env = clean_env(
            DATABASE_URL=database_url,
            CELERY_BROKER_URL=broker_url("worker"),  # the gateway and Flower get their own below
            REDIS_URL=REDIS_URL,
            DJANGO_SECRET_KEY="end-to-end-tests-secret-key-0123456789abcdefghijklmnop",
            GATEWAY_OUTBOX_PATH=str(self.log_dir / "outbox-{shards}.sqlite3"),
            **fake.environment(),
            **variables,
        )

    def start(self, name, args, **variables):
        env = {**self.env, **{k: str(v) for k, v in variables.items()}}
        process = Process(name, args, env, self.log_dir, root=self.root)
        self.processes[name] = process.start()
        return process

    def worker(self, name, concurrency=8, queues=None, pool="threads"):
        """A Celery worker as the Procfile runs it (a pool of threads), unless told otherwise."""
        queues = queues or all_queues(self.root)
        process = self.start(
            name,
            [
                sys.executable, "-m", "celery", "-A", "poppleproject", "worker",
                "-Q", queues, "-c", str(concurrency), "-P", pool, "-n", f"{name}@%h",
                "--without-gossip", "--without-mingle", "-l", "INFO",
            ],
        )  # fmt: skip
        self.workers.add(name)
        process.wait_for_log(r"ready\.")
        return process

    def deployed(self, name, process, **variables):
        """A worker as the Procfile starts it (`worker` applies karma, `replies` posts replies, with
        the read-only database account compose gives it)."""
        if process == "replies":
            variables.setdefault("DATABASE_URL", reader_url(self.env["DATABASE_URL"]))
        command = shlex.split(procfile(self.root)[process])
        assert command[0] == "celery"
        command[command.index("-n") + 1] = f"{name}@%h"  # several per machine here
        started = self.start(name, [sys.executable, "-m", *command], **variables)
        self.workers.add(name)
        started.wait_for_log(r"ready\.")
        return started

    def beat(self, name="beat"):
        """Celery beat as the Procfile starts it, keeping its schedule in the log folder."""
        command = shlex.split(procfile(self.root)["beat"])
        command[command.index("--schedule") + 1] = str(self.log_dir / f"{name}-schedule")
        started = self.start(name, [sys.executable, "-m", *command], CELERY_BROKER_URL=broker_url("beat"))
        started.wait_for_log(r"beat: Starting")
        return started

    def gateway(self, name, **variables):
        variables.setdefault("CELERY_BROKER_URL", broker_url("gateway"))
        return self.start(name, [sys.executable, "manage.py", "rungateway"], **variables)

    def connected_gateway(self, name="gateway", **variables):
        """A gateway, once it has connected to the fake Discord (it hears chat from then on)."""
        process = self.gateway(name, **variables)
        process.wait_for_log(CONNECTED)
        return process

    def flower(self, port, **variables):
        process = self.start(
            "flower",
            [sys.executable, "manage.py", "runflower", "--port", str(port)],
            CELERY_BROKER_URL=broker_url("flower"),
            **variables,
        )
        process.wait_for_log("Connected to amqp")  # its event consumer is listening from here
        return process

    def stop(self):
        for process in self.processes.values():
            process.stop()

    def wait_idle(self, timeout=60):
        """Until every worker answers that it runs and holds no task, no task is queued and no reply
        is held for Discord's rate limits, twice in a row."""
        # A Celery app of its own: this process's Popple app has no broker (tasks run inline here);
        # a fresh connection each time: a pooled one may predate a broker restart.
        control = Celery(broker=BROKER_URL, set_as_current=False).control
        workers = sum(1 for name in self.workers if self.processes[name].popen.poll() is None)
        deadline = time.monotonic() + timeout
        quiet = 0
        shared = redis.Redis.from_url(REDIS_URL)
        with kombu.Connection(BROKER_URL) as connection:
            while time.monotonic() < deadline:
                inspect = control.inspect(connection=connection, timeout=0.5)
                active, reserved = inspect.active() or {}, inspect.reserved() or {}
                # A worker that does not answer is not idle: it may be too busy to.
                busy = len(active) < workers or len(reserved) < workers
                busy = busy or any(active.values()) or any(reserved.values())
                queued = 0
                for name in rabbitmq.TASK_QUEUES:
                    queued += connection.default_channel.queue_declare(name, passive=True).message_count
                queued += sum(shared.zcard(key) for key in shared.scan_iter("popple:*replies:due"))
                quiet = quiet + 1 if not busy and not queued else 0
                if quiet == 2:
                    return
                time.sleep(0.2)
        raise AssertionError(f"workers still busy after {timeout}s")
