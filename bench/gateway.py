"""The gateway on a realistic chat mix (5 % karma), before and after it learned to drop chatter.

    python bench/gateway.py                  # this checkout, and the code before (bench/burst.py's)
    python bench/gateway.py --before REV

A real `rungateway` process (no worker: what it publishes stays in RabbitMQ's `karma` queue to be
counted) takes 20,000 server messages from the fake Discord, sent as fast as the fake can. Figures:
messages per second taken in (first message sent until the last one published), the gateway's CPU
per message, and how many messages reached the broker. RabbitMQ and Redis must be running.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kombu  # noqa: E402

from bench.burst import BEFORE, checkout  # noqa: E402
from bench.messages import CHATTER, karma_line  # noqa: E402
from bench.report import cpu_seconds, markdown_table, report  # noqa: E402
from testkit.fakediscord import FakeDiscord  # noqa: E402
from testkit.stack import BROKER_URL, Stack, purge_queues  # noqa: E402

COUNT = 20_000
KARMA_SHARE = 0.05
SERVERS = 10


def chat_mix(count, seed=2026):
    """One karma message in twenty, the rest chatter; the last one has karma (it closes the run)."""
    rng = random.Random(seed)
    lines = [karma_line(rng) if rng.random() < KARMA_SHARE else rng.choice(CHATTER) for _ in range(count - 1)]
    return [*lines, "last++"]


def queued():
    with kombu.Connection(BROKER_URL) as connection:
        return connection.default_channel.queue_declare("karma", passive=True).message_count


def run(root, filters):
    """`filters`: whether this checkout's gateway drops chatter (the wait for its end depends on it)."""
    purge_queues()
    fake = FakeDiscord().start()
    guilds = [fake.add_guild(f"chat-{n}") for n in range(SERVERS)]
    user = fake.add_user("talker")
    for guild in guilds:
        fake.add_member(guild, user)
    workdir = tempfile.mkdtemp(prefix="popple-gateway-")
    stack = Stack(fake, workdir, f"sqlite:///{workdir}/db.sqlite3", root=root)
    lines = chat_mix(COUNT)
    would_matter = sum(1 for line in lines if "++" in line or "--" in line)
    try:
        gateway = stack.gateway("gateway")
        gateway.wait_for_log("connected to Discord as Popple")
        cpu_before = cpu_seconds([gateway.popen.pid])
        start = time.perf_counter()
        for n, line in enumerate(lines):
            fake.send(guilds[n % SERVERS], user, line)
        sent = time.perf_counter()
        # Messages are read in order: once as many are queued as it publishes, the run is over.
        expected = would_matter if filters else COUNT
        while queued() < expected:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        time.sleep(1)  # anything more would show now
        published = queued()
        cpu = cpu_seconds([gateway.popen.pid]) - cpu_before
    finally:
        stack.stop()
        fake.stop()
        purge_queues()
    return {
        "messages/s taken in": f"{COUNT / elapsed:,.0f}",
        "fake Discord's own send rate, messages/s": f"{COUNT / (sent - start):,.0f}",
        "gateway CPU ms per message": f"{cpu * 1000 / COUNT:.2f}",
        "messages that reached RabbitMQ": f"{published:,} of {COUNT:,}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    args = parser.parse_args()
    print(f"gateway at {args.before} ...", flush=True)
    earlier = run(checkout(args.before), filters=False)
    print("gateway at this checkout ...", flush=True)
    now = run(ROOT, filters=True)
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"{COUNT:,} server messages over {SERVERS} servers, {KARMA_SHARE:.0%} with karma, sent as fast as the "
            "fake Discord can, one `rungateway` process:\n\n"
            + markdown_table(["", f"before ({args.before})", "after"], [[k, earlier[k], now[k]] for k in now]),
        ]
    )
    report("gateway", text)


if __name__ == "__main__":
    main()
