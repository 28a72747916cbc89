"""What saying things in order costs: the Procfile's deployment (two karma workers, two reply
workers, a gateway) before announcements were ordered and now, in turns, in the same run.

    python bench/ordering.py                      # 3,000 messages, two turns each
    python bench/ordering.py --messages 500 --turns 1

The earlier code (BEFORE) runs from a git worktree under var/bench/, on a database it migrated
itself. RabbitMQ, MariaDB and Redis must be running (scripts/test starts them). Prints a table and
writes var/bench/ordering.md (scripts/publish-reports copies it into bench/README.md).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import checkout  # noqa: E402
from bench.pipeline import DATABASE, World, fresh_database, saturate  # noqa: E402
from bench.report import cpu_seconds, markdown_table, pids_of, report  # noqa: E402
from testkit.stack import REDIS_URL, Stack, purge_queues  # noqa: E402

BEFORE = "75ded13"  # the last commit before announcements were ordered


class ProcfileDeployment:
    """The Procfile's workers from one checkout, with their CPU time accounted (bench/pipeline.py's
    Deployment runs Popple's own checkout only)."""

    def __init__(self, world, root):
        self.world, self.root = world, root

    def __enter__(self):
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        purge_queues()
        fresh_database(DATABASE, self.root)
        self.stack = Stack(self.world.fake, tempfile.mkdtemp(prefix="popple-ordering-"), DATABASE, root=self.root)
        for name in ("karma1", "karma2"):
            self.stack.deployed(name, "worker", **self.variables(name))
        for name in ("replies1", "replies2"):
            self.stack.deployed(name, "replies", **self.variables(name))
        self.stack.connected_gateway("gateway", **self.variables("gateway"))
        warmup = [self.world.send(line) for line in ("warm++", "up++") * 50]
        self.world.settle(self.stack, warmup, timeout=60)
        self.stack.wait_idle()
        return self

    def __exit__(self, *exc):
        self.stack.stop()

    def variables(self, name):
        """More environment for the process `name` (bench/costs.py gives each a metrics port)."""
        return {}

    def cpu(self):
        workers = [p.popen.pid for name, p in self.stack.processes.items() if name != "gateway"]
        return {
            "workers": cpu_seconds(workers, descendants=True),
            "gateway": cpu_seconds([self.stack.processes["gateway"].popen.pid], descendants=True),
            "RabbitMQ": cpu_seconds(pids_of("beam.smp")),
            "MariaDB": cpu_seconds(pids_of("mariadbd")),
            "Redis": cpu_seconds(pids_of("redis-server")),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--turns", type=int, default=2)
    args = parser.parse_args()
    world = World()
    roots = {f"before ({BEFORE})": checkout(BEFORE), "ordered (this checkout)": ROOT}
    best = {}
    for turn in range(args.turns):
        for label, root in roots.items():
            print(f"{label}, turn {turn + 1} of {args.turns} ...", flush=True)
            with ProcfileDeployment(world, root) as deployment:
                row = saturate(world, deployment, args.messages)
            print(f"  {row}", flush=True)
            if label not in best or row["messages/s"] > best[label]["messages/s"]:
                best[label] = row
    kinds = list(next(iter(best.values()))["cpu ms/message"])
    rows = [
        [label, row["messages/s"], row["left out"], *[row["cpu ms/message"][k] for k in kinds]]
        for label, row in best.items()
    ]
    before, now = (row["messages/s"] for row in best.values())
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"{args.messages} messages sent as fast as the fake Discord can, through the Procfile's two karma and "
            f"two reply workers; best of {args.turns} turns each, in the same run (CPU ms per message):\n\n"
            + markdown_table(["code", "messages/s", "replies left out", *kinds], rows),
            f"Ordered announcements run at {now / before:.2f} of the throughput before ({now} against {before}).",
        ]
    )
    report("ordering", text)


if __name__ == "__main__":
    main()
