"""What one karma message costs, process by process: CPU, SQL statements, Redis round trips and
publishes, next to messages/s and the same run's bare two-hop Celery ceilings.

    python bench/costs.py                          # 2,000 messages, best of two turns
    python bench/costs.py --messages 500 --turns 1
    python bench/costs.py --profile                # and py-spy flame graphs of each kind of process
    python bench/costs.py --reactions 0            # without the reactions' turn (1,000 by default)

The Procfile's deployment (two karma workers, two reply workers, a gateway), as bench/ordering.py
starts it, each process serving its metrics (monitoring/metrics.py): the statements, round trips
and task publishes are what the processes counted themselves, read before and after the burst;
RabbitMQ's publishes, by exchange, are its own counts for the tests' vhost (task events go to
`celeryev`). So a feature that adds a query, a Redis call or a publish to each message shows in
its own run. The ceilings: bench/ceilings.py's two-hop no-op, on quorum queues (as Popple's) and
on classic ones. RabbitMQ, MariaDB and Redis must be running (scripts/test starts them); the
benchmark empties the tests' Redis database and queues. Writes var/bench/costs.md (and, with
--profile, var/bench/profiles/*.svg and what they rank first); scripts/publish-reports copies the
table into bench/README.md. After the messages, the same deployment takes a burst of reaction
events (--reactions), measured the same way, per event next to a message's.
"""

import argparse
import collections
import json
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench import ceilings  # noqa: E402
from bench.burst import checkout  # noqa: E402
from bench.ordering import ProcfileDeployment  # noqa: E402
from bench.pipeline import DATABASE, World, saturate, set_rules  # noqa: E402
from bench.report import RESULTS, cpu_seconds, markdown_table, mysql_params, pids_of, report  # noqa: E402
from testkit.stack import VHOST, free_port  # noqa: E402

MANAGEMENT = "http://127.0.0.1:15672/api"  # RabbitMQ's management API, as scripts/test enables it
KINDS = {"gateway": ("gateway",), "karma workers": ("karma1", "karma2"), "reply workers": ("replies1", "replies2")}
COUNTERS = {
    "SQL statements": "popple_sql_queries_total",
    "Redis round trips": "popple_redis_round_trips_total",
    "tasks published": "popple_tasks_published_total",
}
PROFILES = RESULTS / "profiles"


class MeteredDeployment(ProcfileDeployment):
    """The Procfile's processes of a checkout, each serving its metrics on a port of its own (an
    older checkout may count fewer of them: its figures say 0)."""

    def __init__(self, world, root=ROOT):
        super().__init__(world, root)
        self.ports = {name: free_port() for names in KINDS.values() for name in names}

    def variables(self, name):
        return {"METRICS_PORT": self.ports[name]}

    def cpu(self):
        pids = {name: process.popen.pid for name, process in self.stack.processes.items()}
        return {
            **{kind: cpu_seconds([pids[name] for name in names]) for kind, names in KINDS.items()},
            "RabbitMQ": cpu_seconds(pids_of("beam.smp")),
            "MariaDB": cpu_seconds(pids_of("mariadbd")),
            "Redis": cpu_seconds(pids_of("redis-server")),
        }

    def counts(self):
        """{(what, kind of process): total so far}, from each process's /metrics."""
        totals = collections.Counter()
        for kind, names in KINDS.items():
            for name in names:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=10) as response:
                    text = response.read().decode()
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        for what, metric in COUNTERS.items():
                            if sample.name == metric:
                                totals[what, kind] += sample.value
        return totals


def published_by_exchange():
    """{exchange: messages published to it so far} on the tests' vhost, as RabbitMQ counts them.
    RabbitMQ updates these every 5 s (collect_statistics_interval): read after a pause."""
    request = urllib.request.Request(f"{MANAGEMENT}/exchanges/{VHOST}?columns=name,message_stats")
    request.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")  # guest:guest, as scripts/test leaves it
    with urllib.request.urlopen(request, timeout=10) as response:
        exchanges = json.load(response)
    return {e["name"] or "(default)": e.get("message_stats", {}).get("publish_in", 0) for e in exchanges}


class Profiler:
    """py-spy recording each kind of process's first process while the burst runs: a flame graph
    (SVG) to look at, and the same samples as collapsed stacks to rank functions by."""

    def __init__(self, deployment):
        self.deployment = deployment
        self.recorders = []

    def __enter__(self):
        PROFILES.mkdir(parents=True, exist_ok=True)
        for kind, names in KINDS.items():
            pid = self.deployment.stack.processes[names[0]].popen.pid
            slug = kind.replace(" ", "-")
            for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
                # --gil: only samples of a thread holding the GIL, i.e. running Python (threads
                # waiting on a socket hold none): a CPU profile rather than one of waits.
                output = PROFILES / f"{slug}.{suffix}"
                # 500 samples a second: at py-spy's default 100, a burst of a few seconds gives a
                # few hundred samples that hold the GIL, too few to rank by.
                command = [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking", "--gil",
                           "--rate", "500", "--pid", str(pid), "--format", fmt, "--output", str(output)]  # fmt: skip
                self.recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        time.sleep(1)  # py-spy attaches
        return self

    def __exit__(self, *exc):
        for recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for recorder in self.recorders:
            recorder.wait(timeout=60)


# Frames on nearly every stack of a worker or the outbox thread, which rank nothing.
WRAPPERS = ("threading.py", "concurrent/futures/thread.py", "celery/app/trace.py", "celery/app/autoretry.py",
            "celery/concurrency/base.py")  # fmt: skip


def ranked(path, top=15):
    """The functions with the most samples in a collapsed-stacks file (py-spy's raw format), as a
    share of all samples: on the stack at all (a sample counted once per function however deep it
    recurses), and running themselves (the innermost frame)."""
    inclusive, own, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        total += int(count)
        frames = [_function(frame) for frame in stack.split(";")]
        for frame in set(frames):
            if not frame.endswith(tuple(f"({wrapper})" for wrapper in WRAPPERS)):
                inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    if not total:
        return []
    share = [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common(top)]
    running = [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)]
    return [[*a, *b] for a, b in zip(share, running, strict=False)]


def _function(frame):
    """ "name (path/file.py:123)" -> "name (path/file.py)": a function, whatever line it is on."""
    name, _, where = frame.rpartition(" (")
    return f"{name} ({where.split(':')[0].rstrip(')')})" if name else frame


def measure(world, messages, profile, root=ROOT, reactions=0):
    with MeteredDeployment(world, root) as deployment:
        row = metered(deployment, messages, lambda: saturate(world, deployment, messages), profile)
        if reactions:
            row["reactions"] = metered(deployment, reactions, lambda: react(world, deployment, reactions))
    return row


def metered(deployment, count, burst, profile=False):
    """burst()'s figures, and what the processes counted meanwhile, per message (or event)."""
    counts_before, published_before = deployment.counts(), published_by_exchange()
    if profile:
        with Profiler(deployment):
            row = burst()
    else:
        row = burst()
    time.sleep(6)  # RabbitMQ's statistics catch up
    counts_after, published_after = deployment.counts(), published_by_exchange()
    row["per message"] = {
        f"{what}, {kind}": round((counts_after[what, kind] - counts_before[what, kind]) / count, 2)
        for what in COUNTERS
        for kind in KINDS
    }
    row["AMQP publishes per message"] = {
        exchange: round((total - published_before.get(exchange, 0)) / count, 2)
        for exchange, total in published_after.items()
        if total - published_before.get(exchange, 0)
    }
    return row


def applied_reactions():
    import MySQLdb

    connection = MySQLdb.connect(**mysql_params(DATABASE))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM karma_ledgerentry WHERE source = 'react'")
        return cursor.fetchone()[0]
    finally:
        connection.close()


def react(world, deployment, count):
    """`count` 👍 reactions, each by someone else to another's recent message, as fast as the fake
    sends them, on servers that count 👍: from the first to the last reply, as saturate() times
    messages (a reply whose value a newer one said is left out, as there)."""
    set_rules(world, None, reactions='["👍"]', database=DATABASE)
    rng = random.Random(23)
    posts = [world.send("a message worth a reaction") for _ in range(max(count // 20, 1))]  # dropped as chat
    deployment.stack.wait_idle()
    pairs = set()
    while len(pairs) < count:
        post = rng.choice(posts)
        author = int(world.fake.sent[post]["author"]["id"])
        pairs.add((post, rng.choice([user for user in world.users if user != author])))
    told = len(world.fake.messages)
    cpu_before = deployment.cpu()
    started = time.perf_counter()
    for post, user in sorted(pairs):
        world.fake.react(world.guild_of(post), post, user)
    # Every reaction counts (none is refused: no rule is on): done once the ledger has them all.
    # (The stack may look idle between events the fake is still sending.)
    deadline = time.monotonic() + 600
    while applied_reactions() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    deployment.stack.wait_idle(timeout=600)
    cpu_after = deployment.cpu()
    last = max(message.at for message in world.fake.messages[told:])
    return {
        "events": count,
        "replies": len(world.fake.messages) - told,
        "seconds": round(last - started, 2),
        "events/s": round(count / (last - started)),
        "cpu ms/event": {k: round((cpu_after[k] - cpu_before[k]) * 1000 / count, 2) for k in cpu_before},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="py-spy flame graphs (last turn only)")
    parser.add_argument("--reactions", type=int, default=1000, help="reaction events after the messages (0: none)")
    parser.add_argument("--before", help="a commit to compare with, in turns (run from a worktree under var/bench/)")
    args = parser.parse_args()
    world = World()
    roots = {"this checkout": ROOT, **({f"before ({args.before})": checkout(args.before)} if args.before else {})}
    rows = {}
    for turn in range(args.turns):
        for label, root in roots.items():
            print(f"{label}, turn {turn + 1} of {args.turns} ...", flush=True)
            profile = args.profile and root == ROOT and turn == args.turns - 1
            row = measure(world, args.messages, profile, root, args.reactions if root == ROOT else 0)
            print(f"  {row}", flush=True)
            if label not in rows or row["messages/s"] > rows[label]["messages/s"]:
                rows[label] = row
    best = rows["this checkout"]
    print("two-hop Celery no-op, quorum and classic queues ...", flush=True)
    ceiling = {kind: ceilings.celery_two_hops(args.messages, 2, "threads", 8, kind) for kind in ("quorum", "classic")}
    print(f"  {ceiling}", flush=True)

    rate = best["messages/s"]
    figures = [
        ["messages/s", best["messages/s"]],
        *[[f"two-hop Celery no-op, {kind} queues, messages/s", value] for kind, value in ceiling.items()],
        *[[f"Popple / two-hop no-op on {kind} queues", round(rate / v, 2)] for kind, v in ceiling.items()],
        *[[f"CPU ms, {kind}", ms] for kind, ms in best["cpu ms/message"].items()],
        *[[name, value] for name, value in best["per message"].items()],
        *[[f"AMQP publishes to {exchange}", value] for exchange, value in best["AMQP publishes per message"].items()],
    ]
    sections = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"{args.messages} karma messages sent as fast as the fake Discord can, through the Procfile's two karma "
        f"and two reply workers and a gateway; best of {args.turns} turns; each figure per message unless it says "
        "otherwise (statements, round trips and task publishes as the processes counted them; AMQP publishes as "
        "RabbitMQ counted them on the vhost):\n\n" + markdown_table(["", "value"], figures),
    ]
    if args.reactions:
        events = best["reactions"]
        by_event = [
            ["events/s", events["events/s"], best["messages/s"]],
            *[[f"CPU ms, {kind}", ms, best["cpu ms/message"][kind]] for kind, ms in events["cpu ms/event"].items()],
            *[[name, value, best["per message"][name]] for name, value in events["per message"].items()],
            *[[f"AMQP publishes to {exchange}", value, best["AMQP publishes per message"].get(exchange, 0)]
              for exchange, value in events["AMQP publishes per message"].items()],
        ]  # fmt: skip
        sections.append(
            f"{args.reactions} 👍 reactions (each server counts 👍), each by someone else to another's recent "
            "message, sent as fast as the fake can after the messages, in the same deployment; per reaction "
            "event, next to a karma message's:\n\n" + markdown_table(["", "per reaction", "per message"], by_event)
        )
    if args.profile:
        for kind in KINDS:
            slug = kind.replace(" ", "-")
            ranking = ranked(PROFILES / f"{slug}.txt")
            sections.append(
                f"Where the {kind}' CPU goes (py-spy samples of the first such process, wrappers on every stack "
                "left out; "
                f"flame graph: var/bench/profiles/{slug}.svg):\n\n"
                + markdown_table(["on the stack", "%", "running itself", "%"], ranking)
            )
    if args.before:
        earlier = rows[f"before ({args.before})"]

        def compare(name, figure):
            then, now = figure(earlier), figure(best)
            return [name, round(then, 2), round(now, 2), round(now / then, 2) if then else ""]

        compared = [
            compare("messages/s", lambda row: row["messages/s"]),
            *[compare(f"CPU ms, {kind}", lambda row, kind=kind: row["cpu ms/message"][kind])
              for kind in best["cpu ms/message"]],
            compare("CPU ms, karma + reply workers",
                    lambda row: row["cpu ms/message"]["karma workers"] + row["cpu ms/message"]["reply workers"]),
        ]  # fmt: skip
        sections.insert(
            2,
            f"Against {args.before}, in turns in the same run (best of {args.turns} each):\n\n"
            + markdown_table(["", f"before ({args.before})", "this checkout", "ratio"], compared),
        )
    report("costs", "\n\n".join(sections))


if __name__ == "__main__":
    main()
