"""Nothing lost, nothing counted twice, nothing said out of order: faults injected into a stream of
2,000 karma messages.

Each case runs the whole distributed path (fake Discord, gateway, RabbitMQ, the Procfile's workers:
two that apply karma and two that post replies, MariaDB, Redis), breaks one part while messages
flow, and counts what was sent, applied and replied, and checks what people saw: the stream only
gives `++`, so each channel's announced values of a subject only rise, and its last announcement
is the final value. The figures go to var/reports/reliability.md (scripts/publish-reports
publishes them).
"""

import itertools
import random
import signal
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from django.db import connections
from django.db.models import Count

from karma.models import Karma, LedgerEntry
from karma.replies import CHECK
from testkit import answers
from testkit.processes import ROOT, as_root

pytestmark = [pytest.mark.e2e, pytest.mark.exclusive, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

MESSAGES = 2000
RATE = 100  # messages per second: about half of what two workers apply on this machine
SERVERS = 8
SUBJECTS = ["alpha", "beta", "gamma", "(the build server)", "café", "🎉"]
COMMAND_EVERY = 50  # every 50th message is a command answered with a reaction
PARTITION_SECONDS = 30
# A run writes its report here (ignored by git); scripts/publish-reports copies it to docs/reliability.md.
REPORT = ROOT / "var" / "reports" / "reliability.md"

_results = []


@dataclass
class Stream:
    """Karma messages from many users over several servers, at a steady rate, from a thread."""

    fake: object
    stack: object
    guilds: list
    users: list
    manager: int
    expected: Counter = field(default_factory=Counter)  # (guild id, subject) -> karma, as shown
    karma_messages: dict = field(default_factory=dict)  # message id -> number of subjects
    command_messages: list = field(default_factory=list)
    running: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.running.set()
        self.thread = threading.Thread(target=self._send_all, daemon=True)
        self.rng = random.Random(2026)

    def start(self):
        self.started = time.monotonic()
        self.repeats_before = self.repeats()
        self.redelivered_before = self.logged("redelivered by the broker")
        self.thread.start()
        return self

    def pause(self):
        self.running.clear()

    def resume(self):
        self.running.set()

    def _send_all(self):
        for n in range(MESSAGES):
            self.running.wait()
            time.sleep(max(0.0, self.started + n / RATE - time.monotonic()))
            guild = self.rng.choice(self.guilds)
            if n % COMMAND_EVERY == COMMAND_EVERY - 1:
                self.command_messages.append(self.fake.send(guild, self.manager, "@Popple announce on"))
                continue
            # Only `++`: what each channel is told of a subject must only rise.
            subjects = self.rng.sample(SUBJECTS, self.rng.randint(1, 3))
            message_id = self.fake.send(guild, self.rng.choice(self.users), " ".join(f"{s}++" for s in subjects))
            self.karma_messages[message_id] = len(subjects)
            for subject in subjects:
                self.expected[(guild.id, subject.strip("()"))] += 1

    def logged(self, text):
        return sum(process.log().count(text) for process in self.stack.processes.values())

    def repeats(self):
        """Redeliveries made harmless so far: by the ledger, and by Discord (nonce, existing reaction)."""
        return self.logged("was applied before") + self.fake.nonce_replays + self.fake.reaction_repeats

    def answered_only_after(self, down, up):
        """Messages sent while a service was down: those answered (a reply that the channel was
        told a newer value of is left out) were answered after it came back."""
        replied = {int(m.nonce.split(".")[0]): m.at for m in self.fake.messages if m.nonce}
        during = [m for m in self.karma_messages if down <= self.fake.sent_at[m] <= up]
        assert during, "no message was sent during the outage"
        answered = [m for m in during if m in replied]
        assert answered, "no message sent during the outage was answered"
        assert all(replied[m] > up for m in answered)
        return len(during)

    def join(self, timeout=300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stream did not finish sending"

    def announced(self):
        """{(guild id, subject): the values its channel was told, in order}."""
        channels = {guild.channel_ids[0]: guild.id for guild in self.guilds}
        said = {}
        for message in self.fake.messages:
            if message.channel_id in channels:
                # One sentence of an announcement: names may hold spaces.
                for subject, value in answers.announced(message.content, name=r"\S.*?", alone=True):
                    said.setdefault((channels[message.channel_id], subject), []).append(int(value))
        return said

    def told_the_final_values(self):
        said = self.announced()
        return all(said.get(key, [None])[-1] == value for key, value in self.expected.items())

    def settled(self):
        return self.told_the_final_values() and all(self.fake.reactions_to(m) for m in self.command_messages)


@pytest.fixture(scope="module")
def world(fake_discord):
    users = [fake_discord.add_user(f"member{i}") for i in range(40)]
    manager = fake_discord.add_user("manager")
    cases = {}
    for case in ("worker", "broker", "database", "discord", "websocket", "redis", "broker-lost", "database-lost"):
        guilds = [fake_discord.add_guild(f"{case}-{i}") for i in range(SERVERS)]
        for guild in guilds:
            for user in users:
                fake_discord.add_member(guild, user)
            fake_discord.add_member(guild, manager, manager=True)
        cases[case] = guilds
    return cases, users, manager


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    for name in ("worker1", "worker2"):
        stack.deployed(name, "worker")
    for name in ("replies1", "replies2"):
        stack.deployed(name, "replies")
    stack.connected_gateway()
    yield stack
    write_report()


@pytest.fixture
def stream(world, fake_discord, stack, request):
    cases, users, manager = world
    return Stream(fake_discord, stack, cases[request.param], users, manager)


def service(name, action):
    as_root("service", name, action)


def settle_and_count(stack, stream, fault, started, healed=None):
    """Wait until every channel was told the final values, count, and check. `healed`: when the
    fault ended (time.monotonic), to report how long the backlog took to drain."""
    fake = stream.fake
    stream.join()
    assert fake.wait_until(stream.settled, timeout=300, interval=0.2), "some channels were never told the final values"
    drained = time.monotonic()
    stack.wait_idle(timeout=120)

    guild_ids = {guild.id for guild in stream.guilds}
    ledger = LedgerEntry.objects.using("mariadb").filter(guild_id__in=guild_ids)
    rows = Counter(dict(ledger.values_list("message_id").annotate(n=Count("id"))))
    applied = sum(1 for m, subjects in stream.karma_messages.items() if rows.get(m) == subjects)
    over_applied = sum(max(0, rows.get(m, 0) - subjects) for m, subjects in stream.karma_messages.items())
    karma = {
        (row.guild_id, row.subject): row.karma for row in Karma.objects.using("mariadb").filter(guild_id__in=guild_ids)
    }
    replies = {m: len(fake.replies_to(m)) for m in stream.karma_messages}
    reactions = {m: fake.reactions_to(m) for m in stream.command_messages}
    said = stream.announced()
    went_back = {key: [(a, b) for a, b in itertools.pairwise(values) if b < a] for key, values in said.items()}
    result = {
        "fault": fault,
        "sent": len(stream.karma_messages) + len(stream.command_messages),
        "karma messages": len(stream.karma_messages),
        "applied": applied,
        "lost": len(stream.karma_messages) - applied,
        "duplicated": over_applied + sum(max(0, n - 1) for n in replies.values()),
        "replies posted": sum(replies.values()),
        "reactions posted": sum(len(r) for r in reactions.values()),
        "karma exact": all(karma.get(key, 0) == value for key, value in stream.expected.items()),
        "announced values that went back": sum(len(pairs) for pairs in went_back.values()),
        "last said is final": stream.told_the_final_values(),
        "drained after s": round(drained - healed, 1) if healed else "",
        "redelivered": stream.logged("redelivered by the broker") - stream.redelivered_before,
        "repeats absorbed": stream.repeats() - stream.repeats_before,
        "seconds": round(time.monotonic() - started, 1),
    }
    _results.append(result)
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["karma exact"]
    assert {key: pairs for key, pairs in went_back.items() if pairs} == {}
    assert result["last said is final"]
    # At most one reply each: a reply whose values the channel was told already is left out.
    assert all(n <= 1 for n in replies.values())
    assert all(r == [CHECK] for r in reactions.values())
    # Each process said what went away in a line: a traceback marks a bug (poppleproject/logfilters.py).
    tracebacks = {name: n for name, process in stack.processes.items() if (n := process.log().count("Traceback"))}
    assert tracebacks == {}
    return result


@pytest.mark.parametrize("stream", ["worker"], indirect=True)
def test_worker_killed_three_times(stack, stream):
    started = time.monotonic()
    stream.start()
    for moment in sorted(random.Random(7).uniform(2, MESSAGES / RATE - 2) for _ in range(3)):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        worker = stack.processes["worker1"]
        worker.kill()  # SIGKILL, children included: no goodbye to RabbitMQ
        assert worker.popen.returncode == -signal.SIGKILL
        stack.worker("worker1")
    settle_and_count(stack, stream, "Worker SIGKILLed 3 times, restarted", started)


@pytest.mark.parametrize("stream", ["broker"], indirect=True)
def test_broker_stopped_for_ten_seconds(stack, stream):
    started = time.monotonic()
    gateway = stack.processes["gateway"]
    workers = {name: stack.processes[name] for name in ("worker1", "worker2", "replies1", "replies2")}
    seen = {name: len(worker.log()) for name, worker in workers.items()}
    stream.start()
    time.sleep(4)
    # Stopping RabbitMQ can take longer than what is left of the stream on a busy machine: the
    # stream waits for it, then sends what it owes at once.
    stream.pause()
    service("rabbitmq-server", "stop")
    down, down_at = time.monotonic(), time.perf_counter()
    stream.resume()
    time.sleep(3)
    # Kill the gateway while its outbox holds messages, and start another in its place.
    stream.pause()
    time.sleep(0.5)
    gateway.kill()
    gateway = stack.gateway("gateway")
    gateway.wait_for_log("outbox: .* messages stored by an earlier run will be published")
    gateway.wait_for_log("connected to Discord as Popple")
    stream.resume()
    # Ten seconds in all, and at least two after the new gateway is up (a loaded machine may take
    # most of the ten to start it): messages are sent to it while the broker is away.
    time.sleep(max(2.0, down + 10 - time.monotonic()))
    up_at = time.perf_counter()
    service("rabbitmq-server", "start")
    healed = time.monotonic()
    settle_and_count(stack, stream, "RabbitMQ stopped 10 s; gateway SIGKILLed and restarted meanwhile", started, healed)
    assert "outbox: broker reachable again" in gateway.log()
    stream.answered_only_after(down_at, up_at)
    for name, worker in workers.items():
        # Lost at the stop (and possibly again at once, when RabbitMQ drops a connection it took
        # while still starting); never cut later for missed heartbeats, which is how a worker that
        # hung after reconnecting shows (Celery's prefetch restoration did that on the threads pool).
        since = worker.log()[seen[name] :]
        assert "Connection to broker lost" in since, name
        assert "Too many heartbeats missed" not in since, name


@pytest.mark.parametrize("stream", ["database"], indirect=True)
def test_database_stopped_for_twenty_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    service("mariadb", "stop")
    down_at = time.perf_counter()
    time.sleep(20)
    up_at = time.perf_counter()
    service("mariadb", "start")
    healed = time.monotonic()
    connections["mariadb"].close()  # this process's own connection did not survive the restart
    settle_and_count(stack, stream, "MariaDB stopped 20 s", started, healed)
    stream.answered_only_after(down_at, up_at)


@pytest.mark.parametrize("stream", ["discord"], indirect=True)
def test_discord_rate_limits_and_errors_for_ten_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    stream.fake.fail_rest((429, 502), seconds=10, retry_after=1.0)
    time.sleep(5)
    stream.fake.fail_rest(429, seconds=5, retry_after=2.0, is_global=True)
    healed = time.monotonic() + 5
    settle_and_count(stack, stream, "Discord answers 429 and 502 for 10 s (global 429 half of it)", started, healed)
    assert any(status == 429 for _, _, status in stream.fake.rest_log)
    assert any(status == 502 for _, _, status in stream.fake.rest_log)


@pytest.mark.parametrize("stream", ["websocket"], indirect=True)
def test_gateway_connection_dropped(stack, stream):
    started = time.monotonic()
    gateway = stack.processes["gateway"]
    resumed_before = gateway.log().count("resumed its session")
    stream.start()
    for moment in (4, 9, 14):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        stream.fake.drop_connections()
    settle_and_count(stack, stream, "Gateway websocket dropped 3 times mid-stream", started)
    assert gateway.log().count("resumed its session") == resumed_before + 3


@pytest.mark.parametrize("stream", ["redis"], indirect=True)
def test_redis_stopped_for_ten_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    service("redis-server", "stop")
    time.sleep(10)
    service("redis-server", "start")
    healed = time.monotonic()
    settle_and_count(stack, stream, "Redis stopped 10 s", started, healed)


@contextmanager
def partitioned(port):
    """Packets to and from `port` on this machine vanish (not refused: nothing answers at all)."""
    rules = [["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"],
             ["INPUT", "-p", "tcp", "--sport", str(port), "-j", "DROP"]]  # fmt: skip
    for rule in rules:
        as_root("iptables", "-I", *rule)
    try:
        yield
    finally:
        for rule in rules:
            as_root("iptables", "-D", *rule)


@pytest.mark.parametrize("stream", ["broker-lost"], indirect=True)
def test_broker_partitioned_for_thirty_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    with partitioned(5672):
        time.sleep(PARTITION_SECONDS)
    healed = time.monotonic()
    settle_and_count(stack, stream, f"RabbitMQ partitioned {PARTITION_SECONDS} s (packets dropped)", started, healed)


@pytest.mark.parametrize("stream", ["database-lost"], indirect=True)
def test_database_partitioned_for_thirty_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    with partitioned(3306):
        time.sleep(PARTITION_SECONDS)
    healed = time.monotonic()
    settle_and_count(stack, stream, f"MariaDB partitioned {PARTITION_SECONDS} s (packets dropped)", started, healed)


def write_report():
    if len(_results) < 8:
        return  # a partial run does not replace the report
    columns = ["sent", "applied", "lost", "duplicated", "replies posted", "reactions posted", "karma exact",
               "announced values that went back", "last said is final", "redelivered", "repeats absorbed",
               "seconds", "drained after s"]  # fmt: skip
    lines = [
        "# Reliability report",
        "",
        "Written by `tests/test_faults.py` (run it with `scripts/test tests/test_faults.py`, then",
        "`scripts/publish-reports` to copy it here): each row is",
        f"a stream of {MESSAGES} messages at {RATE}/s over {SERVERS} servers through the real processes",
        "(fake Discord, gateway, RabbitMQ, the Procfile's two karma and two reply workers, MariaDB,",
        f"Redis); one in {COMMAND_EVERY} is a command answered with a reaction, the others give one to",
        "three subjects `++`.",
        "*Applied* counts karma messages whose every change is in the ledger; *duplicated* counts",
        "changes applied twice and replies posted twice; *karma exact* compares each subject's final",
        "karma with the sum of what was sent. *Redelivered* counts karma tasks RabbitMQ delivered",
        "again (their first delivery was never acknowledged); *repeats absorbed* counts redeliveries",
        "made harmless: messages the ledger had already applied, and posts Discord answered as repeats",
        "(same nonce, or a reaction already there). *Announced values that went back* counts, over",
        "every channel and subject, announcements lower than the one before (the stream gives only",
        "`++`, so any is a contradiction people would see); *last said is final*: each channel's last",
        "announcement of each subject is its final karma. A reply whose values its channel was told",
        "already (in newer versions) is left out, so *replies posted* may be fewer than the karma",
        "messages. *Drained after s*: from the end of the fault until every channel was told the",
        "final values. Partitions drop the packets of one port with iptables: nothing is refused, the",
        "connections just go silent.",
        "",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "| Fault | " + " | ".join(c.capitalize() for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for result in _results:
        cells = ["yes" if v is True else "no" if v is False else str(v) for v in (result[c] for c in columns)]
        lines.append(f"| {result['fault']} | " + " | ".join(cells) + " |")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
