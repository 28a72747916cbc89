"""Within Discord's real limits: the distributed stack against a fake Discord that enforces them.

The fake allows 5 messages per 5 s per channel, 1 reaction per 0.25 s per channel and 50 requests
per second in all, answering 429 beyond, as Discord does. Popple runs as the Procfile deploys it:
two karma workers, two reply workers, a gateway, RabbitMQ, MariaDB and Redis.
"""

import itertools
import string
import time

import pytest
from django.db.models import Count

from karma.models import Karma, LedgerEntry
from testkit.burst import Burst
from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

BURST = 60


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def people(fake_discord):
    return [fake_discord.add_user(f"person{i}") for i in range(BURST)]


def server(fake, people, name, channels=1):
    guild = fake.add_guild(name, channels=channels)
    for person in people:
        fake.add_member(guild, person)
    return guild


@pytest.fixture(scope="module")
def stack(stack_factory, fake_discord):
    stack = stack_factory()
    for name, process in (("karma1", "worker"), ("karma2", "worker"), ("replies1", "replies"),
                          ("replies2", "replies")):  # fmt: skip
        stack.deployed(name, process)
    stack.connected_gateway()
    return stack


def said_in(fake, channel_id):
    return [m for m in fake.messages if m.channel_id == channel_id]


def ledger(guild, subject):
    rows = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id, subject=subject)
    return rows.count(), rows.values("message_id").annotate(n=Count("id")).filter(n__gt=1).count()


def test_a_burst_in_one_channel_slows_no_other_and_draws_no_429(stack, fake_discord):
    burst = Burst(fake_discord).send()
    assert burst.wait(timeout=60)
    stack.wait_idle()
    figures = burst.figures()
    # Every other server's reply came within 2 s of its message, whatever the busy channel held.
    assert max(figures.cold_latencies) < 2.0
    # The busy channel was fully reported within 10 s, and its last word is the latest value.
    assert figures.busy_seconds < 10.0
    assert burst.busy_channel()[-1].content == burst.expected
    assert figures.busy_messages <= 7  # five in the first window, the rest merged
    assert figures.too_many == fake_discord.rate_limit_violations() == 0
    # Each change applied exactly once.
    assert Karma.objects.using("mariadb").get(guild_id=burst.hot.id, subject="hot").karma == BURST
    assert ledger(burst.hot, "hot") == (BURST, 0)


def test_a_429_from_another_client_is_honoured_by_every_worker(stack, fake_discord, people):
    fake = fake_discord
    guilds = [server(fake, people, f"shared-{n}") for n in range(10)]
    before = fake.too_many_requests()
    fake.fail_rest(429, seconds=3.0, retry_after=3.0, is_global=True)  # someone else spent the budget
    blocked_until = time.perf_counter() + 3.0
    sent = []
    for n, guild in enumerate(guilds):  # one at a time, so that each reply worker gets some
        sent.append(fake.send(guild, people[n], f"patient{n}++"))
        time.sleep(0.1)
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in sent), timeout=30)
    # One 429 taught both reply worker processes (they share the budget through Redis).
    assert fake.too_many_requests() - before == 1
    first_replies = [min(m.at for m in fake.messages if m.nonce and m.nonce.startswith(f"{s}.")) for s in sent]
    assert min(first_replies) >= blocked_until - 0.05


def test_no_command_and_no_message_floods_a_channel(stack, fake_discord, people):
    fake = fake_discord
    guild = server(fake, people, "floods", channels=7)
    names = [f"{'_' * 125}{n:03}" for n in range(100)]  # 128 characters, the longest a name may be
    setup = [
        fake.send(guild, people[0], " ".join(f"({name})++" for name in names[n : n + 20]), channel_id=channel)
        for n, channel in zip(range(0, 100, 20), guild.channel_ids, strict=False)
    ]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in setup), timeout=30)
    board = fake.send(guild, people[1], "@Popple bot 100", channel_id=guild.channel_ids[5])
    short_names = ["".join(pair) for pair in itertools.product(string.ascii_lowercase, repeat=2)][:400]
    everything = " ".join(f"{name}++" for name in short_names)  # 400 subjects in 2,000 characters
    assert len(everything) < 2000
    flood = fake.send(guild, people[2], everything, channel_id=guild.channel_ids[6])
    assert fake.wait_until(lambda: fake.replies_to(board) and fake.replies_to(flood), timeout=30)
    stack.wait_idle()

    assert len(fake.replies_to(board)) == 2
    assert fake.replies_to(board)[-1].endswith(" more.")
    assert fake.replies_to(flood) == [
        " ".join(f"{name} has 1 karma." for name in short_names[:20]) + " (Only the first 20 names in a message count.)"
    ]
    assert Karma.objects.using("mariadb").filter(guild_id=guild.id, subject__in=short_names).count() == 20
    assert fake.rate_limit_violations() == 0


def test_nothing_is_lost_when_a_reply_worker_is_killed_while_replies_are_held(stack, fake_discord, people):
    fake = fake_discord
    busy = server(fake, people, "killed")
    channel = busy.channel_ids[0]
    # Five replies, one at a time, take the channel's bucket; the rest of the burst is held (in
    # Redis) until it refills. (Sent at once, messages that wait in the gateway's outbox together
    # go in one task, and their replies may be merged before any is held.)
    burst = []
    for person in people[:5]:
        burst.append(fake.send(busy, person, "survivor++"))
        assert fake.wait_until(lambda: len(said_in(fake, channel)) == len(burst), timeout=30)
    burst += [fake.send(busy, person, "survivor++") for person in people[5:30]]
    for name in ("replies1", "replies2"):
        stack.processes[name].kill()
    stack.deployed("replies3", "replies")
    assert fake.wait_until(lambda: any("survivor has 30 karma." in m.content for m in said_in(fake, channel)))
    stack.wait_idle()
    assert said_in(fake, channel)[-1].content == "survivor has 30 karma."
    assert ledger(busy, "survivor") == (len(burst), 0)
    assert fake.rate_limit_violations() == 0
