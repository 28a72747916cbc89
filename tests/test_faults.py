"""Nothing lost, nothing counted twice: faults injected into a stream of 2,000 karma messages.

Each case runs the whole distributed path (fake Discord, gateway, RabbitMQ, two Celery workers,
MariaDB, Redis), breaks one part while messages flow, and counts what was sent, applied and
replied. The figures go to var/reports/reliability.md (scripts/publish-reports publishes them).
"""

import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from django.db import connections
from django.db.models import Count

from karma.models import Karma, LedgerEntry
from karma.replies import CHECK
from testkit.processes import ROOT, as_root

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

MESSAGES = 2000
RATE = 100  # messages per second: about half of what two workers apply on this machine
SERVERS = 8
SUBJECTS = ["alpha", "beta", "gamma", "(the build server)", "café", "🎉"]
COMMAND_EVERY = 50  # every 50th message is a command answered with a reaction
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
    expected: Counter = field(default_factory=Counter)  # (guild id, subject) -> karma
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
            changes = {s: self.rng.choice((1, -1)) for s in self.rng.sample(SUBJECTS, self.rng.randint(1, 3))}
            content = " ".join(f"{subject}{'++' if delta > 0 else '--'}" for subject, delta in changes.items())
            message_id = self.fake.send(guild, self.rng.choice(self.users), content)
            self.karma_messages[message_id] = len(changes)
            for subject, delta in changes.items():
                self.expected[(guild.id, subject.strip("()"))] += delta

    def logged(self, text):
        return sum(process.log().count(text) for process in self.stack.processes.values())

    def repeats(self):
        """Redeliveries made harmless so far: by the ledger, and by Discord (nonce, existing reaction)."""
        return self.logged("was applied before") + self.fake.nonce_replays + self.fake.reaction_repeats

    def answered_only_after(self, down, up):
        """Messages sent while a service was down, all of which were answered after it came back."""
        replied = {int(m.nonce.split(".")[0]): m.at for m in self.fake.messages if m.nonce}
        during = [m for m in self.karma_messages if down <= self.fake.sent_at[m] <= up]
        assert during, "no message was sent during the outage"
        assert all(replied[m] > up for m in during)
        return len(during)

    def join(self, timeout=300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stream did not finish sending"

    def settled(self):
        fake = self.fake
        return all(fake.replies_to(m) for m in self.karma_messages) and all(
            fake.reactions_to(m) for m in self.command_messages
        )


@pytest.fixture(scope="module")
def world(fake_discord):
    users = [fake_discord.add_user(f"member{i}") for i in range(40)]
    manager = fake_discord.add_user("manager")
    cases = {}
    for case in ("worker", "broker", "database", "discord", "websocket"):
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
    stack.worker("worker1")
    stack.worker("worker2")
    stack.gateway("gateway").wait_for_log("connected to Discord as Popple")
    yield stack
    write_report()


@pytest.fixture
def stream(world, fake_discord, stack, request):
    cases, users, manager = world
    return Stream(fake_discord, stack, cases[request.param], users, manager)


def service(name, action):
    as_root("service", name, action)


def settle_and_count(stack, stream, fault, started):
    fake = stream.fake
    stream.join()
    assert fake.wait_until(stream.settled, timeout=300, interval=0.2), "some messages were never answered"
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
        "redelivered": stream.logged("redelivered by the broker") - stream.redelivered_before,
        "repeats absorbed": stream.repeats() - stream.repeats_before,
        "seconds": round(time.monotonic() - started, 1),
    }
    _results.append(result)
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["karma exact"]
    assert all(n == 1 for n in replies.values())
    assert all(r == [CHECK] for r in reactions.values())
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
    workers = {name: stack.processes[name] for name in ("worker1", "worker2")}
    seen = {name: len(worker.log()) for name, worker in workers.items()}
    stream.start()
    time.sleep(4)
    service("rabbitmq-server", "stop")
    down, down_at = time.monotonic(), time.perf_counter()
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
    settle_and_count(stack, stream, "RabbitMQ stopped 10 s; gateway SIGKILLed and restarted meanwhile", started)
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
    connections["mariadb"].close()  # this process's own connection did not survive the restart
    settle_and_count(stack, stream, "MariaDB stopped 20 s", started)
    stream.answered_only_after(down_at, up_at)


@pytest.mark.parametrize("stream", ["discord"], indirect=True)
def test_discord_rate_limits_and_errors_for_ten_seconds(stack, stream):
    started = time.monotonic()
    stream.start()
    time.sleep(4)
    stream.fake.fail_rest((429, 502), seconds=10, retry_after=1.0)
    time.sleep(5)
    stream.fake.fail_rest(429, seconds=5, retry_after=2.0, is_global=True)
    settle_and_count(stack, stream, "Discord answers 429 and 502 for 10 s (global 429 half of it)", started)
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


def write_report():
    if len(_results) < 5:
        return  # a partial run does not replace the report
    columns = ["sent", "applied", "lost", "duplicated", "replies posted", "reactions posted", "karma exact",
               "redelivered", "repeats absorbed", "seconds"]  # fmt: skip
    lines = [
        "# Reliability report",
        "",
        "Written by `tests/test_faults.py` (run it with `scripts/test tests/test_faults.py`, then",
        "`scripts/publish-reports` to copy it here): each row is",
        f"a stream of {MESSAGES} messages at {RATE}/s over {SERVERS} servers through the real processes",
        f"(fake Discord, gateway, RabbitMQ, two Celery workers, MariaDB, Redis); one in {COMMAND_EVERY}",
        "is a command answered with a reaction, the others change one to three subjects' karma.",
        "*Applied* counts karma messages whose every change is in the ledger; *duplicated* counts",
        "changes applied twice and replies posted twice; *karma exact* compares each subject's final",
        "karma with the sum of what was sent. *Redelivered* counts karma tasks RabbitMQ delivered",
        "again (their first delivery was never acknowledged); *repeats absorbed* counts redeliveries",
        "made harmless: messages the ledger had already applied, and posts Discord answered as repeats",
        "(same nonce, or a reaction already there).",
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
