"""The one-process default: messages applied on SQLite with tasks inline, no Discord.

    python bench/embedded.py [--without-posting]

Two measures: the karma task called inline for each message, and the whole path `runbot` takes
after discord.py hands over a message (the gateway's outbox on disk, its publisher thread, the
task inline), timed until the fake has the last reply. Each reply is posted, as runbot posts it,
to the fake Discord (with generous limits), which runs in a process of its own so that it does not
share this one's GIL.

--without-posting: the courier drops each reply instead of posting it, to see what posting costs
the process (a diagnosis: its figures are not the one-process default's, and are not reported).
"""

import multiprocessing
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


def serve_discord(connection):
    """The fake Discord, in a process of its own: says where it is, then how many messages it got."""
    from testkit.fakediscord import FakeDiscord

    fake = FakeDiscord().start()
    connection.send(fake.environment())
    while connection.recv():
        connection.send(len(fake.messages))


if __name__ == "__main__":
    DISCORD, discord_process = multiprocessing.Pipe()
    multiprocessing.Process(target=serve_discord, args=(discord_process,), daemon=True).start()
    os.environ.update(DISCORD.recv())

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench.messages import karma_lines  # noqa: E402
from bench.report import markdown_table, report  # noqa: E402
from botgateway.management.commands.runbot import Command as RunBot  # noqa: E402
from botgateway.outbox import Outbox  # noqa: E402
from karma.message import IncomingMessage  # noqa: E402
from karma.models import GuildSettings, LedgerEntry  # noqa: E402
from karma.router import respond  # noqa: E402
from karma.tasks import handle_message  # noqa: E402

COUNT = 5000


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


def inline(first_id):
    start = time.perf_counter()
    for payload in payloads(first_id):
        handle_message.delay(payload)
    return COUNT / (time.perf_counter() - start)


def router_alone(first_id):
    start = time.perf_counter()
    for payload in payloads(first_id):
        respond(IncomingMessage.from_payload(payload))
    return COUNT / (time.perf_counter() - start)


def rules(**values):
    """Set the fair-karma rules of the 50 servers (karma/rules.py)."""
    for guild_id in range(1, 51):
        GuildSettings.objects.update_or_create(guild_id=guild_id, defaults=values)


NO_RULES = {"allow_self_karma": True, "cooldown": 0, "budget": 0, "max_change": 0, "ignored": []}
ALL_RULES = {"allow_self_karma": False, "cooldown": 1, "budget": 10_000, "max_change": 5, "ignored": ["c", "i", "g"]}


def through_outbox(posting):
    runbot = RunBot()
    outbox = Outbox(WORKDIR / "outbox.sqlite3", 100_000, runbot.publish, together=runbot.chat_message)  # as runbot
    outbox.start()
    sent = payloads(20_000_000)  # made before the clock starts: the bench's work, not Popple's
    posted = wait_for_posts(COUNT) if posting else 0  # the replies of the inline run before
    start = time.perf_counter()
    for payload in sent:
        outbox.put(payload)
    # Until the last reply is posted, as the fake Discord counts (asked through a pipe: a query here
    # would share the process, and its GIL, with what it measures). Without posting, until the last
    # message is applied.
    if posting:
        wait_for_posts(posted + COUNT)
    else:
        while not LedgerEntry.objects.filter(message_id=20_000_000 + COUNT - 1).exists():
            time.sleep(0.02)
    rate = COUNT / (time.perf_counter() - start)
    outbox.stop()
    return rate


def answered():
    DISCORD.send("how many?")
    return DISCORD.recv()


def wait_for_posts(count):
    """Until the fake Discord got `count` messages in all; returns that count."""
    while answered() < count:
        time.sleep(0.02)
    return count


def main():
    posting = "--without-posting" not in sys.argv
    if not posting:
        from botgateway.delivery import Courier

        Courier.hand_over = lambda self, reply: None  # type: ignore[method-assign]
    call_command("migrate", verbosity=0)
    rates = {
        "karma task inline": inline(10_000_000),
        "runbot's path: outbox, then the task inline, until the last reply is posted": through_outbox(posting),
    }
    # Rules off and on, in turns, the best of three each: this machine's speed drifts. The task
    # inline shares the process with the threads posting replies; the router alone does not.
    for label, measure in (("karma task inline", inline), ("the router alone (no task, no reply)", router_alone)):
        off, on = f"{label}, every fair-karma rule off", f"{label}, every rule on"
        for turn in range(3):
            first = 30_000_000 + len(rates) * 1_000_000 + turn * 100_000
            rules(**NO_RULES)
            rates[off] = max(rates.get(off, 0), measure(first))
            rules(**ALL_RULES)
            rates[on] = max(rates.get(on, 0), measure(first + 50_000))
        rates[f"{label}: every rule on / every rule off"] = rates[on] / rates[off]
    if not posting:
        for path, rate in rates.items():
            print(f"{path}, replies not posted: {rate:,.2f}")
        return
    while answered() < 8 * COUNT:  # replies are posted by the courier's threads: wait for the last
        time.sleep(0.1)
    assert answered() == 8 * COUNT  # every message given to the task answered, once
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"{COUNT:,} karma messages over 50 servers, SQLite (WAL), one process:\n\n"
            + markdown_table(
                ["path", "messages/s"],
                [[path, f"{rate:.2f}" if rate < 10 else f"{rate:,.0f}"] for path, rate in rates.items()],
            ),
        ]
    )
    report("embedded", text)


if __name__ == "__main__":
    main()
