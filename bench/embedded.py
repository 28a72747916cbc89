"""The one-process default: messages applied on SQLite with tasks inline, no Discord.

    python bench/embedded.py

Two measures: the karma task called inline for each message, and the whole path `runbot` takes
after discord.py hands over a message (the gateway's outbox on disk, its publisher thread, the
task inline). Replies go nowhere: Discord is not part of this question.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = Path(tempfile.mkdtemp(prefix="popple-embedded-"))
os.environ.update(
    DJANGO_SETTINGS_MODULE="poppleproject.settings",
    DJANGO_READ_DOT_ENV_FILE="false",
    DATABASE_URL=f"sqlite:///{WORKDIR / 'popple.sqlite3'}",
)
for variable in ("CELERY_BROKER_URL", "REDIS_URL"):
    os.environ.pop(variable, None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench.messages import karma_lines  # noqa: E402
from bench.report import markdown_table, report  # noqa: E402
from botgateway.management.commands.runbot import Command as RunBot  # noqa: E402
from botgateway.outbox import Outbox  # noqa: E402
from botgateway.rest import use_sender  # noqa: E402
from karma.message import IncomingMessage  # noqa: E402
from karma.models import LedgerEntry  # noqa: E402
from karma.tasks import handle_message  # noqa: E402

COUNT = 5000


class CountingSender:
    def __init__(self):
        self.replies = 0

    def deliver(self, channel_id, message_id, chunks, reaction):
        self.replies += 1

    def close(self):
        pass


def payloads(first_id):
    return [
        IncomingMessage(
            guild_id=1 + n % 50,
            channel_id=100 + n % 50,
            message_id=first_id + n,
            author_id=1000 + n % 50,
            author_name=f"user{n % 50}",
            content=line,
            bot_id=1,
            bot_name="Popple",
            mentions={},
            can_manage=False,
        ).to_payload()
        for n, line in enumerate(karma_lines(COUNT))
    ]


def inline():
    start = time.perf_counter()
    for payload in payloads(10_000_000):
        handle_message.delay(payload)
    return COUNT / (time.perf_counter() - start)


def through_outbox(sender):
    before = sender.replies
    outbox = Outbox(WORKDIR / "outbox.sqlite3", 100_000, RunBot().publish)  # what runbot hands it
    outbox.start()
    start = time.perf_counter()
    for payload in payloads(20_000_000):
        outbox.put(payload)
    while sender.replies - before < COUNT:
        time.sleep(0.001)
    rate = COUNT / (time.perf_counter() - start)
    outbox.stop()
    return rate


def main():
    call_command("migrate", verbosity=0)
    sender = CountingSender()
    use_sender(sender)
    rates = {"karma task inline": inline(), "runbot's path: outbox, then the task inline": through_outbox(sender)}
    assert sender.replies == 2 * COUNT
    assert LedgerEntry.objects.filter(message_id__gte=10_000_000).exists()
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"{COUNT:,} karma messages over 50 servers, SQLite (WAL), one process:\n\n"
            + markdown_table(["path", "messages/s"], [[path, f"{rate:,.0f}"] for path, rate in rates.items()]),
        ]
    )
    report("embedded", text)


if __name__ == "__main__":
    main()
