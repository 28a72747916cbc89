"""The wall of Discord's global limit: many servers' announcements at five times the bot's budget,
then at half of it; this checkout against the code before issue 26, in the same run.

    python bench/wall.py                                   # 20,000 servers, 120 s peak, 60 s after
    python bench/wall.py --servers 2000 --peak 30 --after 30

Reply tasks are published straight to the `replies` queue (answers to `answers`, where the code has
that queue), as karma workers publish them (the wall is the reply side's; bench/pipeline.py measures
the karma side), to the reply worker the Procfile starts. The fake Discord enforces 50 requests/s in
all and 5 messages per 5 s per channel, with 429s beyond. Each server has one channel, except the
busy one, which sends a third of all announcements over 50 channels (in one channel, Discord's
bucket alone would hold it to one message a second: the global budget's fairness would not be
tested). Two answers to commands a second go to quiet servers.

Reports, per side: answers' latency (publish to Discord), announcement lines posted within
ANNOUNCE_MAX_DELAY of their publishing, later, merged late or dropped, what share of the posts the
busy server had during the peak, Redis's memory at the peak's end and after, the seconds the
mailbox took to drain after the peak (to at most 5 channels holding replies; input stops after
the half-limit phase), and 429s. RabbitMQ, MariaDB and Redis must be running
(scripts/test starts them). Prints a table and writes var/bench/wall.md.
"""

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from celery import Celery  # noqa: E402

from bench.burst import DATABASE, checkout  # noqa: E402
from bench.pipeline import fresh_database  # noqa: E402
from bench.report import markdown_table, report  # noqa: E402
from poppleproject.rabbitmq import task_queues  # noqa: E402
from testkit.fakediscord import FakeDiscord  # noqa: E402
from testkit.metrics import scrape, value  # noqa: E402
from testkit.stack import BROKER_URL, REDIS_URL, Stack, all_queues, free_port, purge_queues  # noqa: E402

BEFORE = "156facd"  # the last commit before issue 26 (answers first, shares, staleness)
GLOBAL_LIMIT = 50
MAX_DELAY = 60  # ANNOUNCE_MAX_DELAY's default
BUSY_CHANNELS = 50
ANSWERS_PER_SECOND = 2
DRAIN_WAIT = 120  # seconds the mailbox is given to drain once the input stops
LINE = re.compile(r"^(s\d+) has (\d+) karma\.$")
ANSWER = re.compile(r"^answer (\d+)\.$")


class Wall:
    """The servers, what was published to them and when."""

    def __init__(self, servers):
        self.servers = servers
        base = 1_600_000_000_000_000_000
        # Server n's channel is base + n (the busy server, 0, has BUSY_CHANNELS of them).
        self.channels = {0: [base + 10_000_000 + k for k in range(BUSY_CHANNELS)]}
        self.channels.update({n: [base + n] for n in range(1, servers)})
        self.channel_of = {channel: n for n, channels in self.channels.items() for channel in channels}
        self.versions = dict.fromkeys(range(servers), 0)
        self.published = {}  # (subject, version) -> perf_counter when published
        self.answers = {}  # message id -> perf_counter when published
        self.message_id = base + 100_000_000

    def announcement(self, server):
        self.versions[server] += 1
        version, subject = self.versions[server], f"s{server}"
        self.message_id += 1
        channel = random.choice(self.channels[server])
        self.published[(subject, version)] = time.perf_counter()
        line = [f"{subject} has {version} karma.", subject, version]
        return {"channel_id": channel, "message_id": self.message_id, "lines": [line], "joiner": " ",
                "reaction": None, "guild_id": 1_000_000 + server}  # fmt: skip

    def answer(self):
        server = random.randrange(1, self.servers)
        self.message_id += 1
        self.answers[self.message_id] = time.perf_counter()
        return {"channel_id": self.channels[server][0], "message_id": self.message_id,
                "lines": [[f"answer {self.message_id}.", None, 0]], "joiner": " ", "reaction": None,
                "guild_id": 1_000_000 + server}  # fmt: skip


def publish(wall, rate, seconds, publisher, answer_to):
    """Announcements at `rate` a second for `seconds` (a third to the busy server), and answers,
    published as `answer_to` says: (task, queue)."""
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            server = 0 if sent % 3 == 0 else random.randrange(1, wall.servers)
            publisher.send_task("karma.send_reply", args=[wall.announcement(server)], queue="replies")
            sent += 1
            if sent % (rate // ANSWERS_PER_SECOND or 1) == 0:
                task, queue = answer_to
                publisher.send_task(task, args=[wall.answer()], queue=queue)
        time.sleep(0.005)
    return sent


def held_channels(client):
    return sum(client.zcard(key) for key in client.scan_iter("*replies:due"))


def held_replies(client):
    return sum(client.hlen(key) for key in client.scan_iter("*replies:held:*", count=1000))


def run(root, wall_size, peak, after, label):
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    purge_queues()
    fresh_database(DATABASE, root)
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    stack = Stack(fake, tempfile.mkdtemp(prefix="popple-wall-"), DATABASE, root=root)
    port = free_port()
    publisher = Celery(broker=BROKER_URL)
    publisher.conf.task_queues = task_queues()
    wall = Wall(wall_size)
    # As that code's karma workers publish an answer: to a queue of its own, once its Procfile's
    # workers take one.
    has_answers = "answers" in all_queues(root).split(",")
    answer_to = ("karma.send_answer", "answers") if has_answers else ("karma.send_reply", "replies")
    try:
        stack.deployed("replies", "replies", METRICS_PORT=str(port))
        memory_before = client.info("memory")["used_memory"]
        print(f"{label}: peak, {GLOBAL_LIMIT * 5}/s for {peak} s ...", flush=True)
        peak_started = time.perf_counter()
        sampler = Sampler(client)
        sampler.start()
        publish(wall, GLOBAL_LIMIT * 5, peak, publisher, answer_to)
        peak_ended = time.perf_counter()
        memory_peak = sampler.peak
        held_at_peak = held_replies(client)
        print(f"{label}: after, {GLOBAL_LIMIT // 2}/s for {after} s ...", flush=True)
        drained = threading.Event()
        drain = {}

        def watch():
            while not drained.is_set():
                if held_channels(client) <= GLOBAL_LIMIT // 10 and "seconds" not in drain:
                    drain["seconds"] = round(time.perf_counter() - peak_ended, 1)
                time.sleep(0.5)

        watcher = threading.Thread(target=watch)
        watcher.start()
        publish(wall, GLOBAL_LIMIT // 2, after, publisher, answer_to)
        still_held = held_channels(client)
        memory_after = client.info("memory")["used_memory"]
        deadline = time.monotonic() + DRAIN_WAIT  # no more input: how long until the mailbox drains
        while "seconds" not in drain and time.monotonic() < deadline:
            time.sleep(0.5)
        drained.set()
        watcher.join()
        sampler.stop()
        samples = scrape(port)
        return figures(wall, fake, samples, peak_started, peak_ended, after) | {
            "Redis memory used before, MB": round(memory_before / 1e6, 1),
            "Redis memory at the peak, MB": round(memory_peak / 1e6, 1),
            "Redis memory after, MB": round(memory_after / 1e6, 1),
            "replies held at the peak's end": held_at_peak,
            "Redis bytes per held reply": round((memory_peak - memory_before) / max(held_at_peak, 1)),
            "seconds to drain after the peak": drain.get("seconds", f"> {after + DRAIN_WAIT}"),
            "channels holding at the end of the input": still_held,
            "429 answers": fake.rate_limit_violations(),
        }
    finally:
        stack.stop()
        fake.stop()


class Sampler(threading.Thread):
    """Redis's peak memory, sampled twice a second."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.peak, self._done = client, 0, threading.Event()

    def run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, self.client.info("memory")["used_memory"])
            time.sleep(0.5)

    def stop(self):
        self._done.set()
        self.join()


def figures(wall, fake, samples, peak_started, peak_ended, after):
    answered, in_time, later, busy_posts, posts_in_peak = {}, 0, 0, 0, 0
    for message in list(fake.messages):
        if peak_started <= message.at <= peak_ended:
            posts_in_peak += 1
            busy_posts += wall.channel_of.get(message.channel_id) == 0
        for text in message.content.split("\n"):
            if found := ANSWER.match(text):
                answered.setdefault(int(found[1]), message.at - wall.answers[int(found[1])])
            found = LINE.match(text)
            if found:
                waited = message.at - wall.published[(found[1], int(found[2]))]
                in_time += waited <= MAX_DELAY
                later += waited > MAX_DELAY
    latencies = sorted(answered.values())
    quantile = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    merged, dropped = (value(samples, "popple_announcements_late_total", outcome=o) for o in ("merged", "dropped"))
    return {
        "announcements published": len(wall.published),
        "answers published / posted": f"{len(wall.answers)} / {len(answered)}",
        "answer latency p50 / p99 / max, s": f"{quantile[49]:.2f} / {quantile[98]:.2f} / "
        f"{latencies[-1] if latencies else 0:.2f}",
        f"announcement lines posted within {MAX_DELAY} s": in_time,
        f"announcement lines posted later than {MAX_DELAY} s": later,
        "late lines merged / dropped (metric)": f"{merged:.0f} / {dropped:.0f}",
        "busy server's share of posts in the peak (a third of the demand)": f"{busy_posts / max(posts_in_peak, 1):.0%}",
        "posts during the peak": posts_in_peak,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=20_000)
    parser.add_argument("--peak", type=int, default=120, help="seconds at five times the global limit")
    parser.add_argument("--after", type=int, default=60, help="seconds at half the global limit")
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_READ_DOT_ENV_FILE", "false")
    sides = {f"before ({args.before})": checkout(args.before), "this checkout": ROOT}
    results = {label: run(root, args.servers, args.peak, args.after, label) for label, root in sides.items()}
    keys = list(results["this checkout"])
    rows = [[key, *(results[label][key] for label in sides)] for key in keys]
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"{args.servers:,} servers, announcements at {GLOBAL_LIMIT * 5}/s for {args.peak} s (a third from one "
            f"server's {BUSY_CHANNELS} channels) then {GLOBAL_LIMIT // 2}/s for {args.after} s, and "
            f"{ANSWERS_PER_SECOND} answers/s, to the Procfile's reply worker against a fake Discord enforcing "
            f"{GLOBAL_LIMIT} requests/s and 5 messages per 5 s per channel:\n\n" + markdown_table(["", *sides], rows),
        ]
    )
    report("wall", text)


if __name__ == "__main__":
    main()
