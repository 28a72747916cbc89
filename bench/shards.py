"""Many shards across several gateway processes: IDENTIFY pacing, memory per shard, messages per second.

    python bench/shards.py                                   # small: 8 shards, 2 processes, 1,000 servers
    python bench/shards.py --shards 64 --processes 4 --servers 10000 --max-concurrency 16

Real `rungateway` processes, each told its part of the shards as the Kubernetes StatefulSet tells
it (DISCORD_SHARD_IDS=i/n), connect to the fake Discord, which sends them every server at connect
and then a chat mix (5 % karma, bench/gateway.py's) spread over all servers as fast as it can. No
worker: what the gateways publish stays in RabbitMQ's `karma` queue and is purged after. Figures:
how the IDENTIFYs were paced (one per 5 s per max_concurrency bucket, shared through Redis), each
process's resident memory after connecting and after the chat, and how many messages per second
each took in (its own /metrics, popple_gateway_messages_received_total), with its CPU per message.
RabbitMQ and Redis must be running. One machine runs the fake Discord and every gateway: the fake's
single event loop is usually the limit on messages per second (its own send rate is printed).
"""

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.gateway import chat_mix  # noqa: E402
from bench.report import cpu_seconds, markdown_table, report  # noqa: E402
from testkit.fakediscord import IDENTIFY_INTERVAL, FakeDiscord  # noqa: E402
from testkit.stack import Stack, free_port, purge_queues  # noqa: E402


def resident_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def received(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "popple_gateway_messages_received_total":
                return int(sample.value)
    return 0


def run(shards, processes, servers, messages, max_concurrency):
    purge_queues()
    fake = FakeDiscord(recommended_shards=shards)
    fake.max_concurrency = max_concurrency
    fake.start()
    user = fake.add_user("talker")
    guilds = []
    for n in range(servers):
        guild = fake.add_guild(f"server-{n}", shard=n % shards, shard_count=shards)
        fake.add_member(guild, user)
        guilds.append(guild)
    workdir = tempfile.mkdtemp(prefix="popple-shards-")
    stack = Stack(fake, workdir, f"sqlite:///{workdir}/db.sqlite3")
    ports = [free_port() for _ in range(processes)]
    try:
        started = time.monotonic()
        gateways = [
            stack.gateway(
                f"gateway-{index}",
                DISCORD_SHARD_COUNT=shards,
                DISCORD_SHARD_IDS=f"{index}/{processes}",
                METRICS_PORT=ports[index],
            )
            for index in range(processes)
        ]
        for gateway in gateways:
            gateway.wait_for_log("connected to Discord as Popple", timeout=IDENTIFY_INTERVAL * shards + 120)
        connected = time.monotonic() - started
        memory_connected = [resident_mib(gateway.popen.pid) for gateway in gateways]

        lines = chat_mix(messages)
        cpu_before = [cpu_seconds([gateway.popen.pid]) for gateway in gateways]
        start = time.perf_counter()
        for n, line in enumerate(lines):
            fake.send(guilds[n % servers], user, line)
        sent = time.perf_counter()
        while sum(received(port) for port in ports) < messages:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        per_process = [received(port) for port in ports]
        cpu = [cpu_seconds([gateway.popen.pid]) - before for gateway, before in zip(gateways, cpu_before, strict=True)]
        memory_after = [resident_mib(gateway.popen.pid) for gateway in gateways]
        identifies = sorted(fake.identifies)
        violations = fake.identify_rate_violations()
    finally:
        stack.stop()
        fake.stop()
        purge_queues()

    span = identifies[-1][0] - identifies[0][0]
    rounds = -(-shards // max_concurrency)
    summary = [
        ["shards / processes / servers", f"{shards} / {processes} / {servers:,}"],
        ["max_concurrency (IDENTIFY buckets)", str(max_concurrency)],
        ["IDENTIFYs", str(len(identifies))],
        ["first to last IDENTIFY, s", f"{span:.1f} (Discord's pacing allows no less than {(rounds - 1) * 5:.0f})"],
        ["IDENTIFYs sooner than 5 s after their bucket's previous one", str(violations)],
        ["start until every process was connected, s", f"{connected:.1f}"],
        ["chat messages sent", f"{messages:,} in {elapsed:.2f} s"],
        ["fake Discord's own send rate, messages/s", f"{messages / (sent - start):,.0f}"],
        ["all gateways together, messages/s taken in", f"{messages / elapsed:,.0f}"],
    ]
    rows = []
    for index in range(processes):
        share = len(range(index * shards // processes, (index + 1) * shards // processes))
        rows.append(
            [
                f"gateway-{index}",
                str(share),
                f"{memory_connected[index]:.0f}",
                f"{memory_after[index]:.0f}",
                f"{memory_connected[index] / share:.1f}",
                f"{per_process[index]:,}",
                f"{per_process[index] / elapsed:,.0f}",
                f"{cpu[index] * 1000 / max(per_process[index], 1):.2f}",
            ]
        )
    return summary, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--max-concurrency", type=int, default=4)
    args = parser.parse_args()
    summary, rows = run(args.shards, args.processes, args.servers, args.messages, args.max_concurrency)
    arguments = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in vars(args).items())
    text = "\n\n".join(
        [
            f"Arguments: `{arguments}`",
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            markdown_table(["", "value"], summary),
            "Per gateway process (resident memory in MiB, the interpreter, Django and discord.py included):\n\n"
            + markdown_table(
                [
                    "process",
                    "shards",
                    "MiB connected",
                    "MiB after the chat",
                    "MiB per shard",
                    "messages",
                    "messages/s",
                    "CPU ms per message",
                ],
                rows,
            ),
        ]
    )
    report("shards", text)


if __name__ == "__main__":
    main()
