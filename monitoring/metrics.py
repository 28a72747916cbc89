"""Prometheus metrics of Popple's own work, which each process serves on METRICS_PORT.

prometheus-client's default registry: the counters below (each process counts what it does;
Prometheus adds them up across processes), the gateway's figures read when scraped
(GatewayCollector), and the client's own process figures (CPU seconds, resident memory). Flower
serves Celery's figures (tasks, queues) at its own /metrics. Off unless METRICS_PORT is set.
"""

import logging

from django.conf import settings
from prometheus_client import Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)

# The gateway ---------------------------------------------------------------------------------
# Every server message from a person (not bots, webhooks or direct messages) is forwarded or
# filtered out: received = forwarded + filtered.
GATEWAY_RECEIVED = Counter("popple_gateway_messages_received", "Server messages from people the gateway received")
GATEWAY_FORWARDED = Counter(
    "popple_gateway_messages_forwarded", "Messages the gateway forwarded: a karma sign, or addressed to the bot"
)
GATEWAY_REACTIONS = Counter(
    "popple_gateway_reactions",
    "Reaction events the gateway received, by what it did: forwarded (the worker decides whether the emoji "
    "counts), or dropped (a bot's, to your own message or to a bot's)",
    ["outcome"],
)
GATEWAY_FILTERED = Counter(
    "popple_gateway_messages_filtered", "Messages the gateway dropped: no karma sign, not addressed to the bot"
)

# Replies (botgateway/delivery.py) -------------------------------------------------------------
DISCORD_REQUESTS = Counter(
    "popple_discord_requests",
    "Requests made to Discord's REST API to post replies and change roles, by kind (text, reaction, role) and answer "
    "status",
    ["kind", "status"],
)
DISCORD_RATE_LIMITED = Counter(
    "popple_discord_rate_limited",
    "429 answers from Discord, by the scope it gave (user, global, shared)",
    ["scope"],
)
REPLIES_HELD = Counter(
    "popple_replies_held", "Replies not posted whole when they arrived: held for their channel's turn or budget"
)
REPLIES_COALESCED = Counter(
    "popple_replies_coalesced",
    "Replies that went out merged into another reply's Discord message, or that one said already",
)
ANNOUNCEMENTS_LATE = Counter(
    "popple_announcements_late",
    "Announcement lines not posted on their own: they waited longer than ANNOUNCE_MAX_DELAY and went out "
    "merged into a newer post (merged), or were dropped (dropped; also those a full mailbox refused)",
    ["outcome"],
)

# Karma (counted as the ledger says what each version of a message did: karma/ledger/writes.py) -
KARMA_APPLIED = Counter("popple_karma_applied", "Karma changes applied: a name changed by a message")
KARMA_REFUSED = Counter("popple_karma_refused", "Karma changes the server's rules refused, by rule", ["rule"])


# What a message costs in round trips, per process (bench/costs.py divides them by the messages
# sent): a feature that adds a query, a Redis call or a publish to each message shows there.
SQL_QUERIES = Counter("popple_sql_queries", "SQL statements this process sent, by database alias", ["database"])
REDIS_ROUND_TRIPS = Counter(
    "popple_redis_round_trips", "Round trips to Redis this process made (a command or a script each)"
)
TASKS_PUBLISHED = Counter("popple_tasks_published", "Celery task messages this process published, by task", ["task"])


def count_queries(sender, connection, **kwargs):
    """On each new database connection: count its statements (Django's execute wrappers see every
    statement, the ORM's and raw SQL's alike). The wrapper list lives as long as the connection
    object, which outlives reconnects: it is added once."""
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


def _count_query(execute, sql, params, many, context):
    SQL_QUERIES.labels(context["connection"].alias).inc()
    return execute(sql, params, many, context)


def count_publish(sender=None, **kwargs):
    """Celery's after_task_publish: one task message handed to RabbitMQ (or to the outbox's broker)."""
    TASKS_PUBLISHED.labels(sender).inc()


def count_karma(sender, outcome, **kwargs):
    """What a version of a message did: its changes applied, and what the rules refused."""
    KARMA_APPLIED.inc(len(outcome.applied))
    for refusal in outcome.refusals:
        KARMA_REFUSED.labels(refusal.rule).inc()


class GatewayCollector(Collector):
    """The gateway's figures that are read rather than counted: its outbox and its shards."""

    def __init__(self, client, outbox):
        self.client = client
        self.outbox = outbox

    def collect(self):
        yield GaugeMetricFamily(
            "popple_outbox_depth",
            "Messages in the gateway's outbox, not taken by RabbitMQ yet",
            value=self.outbox.stored,
        )
        yield GaugeMetricFamily(
            "popple_outbox_oldest_age_seconds",
            "How long the oldest message in the outbox has waited for RabbitMQ (0: empty)",
            value=self.outbox.oldest_age(),
        )
        latency = GaugeMetricFamily(
            "popple_shard_latency_seconds",
            "Time between a shard's heartbeat and Discord's acknowledgement (absent until the first one)",
            labels=["shard"],
        )
        for shard_id, seconds in self.client.latencies:
            if seconds == seconds and seconds != float("inf"):  # discord.py says nan/inf before the first
                latency.add_metric([str(shard_id)], seconds)
        yield latency


class BrokerCollector(Collector):
    """Whether this process reaches RabbitMQ, tried when scraped: the broker's health as a figure
    to alert on, not a health check that fails (the web's /healthz no longer asks, monitoring/health.py)."""

    def collect(self):
        from poppleproject.celery import app  # Django's settings are loaded by now

        try:
            # One attempt (kombu's connect does not retry), cut short: a scrape must not hang.
            with app.connection_for_write(connect_timeout=2) as connection:
                connection.connect()
            up = 1
        except Exception:  # any failure means unreachable; the scrape itself goes on
            up = 0
        yield GaugeMetricFamily(
            "popple_broker_up", "1 when this process reached RabbitMQ when scraped, else 0", value=up
        )


def register_gateway(client, outbox):
    """Serve the gateway's figures; returns the collector, whose client a gateway that reconnects
    with other intents replaces (botgateway/management/commands/rungateway.py)."""
    collector = GatewayCollector(client, outbox)
    REGISTRY.register(collector)
    return collector


def serve():
    """Serve this process's metrics at http://METRICS_ADDRESS:METRICS_PORT/metrics, when the port is set."""
    port, address = settings.METRICS_PORT, settings.METRICS_ADDRESS
    if not port:
        return
    from poppleproject.celery import tasks_run_inline

    if not tasks_run_inline():  # one process without a broker has none to report on
        REGISTRY.register(BrokerCollector())
    try:
        start_http_server(port, addr=address)
    except OSError as exc:
        raise SystemExit(f"popple: configuration error: METRICS_PORT {port} on {address}: {exc.strerror}") from None
    logger.info("metrics at http://%s:%d/metrics", address, port)
