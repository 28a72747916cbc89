"""The burst against Discord's real limits, before and after Popple learned to live within them.

    python bench/burst.py                  # this checkout, and the code before (BEFORE below)
    python bench/burst.py --before REV     # compare with another commit

60 people type `hot++` in one channel within a second; right after, 10 messages arrive in channels
of 3 other servers (testkit/burst.py). The fake Discord enforces Discord's limits: 5 messages per
5 s per channel, 1 reaction per 0.25 s, 50 requests per second in all, with 429 answers beyond.
Each side runs as its own Procfile deploys it, on two worker processes: before, two workers that
take both queues; after, one karma worker and one reply worker. RabbitMQ, MariaDB and Redis must
be running (scripts/test starts them). The earlier code runs from a git worktree under var/bench/.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import fresh_database  # noqa: E402
from bench.report import RESULTS, markdown_table, report  # noqa: E402
from testkit.burst import Burst  # noqa: E402
from testkit.fakediscord import FakeDiscord  # noqa: E402
from testkit.stack import REDIS_URL, Stack, purge_queues  # noqa: E402

# The last commit before replies learned Discord's limits (issue 10).
BEFORE = "9763857"
DATABASE = os.environ.get("BENCH_DATABASE_URL", "mysql://popple:popple@127.0.0.1:3306/popple_bench")


def checkout(revision):
    """A work tree of `revision` under var/bench/, made once."""
    path = RESULTS / f"checkout-{revision}"
    if not path.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(path), revision], cwd=ROOT, check=True)
    return path


def run(root, deployed):
    """The burst against one checkout; its figures."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    purge_queues()
    fresh_database(DATABASE, root)
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    burst = Burst(fake)
    stack = Stack(fake, tempfile.mkdtemp(prefix="popple-burst-"), DATABASE, root=root)
    try:
        deployed(stack)
        stack.gateway("gateway").wait_for_log("connected to Discord as Popple")
        time.sleep(1)
        burst.send()
        if not burst.wait(timeout=180):
            raise SystemExit("the burst was not fully answered within 180 s")
        return burst.figures().summary()
    finally:
        stack.stop()
        fake.stop()


def before(stack):
    for name in ("worker1", "worker2"):  # the earlier Procfile: every worker takes both queues
        stack.worker(name)


def after(stack):
    stack.deployed("karma1", "worker")
    stack.deployed("replies1", "replies")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    args = parser.parse_args()
    print(f"burst against {args.before} ...", flush=True)
    earlier = run(checkout(args.before), before)
    print("burst against this checkout ...", flush=True)
    now = run(ROOT, after)
    rows = [[key, earlier[key], now[key]] for key in now]
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "60 `hot++` in one channel within a second, then 10 messages in 3 other servers, against a fake "
            "Discord enforcing 5 messages per 5 s per channel and 50 requests/s (two worker processes each):\n\n"
            + markdown_table(["", f"before ({args.before})", "after"], rows),
        ]
    )
    report("burst", text)


if __name__ == "__main__":
    main()
