"""Throughput, latency and scaling of the distributed karma path, against the machine's ceilings.

    python bench/pipeline.py            # everything (about 6 minutes)
    python bench/pipeline.py --quick    # fewer messages and shorter loads, for a first look
    python bench/pipeline.py --edits-only --messages 200   # just the edit/delete mix against plain

Real gateway, real Celery workers, RabbitMQ, MariaDB and Redis; the project's fake Discord plays
Discord at both ends, in this process, so that both ends of every message share one clock:
latency runs from the MESSAGE_CREATE the fake sends to the reply it receives. RabbitMQ, MariaDB
and Redis must be running (scripts/test starts them). Results: a table on stdout, the same in
var/bench/pipeline.md and pipeline.json, charts beside them (scripts/publish-reports copies them into
bench/README.md and bench/results/).
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ceilings  # noqa: E402
from bench.messages import karma_lines  # noqa: E402
from bench.report import RESULTS, cpu_seconds, markdown_table, mysql_params, pids_of, report  # noqa: E402
from testkit.fakediscord import FakeDiscord  # noqa: E402
from testkit.processes import manage  # noqa: E402
from testkit.stack import Stack, purge_queues  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE_URL", "mysql://popple:popple@127.0.0.1:3306/popple_bench")
SERVERS = 50
USERS = 50
SPLIT = "threads, split"  # one worker takes karma, the other replies
EDITED, DELETED = 0.10, 0.02  # of the messages, in the edit/delete mix (issue 14)


def fresh_database(url=DATABASE, root=ROOT):
    """An empty database at `url`, migrated by the checkout at `root`."""
    import MySQLdb

    params = mysql_params(url)
    name = params.pop("database")
    connection = MySQLdb.connect(**params)
    connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    connection.close()
    result = manage("migrate", DATABASE_URL=url, root=root)
    if result.returncode:
        raise SystemExit(f"migrate failed: {result.stderr}")


# The fair-karma rules (karma/rules.py), all on: a cooldown, a budget, a cap and ignored names.
ALL_RULES = {"allow_self_karma": 0, "cooldown": 1, "budget": 10_000, "max_change": 5, "ignored": '["c", "i", "g"]'}


def set_rules(world, rules, reactions="[]", database=DATABASE):
    """Give every server of the run these rules, or the defaults (None), and these reaction emoji
    (a JSON list). The servers' rows are the gateway's (made when it connects, with every other
    setting's default): they are updated, not made here."""
    import MySQLdb

    connection = MySQLdb.connect(**mysql_params(database))
    cursor = connection.cursor()
    rules = rules or {"allow_self_karma": 0, "cooldown": 0, "budget": 0, "max_change": 0, "ignored": "[]"}
    ids = [guild.id for guild in world.guilds]
    servers = f"guild_id IN ({', '.join(['%s'] * len(ids))})"
    cursor.execute(f"SELECT COUNT(*) FROM karma_guildsettings WHERE {servers}", ids)  # noqa: S608 (placeholders)
    (found,) = cursor.fetchone()
    if found != len(ids):
        raise SystemExit(f"bench: {len(ids) - found} servers have no settings row yet (no gateway saw them)")
    cursor.execute(
        "UPDATE karma_guildsettings SET announce = 1, allow_self_karma = %s, cooldown = %s, budget = %s, "  # noqa: S608
        f"max_change = %s, ignored = %s, reactions = %s WHERE {servers}",
        [*rules.values(), reactions, *ids],
    )
    connection.commit()
    connection.close()


class World:
    def __init__(self):
        self.fake = FakeDiscord().start()
        self.guilds = [self.fake.add_guild(f"server-{i}") for i in range(SERVERS)]
        self.users = [self.fake.add_user(f"user-{i}") for i in range(USERS)]
        for guild in self.guilds:
            for user in self.users:
                self.fake.add_member(guild, user)
        self.rng = random.Random(1)

    def send(self, content):
        return self.fake.send(self.rng.choice(self.guilds), self.rng.choice(self.users), content)

    def guild_of(self, message_id):
        return self.fake.guilds[int(self.fake.sent[message_id]["guild_id"])]

    def replied_at(self):
        """When each reply (to a message or to an edit, by the id it is posted under) arrived."""
        return {int(m.nonce.split(".")[0]): m.at for m in self.fake.messages if m.nonce and m.nonce.endswith(".0")}

    def latencies(self, message_ids):
        """Seconds from MESSAGE_CREATE to the reply, per answered message."""
        replied = {}
        for message in self.fake.messages:
            if message.nonce and message.nonce.endswith(".0"):
                replied[int(message.nonce.split(".")[0])] = message.at
        return [replied[m] - self.fake.sent_at[m] for m in message_ids if m in replied]

    def settle(self, stack, message_ids, timeout=600):
        """Until every message is answered or, since a reply whose values its channel was told
        already (in newer versions) is left out, until no process has anything left to do."""
        deadline = time.monotonic() + timeout
        answered = -1
        while time.monotonic() < deadline:
            now = len(self.latencies(message_ids))
            if now == len(message_ids):
                return
            if now == answered:
                stack.wait_idle(timeout=max(1, deadline - time.monotonic()))
                if len(self.latencies(message_ids)) == now:
                    return
            answered = now
            time.sleep(0.5)
        raise SystemExit(f"only {len(self.latencies(message_ids))} of {len(message_ids)} messages were answered")


class Deployment:
    """Popple's processes for one configuration, with their CPU time accounted."""

    def __init__(self, world, workers, pool, concurrency):
        self.world = world
        self.stack = Stack(world.fake, tempfile.mkdtemp(prefix="popple-bench-"), DATABASE)
        self.workers, self.pool, self.concurrency = workers, pool, concurrency

    def __enter__(self):
        purge_queues()
        for n in range(self.workers):
            if self.pool == SPLIT:  # as the Procfile deploys: karma and replies on workers of their own
                queues = "karma" if n % 2 == 0 else "answers,replies"
                self.stack.worker(f"worker{n}", concurrency=self.concurrency, pool="threads", queues=queues)
            else:
                self.stack.worker(f"worker{n}", concurrency=self.concurrency, pool=self.pool)
        self.stack.gateway("gateway").wait_for_log("connected to Discord as Popple")
        # Warm up: the first replies of each worker open its connections (Discord, database).
        warmup = [self.world.send(line) for line in karma_lines(100, seed=0)]
        self.world.settle(self.stack, warmup, timeout=60)
        self.stack.wait_idle()
        return self

    def __exit__(self, *exc):
        self.stack.stop()

    def cpu(self):
        """CPU seconds used so far, per kind of process."""
        groups = {
            "gateway": [self.stack.processes["gateway"].popen.pid],
            "workers": [p.popen.pid for name, p in self.stack.processes.items() if name.startswith("worker")],
            "fake Discord": [os.getpid()],
            "RabbitMQ": pids_of("beam.smp"),
            "MariaDB": pids_of("mariadbd"),
            "Redis": pids_of("redis-server"),
        }
        # This process started the others: its own CPU only, not its children's.
        return {name: cpu_seconds(pids, descendants=name != "fake Discord") for name, pids in groups.items()}


def saturate(world, deployment, count):
    """Send `count` messages as fast as the fake can, and time first send to last reply."""
    lines = karma_lines(count)
    cpu_before = deployment.cpu()
    sent = [world.send(line) for line in lines]
    world.settle(deployment.stack, sent)
    deployment.stack.wait_idle()
    cpu_after = deployment.cpu()
    first = min(world.fake.sent_at[m] for m in sent)
    replied = world.replied_at()
    last = max(replied[m] for m in sent if m in replied)
    return {
        "messages": count,
        "left out": count - len(world.latencies(sent)),  # their values were said by a newer reply
        "seconds": round(last - first, 2),
        "messages/s": round(count / (last - first)),
        "cpu ms/message": {k: round((cpu_after[k] - cpu_before[k]) * 1000 / count, 2) for k in cpu_before},
    }


def saturate_with_edits(world, deployment, count):
    """saturate(), with EDITED of the messages edited and DELETED deleted, each soon after it was
    sent (as people fix a typo), interleaved with the rest: time from the first send to the last
    reply, to a message or an edit, as saturate() measures (a deletion has no reply; interleaved
    with the rest, it is done by then but for the last few)."""
    from botgateway.snowflakes import edit_reply_id

    lines = karma_lines(count)
    rng = random.Random(14)
    cpu_before = deployment.cpu()
    sent, edits, deleted = [], [], set()
    for line in lines:
        sent.append(world.send(line))
        if len(sent) > 5 and rng.random() < EDITED + DELETED:
            target = sent[-rng.randint(2, 5)]
            if rng.random() < EDITED / (EDITED + DELETED):
                edits.append(edit_reply_id(target, world.fake.edit(world.guild_of(target), target, rng.choice(lines))))
            else:
                world.fake.delete(world.guild_of(target), target)
                deleted.add(target)
    # A deleted message may never be answered: its deletion can reach a worker before it does
    # (two workers take the queue), and then it changes nothing.
    kept = [m for m in sent if m not in deleted]
    world.settle(deployment.stack, kept)
    deployment.stack.wait_idle()
    cpu_after = deployment.cpu()
    first = min(world.fake.sent_at[m] for m in sent)
    replied = world.replied_at()
    last = max(replied[m] for m in sent + edits if m in replied)
    return {
        "messages": count,
        "edits": len(edits),
        "deletions": len(deleted),
        "seconds": round(last - first, 2),
        "messages/s": round(count / (last - first)),
        "cpu ms/message": {k: round((cpu_after[k] - cpu_before[k]) * 1000 / count, 2) for k in cpu_before},
    }


def edits_against_plain(world, deployed, count, turns=2):
    """The plain pipeline and the edit/delete mix, as deployed, in turns: the best of `turns` each."""
    best = {}
    for turn in range(turns):
        for label, run in (("plain", saturate), (f"{EDITED:.0%} edited, {DELETED:.0%} deleted", saturate_with_edits)):
            print(f"saturation as deployed, {label} ({turn + 1} of {turns}) ...", flush=True)
            with Deployment(world, *deployed) as deployment:
                row = run(world, deployment, count)
            if label not in best or row["messages/s"] > best[label]["messages/s"]:
                best[label] = row
    return best


def open_loop(world, stack, rate, seconds):
    """Offer `rate` messages/s for `seconds`, whatever happens; latency percentiles of the replies."""
    count = int(rate * seconds)
    lines = karma_lines(count, seed=rate)
    sent = []
    start = time.perf_counter()
    for n, line in enumerate(lines):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent.append(world.send(line))
    world.settle(stack, sent, timeout=120)
    latencies = sorted(world.latencies(sent))
    answered = len(latencies)

    def pct(p):
        return round(latencies[min(answered - 1, int(p / 100 * answered))] * 1000, 1)

    # A growing backlog shows as latency that climbs through the run: compare its quarters.
    by_order = world.latencies(sent)
    quarter = max(1, len(by_order) // 4)
    first, last = statistics.median(by_order[:quarter]), statistics.median(by_order[-quarter:])
    return {
        "offered/s": rate,
        "answered": f"{answered}/{count}",
        "p50 ms": pct(50),
        "p95 ms": pct(95),
        "p99 ms": pct(99),
        "max ms": round(latencies[-1] * 1000, 1),
        "backlog grows": "yes" if last > 2 * first + 0.05 else "no",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages and shorter loads")
    parser.add_argument("--edits-only", action="store_true", help="only the edit/delete mix against plain")
    parser.add_argument("--messages", type=int, help="messages per saturation run (a smoke run: few)")
    args = parser.parse_args()
    saturation_count = args.messages or (1500 if args.quick else 5000)
    load_seconds = 5 if args.quick else 20
    # (workers, pool, concurrency); the Procfile runs threads x 8, a karma worker and a reply worker.
    # 16 threads per worker is left out: Celery's event dispatcher lock collapses it (bench/README.md).
    configurations = [(1, "prefork", 2), (2, "prefork", 2), (1, "threads", 8), (2, "threads", 4), (2, "threads", 8),
                      (2, SPLIT, 8)]  # fmt: skip
    deployed = (2, SPLIT, 8)

    fresh_database()
    world = World()
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick}
    if args.edits_only:
        edits = edits_against_plain(world, deployed, saturation_count)
        world.fake.stop()
        print(edits_table(edits))
        return

    print("ceilings ...", flush=True)
    results["ceilings"] = ceilings.measure(saturation_count, (2, "threads", 8), DATABASE)
    results["deployed"] = "{} workers, {} x {}".format(*deployed)

    results["scaling"] = []
    for workers, pool, concurrency in configurations:
        print(f"saturation with {workers} worker(s), {pool} x {concurrency} ...", flush=True)
        with Deployment(world, workers, pool, concurrency) as deployment:
            row = {"workers": workers, "pool": pool, "concurrency": concurrency}
            row.update(saturate(world, deployment, saturation_count))
        results["scaling"].append(row)
    # The fair-karma rules off and on, as deployed, in turns (this machine's speed drifts within a
    # run): the best of two each.
    results["rules"] = {}
    for turn in range(2):
        for label, rules in (("every rule off", None), ("every rule on", ALL_RULES)):
            print(f"saturation as deployed, {label} ({turn + 1} of 2) ...", flush=True)
            set_rules(world, rules)
            with Deployment(world, *deployed) as deployment:
                row = saturate(world, deployment, saturation_count)
            best = results["rules"].get(label)
            if best is None or row["messages/s"] > best["messages/s"]:
                results["rules"][label] = row
    set_rules(world, None)
    results["edits"] = edits_against_plain(world, deployed, saturation_count)

    results["latency"] = []
    with Deployment(world, *deployed) as deployment:
        for rate in (50, 100, 200, 400):
            print(f"open loop at {rate} messages/s ...", flush=True)
            results["latency"].append(open_loop(world, deployment.stack, rate, load_seconds))
            deployment.stack.wait_idle(timeout=300)
    world.fake.stop()

    best = max(results["scaling"], key=lambda row: row["messages/s"])
    deployed_row = next(r for r in results["scaling"] if (r["workers"], r["pool"], r["concurrency"]) == deployed)
    two_hop = results["ceilings"]["celery two-hop no-op, messages/s"]
    ruled = results["rules"]
    results["ratios"] = {
        "deployed pipeline / two-hop Celery no-op": round(deployed_row["messages/s"] / two_hop, 2),
        "deployed, every fair-karma rule on / every rule off": round(
            ruled["every rule on"]["messages/s"] / ruled["every rule off"]["messages/s"], 2
        ),
        "deployed, edit/delete mix / plain": round(
            results["edits"][f"{EDITED:.0%} edited, {DELETED:.0%} deleted"]["messages/s"]
            / results["edits"]["plain"]["messages/s"],
            2,
        ),
        "best pipeline / two-hop Celery no-op": round(best["messages/s"] / two_hop, 2),
        "best pipeline / kombu publish+consume": round(
            best["messages/s"] / results["ceilings"]["kombu publish+consume, messages/s"], 2
        ),
        "best pipeline / MariaDB single-row increments": round(
            best["messages/s"] / results["ceilings"]["MariaDB single-row increments/s"], 2
        ),
    }
    write(results)


def edits_table(edits):
    cpu_kinds = list(edits["plain"]["cpu ms/message"])
    rows = [
        [label, row["messages"], row.get("edits", 0), row.get("deletions", 0), row["seconds"], row["messages/s"],
         *[row["cpu ms/message"][k] for k in cpu_kinds]]
        for label, row in edits.items()
    ]  # fmt: skip
    return (
        "Edits and deletes, as deployed, plain and the mix in turns (best of two; messages/s counts the "
        "messages sent, edits and deletions come on top):\n\n"
        + markdown_table(["run", "messages", "edits", "deletions", "seconds", "messages/s", *cpu_kinds], rows)
    )


def write(results):
    from bench import charts

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(results, indent=2) + "\n")
    cpu_kinds = list(results["scaling"][0]["cpu ms/message"])
    scaling_rows = [
        [r["workers"], f"{r['pool']} x {r['concurrency']}", r["messages"], r["seconds"], r["messages/s"],
         *[r["cpu ms/message"][k] for k in cpu_kinds]]
        for r in results["scaling"]
    ]  # fmt: skip
    text = "\n\n".join(
        [
            f"Run: {results['date']}" + (" (--quick)" if results["quick"] else ""),
            "Ceilings, measured in the same run:\n\n"
            + markdown_table(["ceiling", "value"], [[k, v] for k, v in results["ceilings"].items()]),
            "Saturation and scaling (messages sent as fast as the fake Discord can; CPU ms per message "
            "by process kind):\n\n"
            + markdown_table(["workers", "pool", "messages", "seconds", "messages/s", *cpu_kinds], scaling_rows),
            f"Fair-karma rules, as deployed, off and on in turns (best of two; on: {ALL_RULES}):\n\n"
            + markdown_table(
                ["rules", "messages/s", *cpu_kinds],
                [
                    [label, row["messages/s"], *[row["cpu ms/message"][k] for k in cpu_kinds]]
                    for label, row in results["rules"].items()
                ],
            ),
            edits_table(results["edits"]),
            f"Latency, open loop (message to reply), {results['deployed']}, after a warm-up of 100 messages:\n\n"
            + markdown_table(list(results["latency"][0]), [list(r.values()) for r in results["latency"]]),
            "Ratios:\n\n" + markdown_table(["", "ratio"], [[k, v] for k, v in results["ratios"].items()]),
            "![latency against offered load](results/pipeline-latency.png)\n"
            "![throughput against workers](results/pipeline-throughput.png)",
        ]
    )
    charts.latency(results["latency"], RESULTS / "pipeline-latency.png")
    charts.throughput(results["scaling"], RESULTS / "pipeline-throughput.png")
    report("pipeline", text)


if __name__ == "__main__":
    main()
