"""Each process serves its Prometheus metrics on METRICS_PORT: scraped here from real processes.

A gateway, a karma worker and a reply worker as deployed, against a fake Discord that enforces
Discord's own limits, so that replies are held and merged; a 429 comes from "another client on
the same token" (an injected one).
"""

import json
import re
import shlex
import sys

import pytest
from prometheus_client import Counter

from botgateway.gateway import Gateway
from botgateway.outbox import Outbox
from monitoring import metrics
from testkit.fakediscord import FakeDiscord
from testkit.metrics import scrape, value
from testkit.processes import ROOT, Process
from testkit.stack import PROCFILE, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS)
    fake.heartbeat_interval = 500  # so that each shard has measured its latency within a second
    fake.start()
    yield fake
    fake.stop()


def posted_texts(samples):
    return value(samples, "popple_discord_requests_total", kind="text", status="200")


@pytest.fixture(scope="module")
def world(fake_discord):
    fake = fake_discord
    guild = fake.add_guild("metered", channels=3)
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild, alice)
    fake.add_member(guild, bob)
    return guild, alice, bob


@pytest.fixture(scope="module")
def ports():
    return {"gateway": free_port(), "worker": free_port(), "replies": free_port()}


@pytest.fixture(scope="module")
def stack(stack_factory, world, ports):
    stack = stack_factory()
    stack.deployed("karma", "worker", METRICS_PORT=ports["worker"])
    stack.deployed("replies", "replies", METRICS_PORT=ports["replies"])
    stack.connected_gateway(METRICS_PORT=ports["gateway"])
    return stack


def test_every_kind_of_process_counts_what_it_does(stack, world, ports, fake_discord):
    fake = fake_discord
    guild, alice, bob = world
    busy, quiet, other = guild.channel_ids
    chatter = [fake.send(guild, alice, text, channel_id=quiet) for text in ("hello", "lunch?", "see you")]
    fake.react(guild, chatter[0], bob)  # forwarded (this server counts no emoji: the worker says so)
    fake.react(guild, chatter[0], alice)  # to her own message: dropped
    refused = fake.send(guild, alice, "alice++", channel_id=quiet)  # self-karma, refused by default
    # Ten replies in one channel within a second: Discord lets five out per five seconds, so the
    # rest are held and go out merged.
    for _ in range(10):
        fake.send(guild, bob, "hot++", channel_id=busy)
    # (Which of the burst's replies goes out first depends on the worker threads.)
    assert fake.wait_until(lambda: fake.replies_to(refused) and any(m.channel_id == busy for m in fake.messages))
    # Another client on the same token draws a 429 ("shared") on the next reply.
    fake.fail_rest(429, seconds=0.5, retry_after=0.5)
    late = fake.send(guild, bob, "late++", channel_id=other)
    assert fake.wait_until(lambda: fake.replies_to(late), timeout=30)
    assert fake.wait_until(lambda: any("hot has 10 karma." in message.content for message in fake.messages), timeout=30)
    stack.wait_idle()
    assert not any(fake.replies_to(message) for message in chatter)

    for name in ports:
        assert (
            f"metrics at http://127.0.0.1:{ports[name]}/metrics"
            in stack.processes["karma" if name == "worker" else name].log()
        )
    gateway = scrape(ports["gateway"])
    assert value(gateway, "popple_gateway_messages_received_total") == 15
    assert value(gateway, "popple_gateway_messages_forwarded_total") == 12
    assert value(gateway, "popple_gateway_messages_filtered_total") == 3
    assert value(gateway, "popple_gateway_reactions_total", outcome="forwarded") == 1
    assert value(gateway, "popple_gateway_reactions_total", outcome="dropped") == 1
    assert value(gateway, "popple_outbox_depth") == 0  # RabbitMQ has them all
    assert value(gateway, "popple_outbox_oldest_age_seconds") == 0
    assert fake.wait_until(lambda: ("popple_shard_latency_seconds", (("shard", "0"),)) in scrape(ports["gateway"]))
    assert 0 <= value(scrape(ports["gateway"]), "popple_shard_latency_seconds", shard="0") < 5
    assert value(gateway, "process_resident_memory_bytes") > 0  # prometheus-client's own figures

    worker = scrape(ports["worker"])
    assert value(worker, "popple_karma_applied_total") == 11  # hot ten times, late once
    assert value(worker, "popple_karma_refused_total", rule="self-karma") == 1

    # A reply held for its channel's turn may still be waiting once the queues are idle, to be
    # left out as said already: the reply worker has handled all twelve when these add up.
    def handled(samples):
        return posted_texts(samples) + value(samples, "popple_replies_coalesced_total")

    assert fake.wait_until(lambda: handled(scrape(ports["replies"])) >= 12, timeout=30)
    replies = scrape(ports["replies"])
    posted = posted_texts(replies)
    rate_limited = value(replies, "popple_discord_requests_total", kind="text", status="429")
    assert rate_limited >= 1
    assert value(replies, "popple_discord_rate_limited_total", scope="shared") == rate_limited
    assert value(replies, "popple_discord_rate_limited_total", scope="user") == 0  # never broke a limit itself
    assert posted == len(fake.messages)
    # The burst beyond the channel's five (held one by one, or merged into one held already when a
    # reply worker's thread delivers several replies of one task in turn).
    assert value(replies, "popple_replies_held_total") >= 1
    coalesced = value(replies, "popple_replies_coalesced_total")
    # Twelve replies (the refusal, ten in the burst, the late one) in fewer messages: the difference
    # is exactly what went out merged (or was left out: a merged message had said it already).
    assert coalesced >= 1
    assert posted + coalesced == 12

    # What the messages cost in round trips (bench/costs.py divides these by the messages sent).
    # Twelve chat messages in at most twelve tasks (those that waited in the outbox together went
    # in one), the announcements of each task in one reply task, and the refusal, which answers
    # someone, in a task of its own (queue `answers`).
    karma_tasks = sum(
        value(gateway, "popple_tasks_published_total", task=task)
        for task in ("karma.handle_message", "karma.handle_messages")
    )
    reply_tasks = sum(
        value(worker, "popple_tasks_published_total", task=task) for task in ("karma.send_reply", "karma.send_replies")
    )
    answers = value(worker, "popple_tasks_published_total", task="karma.send_answer")
    assert 1 <= karma_tasks <= 12
    assert answers == 1
    assert karma_tasks <= reply_tasks + answers <= karma_tasks + 1
    assert value(worker, "popple_sql_queries_total", database="default") >= 12  # a transaction each
    assert value(replies, "popple_redis_round_trips_total") >= 12  # the mailbox and the budget
    assert value(replies, "popple_tasks_published_total", task="karma.send_reply") == 0


@pytest.mark.parametrize("command", [["manage.py", "rungateway"], ["-m", *shlex.split(PROCFILE["worker"])]])
def test_a_port_already_taken_stops_the_process_with_one_line(stack, ports, tmp_path, command):
    process = Process(
        "taken",
        [sys.executable, *command],
        {**stack.env, "METRICS_PORT": str(ports["gateway"])},
        tmp_path,
    ).start()
    assert process.popen.wait(timeout=60) != 0
    log = process.log()
    assert f"popple: configuration error: METRICS_PORT {ports['gateway']} on 127.0.0.1:" in log
    assert "Traceback" not in log


def test_the_dashboard_shows_every_popple_metric_and_only_those(tmp_path):
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "popple.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(popple_[a-z_]+|process_[a-z_]+)\b", target["expr"])
    }
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for collector in (*metrics.__dict__.values(), gateway_collector(tmp_path))
        if isinstance(collector, (Counter, metrics.GatewayCollector))
        for family in collector.collect()
    }
    served |= {"process_cpu_seconds_total", "process_resident_memory_bytes"}  # prometheus-client's own
    assert queried == served


def gateway_collector(tmp_path):
    """The gateway's collector around a client that has not connected and an outbox not started."""
    return metrics.GatewayCollector(Gateway(lambda payload: None), Outbox(tmp_path / "outbox.sqlite3", 1, print))


def test_the_broker_s_health_is_a_metric(stack, ports, tmp_path):
    # The web's health checks no longer ask RabbitMQ (monitoring/health.py): the processes that
    # use it say whether they reach it, when scraped.
    assert value(scrape(ports["gateway"]), "popple_broker_up") == 1
    assert value(scrape(ports["worker"]), "popple_broker_up") == 1
    port = free_port()
    cut_off = Process(
        "cut-off",
        [sys.executable, "-m", *shlex.split(PROCFILE["worker"])],
        {**stack.env, "METRICS_PORT": str(port), "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//"},
        tmp_path,
    ).start()
    try:
        cut_off.wait_for_log(f"metrics at http://127.0.0.1:{port}/metrics")
        samples = scrape(port)
        assert ("popple_broker_up", ()) in samples
        assert value(samples, "popple_broker_up") == 0
    finally:
        cut_off.stop()
