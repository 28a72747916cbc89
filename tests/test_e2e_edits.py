"""Edits and deletes end to end: fake Discord -> gateway -> RabbitMQ -> two Celery workers ->
MariaDB -> replies -> fake Discord; and tasks delivered out of order, or twice, to real workers."""

import time

import pytest
from celery import Celery

from botgateway.snowflakes import edit_reply_id, sent_at
from karma.models import Karma, LedgerEntry, MessageVersion
from poppleproject import rabbitmq
from testkit.messages import snowflake
from testkit.stack import BROKER_URL

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


@pytest.fixture(scope="module")
def world(fake_discord):
    alice = fake_discord.add_user("alice")
    return fake_discord.add_guilds(("edits", "deletes", "window", "order", "quiet", "restart"), alice), alice


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.worker("worker1")
    stack.worker("worker2")
    stack.connected_gateway()
    return stack


def karma(guild):
    rows = Karma.objects.using("mariadb").filter(guild_id=guild.id).exclude(karma=0)
    return dict(rows.values_list("subject", "karma"))


def said(fake, message_id, edited=None):
    """What Popple answered to a message, or to one of its edits; waits for the answer."""
    key = edit_reply_id(message_id, edited) if edited else message_id
    assert fake.wait_until(lambda: fake.replies_to(key), timeout=60)
    return fake.replies_to(key)


def test_edits_add_remove_and_replace_subjects(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world[0]["edits"], world[1]
    message = fake.send(guild, alice, "bob++ carol--")
    assert said(fake, message) == ["bob has 1 karma. carol has -1 karma."]
    assert said(fake, message, fake.edit(guild, message, "bob++ carol-- dave++ for the docs")) == ["dave has 1 karma."]
    assert said(fake, message, fake.edit(guild, message, "bob++ dave++")) == ["carol has 0 karma."]
    assert said(fake, message, fake.edit(guild, message, "erin++ dave++")) == ["erin has 1 karma. bob has 0 karma."]
    fake.add_embed(guild, message)  # no edit: changes nothing, says nothing
    unchanged = fake.edit(guild, message, "erin++ dave++ (typo)")
    marker = fake.send(guild, alice, "marker++")
    said(fake, marker)
    stack.wait_idle()
    assert fake.replies_to(edit_reply_id(message, unchanged)) == []
    assert karma(guild) == {"erin": 1, "dave": 1, "marker": 1}
    rows = LedgerEntry.objects.using("mariadb").filter(message_id=message)
    assert sum(rows.filter(subject="dave").values_list("delta", flat=True)) == 1
    assert rows.get(subject="dave").reason == "the docs"
    assert "Ignoring exception" not in stack.processes["gateway"].log()


def test_a_deleted_message_and_a_bulk_delete_take_their_karma_back(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world[0]["deletes"], world[1]
    sent = []
    for content in ("bob++", "bob++ carol++", "carol--", "dave++"):  # one at a time: each is answered
        sent.append(fake.send(guild, alice, content))
        said(fake, sent[-1])
    edited = fake.edit(guild, sent[0], "bob++ erin++")
    said(fake, sent[0], edited)
    fake.delete(guild, sent[0])
    fake.bulk_delete(guild, sent[1:3])
    assert fake.wait_until(lambda: karma(guild) == {"dave": 1}, timeout=60)
    stack.wait_idle()
    assert karma(guild) == {"dave": 1}
    deleted = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id, source="deleted")
    assert sorted(deleted.values_list("subject", "delta")) == [("bob", -1), ("bob", -1), ("carol", -1), ("carol", 1),
                                                               ("erin", -1)]  # fmt: skip
    assert all(len(fake.replies_to(m)) == 1 for m in sent)  # a deletion says nothing


def test_edits_and_deletes_after_the_window_change_nothing(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world[0]["window"], world[1]
    old = []
    for _ in range(2):  # one at a time: a later "bob has 2 karma." would make "1" go unsaid
        old.append(fake.send(guild, alice, "bob++", seconds_ago=25 * 3600))
        said(fake, old[-1])
    late = fake.edit(guild, old[0], "carol++")
    fake.delete(guild, old[1])
    marker = fake.send(guild, alice, "marker++")
    said(fake, marker)
    stack.wait_idle()
    assert fake.replies_to(edit_reply_id(old[0], late)) == []
    assert karma(guild) == {"bob": 2, "marker": 1}


class Deliverer:
    """Hands tasks to the workers directly, as the gateway would, in the order a test chooses."""

    def __init__(self, fake, guild, alice):
        self.fake, self.guild, self.alice = fake, guild, alice
        self.publisher = Celery(broker=BROKER_URL, set_as_current=False)
        self.publisher.conf.task_queues = rabbitmq.task_queues()  # Popple's queues, declared already

    def version(self, message_id, content, edited=0):
        """The payload the gateway makes of a message as sent (`edited` 0) or of an edit."""
        payload = {"guild_id": self.guild.id, "channel_id": self.guild.channel_ids[0], "message_id": message_id,
                   "author_id": self.alice, "author_name": "alice", "content": content, "mentions": {},
                   "bot_id": int(self.fake.bot["id"]), "bot_name": "Popple", "can_manage": False,
                   "edited": edited, "sent_at": sent_at(message_id),
                   "reply_id": edit_reply_id(message_id, edited) if edited else 0}  # fmt: skip
        self.publisher.send_task("karma.handle_message", args=[payload], queue="karma")

    def delete(self, message_id):
        payload = {"guild_id": self.guild.id, "channel_id": self.guild.channel_ids[0], "deleted": [message_id],
                   "at": time.time()}  # fmt: skip
        self.publisher.send_task("karma.message_deleted", args=[payload], queue="karma")


def revision_of(message_id):
    row = MessageVersion.objects.using("mariadb").filter(message_id=message_id).first()
    return row and row.revision


def test_reordered_and_redelivered_tasks_leave_the_last_version(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world[0]["order"], world[1]
    deliver = Deliverer(fake, guild, alice)
    now, second = int(time.time() * 1_000_000), 1_000_000  # edits a second apart: replies are told apart by ms

    # The edit's task before the message's: the edit is what counts.
    first = snowflake()
    deliver.version(first, "carol++", edited=now + second)
    assert fake.wait_until(lambda: revision_of(first) == now + second, timeout=60)
    deliver.version(first, "bob++")
    assert said(fake, first) == ["carol has 1 karma."]

    # Two edits in reverse order, then the newer again (redelivered).
    two = snowflake()
    deliver.version(two, "dave++")
    said(fake, two)
    deliver.version(two, "erin++", edited=now + 20 * second)
    assert said(fake, two, now + 20 * second) == ["erin has 1 karma. dave has 0 karma."]
    deliver.version(two, "frank++", edited=now + 10 * second)
    deliver.version(two, "erin++", edited=now + 20 * second)
    deliver.version(two, "dave++")

    # A deletion racing an edit, each delivered twice: nothing is left.
    third = snowflake()
    deliver.version(third, "gus++")
    said(fake, third)
    for _ in range(2):
        deliver.version(third, "gus++ hal++", edited=now + 30 * second)
        deliver.delete(third)

    marker = fake.send(guild, alice, "marker++")
    said(fake, marker)
    stack.wait_idle()
    assert karma(guild) == {"carol": 1, "erin": 1, "marker": 1}
    rows = LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id)
    # Each change once: the ledger adds up to the karma, and no version counted twice.
    totals = {}
    for subject, delta in rows.values_list("subject", "delta"):
        totals[subject] = totals.get(subject, 0) + delta
    assert {subject: total for subject, total in totals.items() if total} == karma(guild)
    assert rows.filter(message_id=two, subject="erin").count() == 1
    assert not rows.filter(subject="frank").exists()
    assert fake.replies_to(edit_reply_id(two, now + 10 * second)) == []


def test_edits_and_deletes_of_messages_without_karma_leave_no_rows(stack, world, fake_discord):
    """Edits and a purge of chat without karma never reach a worker; an edit that now holds a sign,
    and the deletion of its message, do, but change nothing and write no MessageVersion row: the
    gateway says it did not forward the message, so it is not on its way."""
    fake, guild, alice = fake_discord, world[0]["quiet"], world[1]
    chatter = [fake.send(guild, alice, f"hello {n}") for n in range(10)]
    for n in range(30):
        fake.edit(guild, chatter[n % 10], f"hello again {n}")
    signed = fake.edit(guild, chatter[0], "bob++ after all")
    command = fake.send(guild, alice, "@Popple karma bob")
    assert said(fake, command) == ["bob has 0 karma."]
    command_signed = fake.edit(guild, command, "@Popple karma bob++")
    fake.bulk_delete(guild, chatter)
    fake.delete(guild, command)
    marker = fake.send(guild, alice, "marker++")
    said(fake, marker)
    stack.wait_idle()
    assert karma(guild) == {"marker": 1}
    assert not MessageVersion.objects.using("mariadb").filter(message_id__in=[*chatter, command]).exists()
    assert not LedgerEntry.objects.using("mariadb").filter(message_id__in=[*chatter, command]).exists()
    assert fake.replies_to(edit_reply_id(chatter[0], signed)) == []
    assert fake.replies_to(edit_reply_id(command, command_signed)) == []


def test_a_restarted_gateway_still_follows_the_messages_it_forwarded(stack, world, fake_discord):
    """What the gateway forwarded with a karma sign is kept next to its outbox: after a restart, an
    edit that removes the sign and a deletion still take the karma back."""
    fake, guild, alice = fake_discord, world[0]["restart"], world[1]
    edited, deleted = fake.send(guild, alice, "bob++ carol++"), fake.send(guild, alice, "dave++")
    said(fake, edited)
    said(fake, deleted)
    gateway = stack.processes["gateway"]
    gateway.stop()
    gateway.start().wait_for_log("connected to Discord as Popple")
    assert said(fake, edited, fake.edit(guild, edited, "thanks, both")) == ["bob has 0 karma. carol has 0 karma."]
    fake.delete(guild, deleted)
    assert fake.wait_until(lambda: karma(guild) == {}, timeout=60)
