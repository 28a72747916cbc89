"""Edits and deletes follow the ledger, on SQLite and on MariaDB, in any order, however often."""

import random
import threading
import time

import pytest
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karma import config
from karma.models import Karma, LedgerEntry, MessageVersion
from karma.parser import parse_changes
from karma.replies import REFUSED
from karma.router import forget_deleted, respond
from testkit.databases import DATABASES
from testkit.messages import chat, deletion, edit_reply_id, snowflake
from testkit.talk import new_guild

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE = 700
DAY = 24 * 3600


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return new_guild()


class Message:
    """One Discord message and its versions, as the gateway forwards them."""

    def __init__(self, guild, content, seconds_ago=0.0, author_id=ALICE):
        self.guild, self.author_id = guild, author_id
        self.id = snowflake(seconds_ago)
        self.now_us = int(time.time() * 1_000_000)  # its edits are made from now on
        self.versions = [content]
        self.forwarded = True  # whether the gateway forwarded the message as sent (it held a sign)

    def version(self, number):
        """The message as sent (0) or as its `number`-th edit made it."""
        edited = self.now_us + number * 1000 if number else 0
        return chat(self.versions[number], guild_id=self.guild, author_id=self.author_id, author_name="zed",
                    message_id=self.id, edited=edited, message_forwarded=self.forwarded)  # fmt: skip

    def send(self):
        return respond(self.version(0)).text()

    def edit(self, content):
        """Edit the message; the reply's text."""
        self.versions.append(content)
        return self.deliver(len(self.versions) - 1)

    def deliver(self, number):
        reply = respond(self.version(number))
        if number:
            assert reply.message_id == edit_reply_id(self.id, self.version(number).edited)
            assert reply.reaction is None
        return reply.text()

    def delete(self, at=None):
        unsent = [] if self.forwarded else [self.id]
        forget_deleted(deletion(self.guild, self.guild * 10, [self.id], at or time.time(), not_forwarded=unsent))


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).exclude(karma=0).values_list("subject", "karma"))


def ledger(message):
    rows = LedgerEntry.objects.filter(message_id=message.id).order_by("id")
    return list(rows.values_list("subject", "delta", "source"))


def test_an_edit_adds_a_subject_and_names_it(guild):
    message = Message(guild, "bob++")
    assert message.send() == "bob has 1 karma."
    assert message.edit("bob++ alice++ thanks") == "alice has 1 karma."
    assert karma(guild) == {"bob": 1, "alice": 1}


def test_an_edit_takes_back_a_subject_it_no_longer_names(guild):
    message = Message(guild, "bob++ carol--")
    message.send()
    assert message.edit("bob++ carol") == "carol has 0 karma."
    assert karma(guild) == {"bob": 1}
    assert ledger(message) == [("bob", 1, "chat"), ("carol", -1, "chat"), ("carol", 1, "chat")]


def test_an_edit_replaces_a_subject_and_a_change(guild):
    message = Message(guild, "bob++")
    message.send()
    assert message.edit("alice++ bob--") == "alice has 1 karma. bob has -1 karma."
    assert karma(guild) == {"alice": 1, "bob": -1}


def test_an_edit_that_changes_no_karma_says_nothing(guild):
    message = Message(guild, "bob++")
    message.send()
    assert message.edit("bob++ (typo fixed)") == ""
    assert ledger(message) == [("bob", 1, "chat")]


def test_a_deleted_message_takes_back_everything_once(guild):
    message = Message(guild, "bob++ carol-- bob++")
    message.send()
    message.edit("bob++ carol--")
    message.delete()
    message.delete()  # redelivered
    assert karma(guild) == {}
    assert [row for row in ledger(message) if row[2] == "deleted"] == [("bob", -1, "deleted"), ("carol", 1, "deleted")]
    assert message.deliver(0) == ""  # late copies change nothing
    assert message.deliver(1) == ""
    assert karma(guild) == {}


def test_a_bulk_delete_takes_back_each_message(guild):
    messages = [Message(guild, content) for content in ("bob++", "bob++ carol++", "carol--", "no karma")]
    for message in messages:
        message.send()
    keep = Message(guild, "bob++")
    keep.send()
    forget_deleted(deletion(guild, guild * 10, [m.id for m in messages], time.time()))
    assert karma(guild) == {"bob": 1}


def test_edits_and_deletes_after_the_window_change_nothing(guild, settings):
    old = Message(guild, "bob++", seconds_ago=DAY + 60)
    old.send()
    assert old.edit("alice++") == ""
    old.delete()
    assert karma(guild) == {"bob": 1}
    settings.EDIT_WINDOW = 0
    recent = Message(guild, "carol++", seconds_ago=1)
    recent.send()
    recent.delete()
    assert karma(guild) == {"bob": 1, "carol": 1}


def test_a_message_that_never_counted_is_not_counted_by_an_edit(guild):
    for first in ("hello", "@Popple karma bob"):
        message = Message(guild, first)
        message.send()
        assert message.edit("bob++") == ""
    assert karma(guild) == {}


def test_an_edit_into_a_command_takes_the_karma_back_and_runs_nothing(guild):
    message = Message(guild, "bob++")
    message.send()
    assert message.edit("@Popple top") == "bob has 0 karma."
    assert karma(guild) == {}


def test_an_edit_applied_before_the_message_is_what_counts(guild):
    message = Message(guild, "bob++")
    message.versions.append("alice++")
    assert message.deliver(1) == ""  # waits for the message
    assert message.send() == "alice has 1 karma."
    assert message.deliver(1) == "alice has 1 karma."  # the edit again answers as the first time
    assert message.send() == ""  # the message again: edited since, nothing to say
    assert karma(guild) == {"alice": 1}


def test_two_edits_in_reverse_order_leave_the_last(guild):
    message = Message(guild, "bob++")
    message.versions += ["carol++", "dave++"]
    message.send()
    assert message.deliver(2) == "dave has 1 karma. bob has 0 karma."
    assert message.deliver(1) == ""  # older than the one applied
    assert karma(guild) == {"dave": 1}


def test_a_delete_before_an_edit_and_the_message_leaves_nothing(guild):
    message = Message(guild, "bob++")
    message.versions.append("alice++")
    message.delete()
    message.deliver(1)
    message.send()
    assert karma(guild) == {}
    assert LedgerEntry.objects.filter(message_id=message.id).count() == 0


def test_the_rules_apply_to_edits(guild):
    message = Message(guild, "bob++")
    message.send()
    assert message.edit("bob++ zed++") == "You cannot give yourself karma."
    config.change(guild, "maxchange", "2", "test")
    assert (
        message.edit("bob++ bob++ bob++ bob++")
        == "bob has 2 karma. max change: at most 2 karma per name in one message."
    )
    config.change(guild, "budget", "3", "test")
    said = message.edit("bob++ c++ d++ e++")
    assert said.startswith("bob has 1 karma. c has 1 karma. d has 1 karma. budget: 3 changes per person per hour")
    assert karma(guild) == {"bob": 1, "c": 1, "d": 1}
    config.change(guild, "announce", "off", "test")
    assert message.edit("bob++ zed++ f++") == ""  # refused, but an edit's reply never reacts
    assert karma(guild) == {"bob": 1, "f": 1}  # taking back c and d is always allowed


def test_with_announce_off_an_edit_changes_karma_silently(guild):
    config.change(guild, "announce", "off", "test")
    message = Message(guild, "zed++")
    assert respond(message.version(0)).reaction == REFUSED
    assert message.edit("bob++") == ""
    assert karma(guild) == {"bob": 1}


def test_old_versions_are_forgotten_after_twice_the_window(guild):
    from karma.retention import forget_versions
    from testkit.messages import snowflake

    old, recent = Message(guild, "bob++", seconds_ago=2 * DAY + 60), Message(guild, "bob++")
    old.send()
    recent.send()
    assert forget_versions(snowflake(seconds_ago=2 * DAY)) == 1  # the periodic task asks for 2 windows
    assert list(MessageVersion.objects.filter(guild_id=guild).values_list("message_id", flat=True)) == [recent.id]


def versions_of(message):
    return MessageVersion.objects.filter(message_id=message.id).count()


def test_edits_and_a_deletion_of_a_message_the_gateway_did_not_forward_write_no_row(guild):
    """The gateway forwards an edit that holds a sign although it did not forward the message as
    sent with one: the message is not on its way, and its versions change nothing, leave nothing."""
    for first in ("hello", "@Popple karma bob"):  # dropped; forwarded, but holding no sign
        message = Message(guild, first)
        if first.startswith("@"):
            assert message.send() == "bob has 0 karma."
        message.forwarded = False
        for content in ("bob++", "bob++ carol--", "hello again bob++"):
            assert message.edit(content) == ""
        message.delete()
        message.delete()  # redelivered
        assert versions_of(message) == 0
        assert ledger(message) == []
    assert karma(guild) == {}


def test_a_counted_message_follows_edits_forwarded_without_it(guild):
    """A gateway that lost its record of what it forwarded (a reshard) still forwards edits that
    hold a sign: they change a message the ledger counted, and so does its deletion."""
    message = Message(guild, "bob++")
    message.send()
    message.forwarded = False
    assert message.edit("carol++") == "carol has 1 karma. bob has 0 karma."
    message.delete()
    assert karma(guild) == {}
    assert versions_of(message) == 1


# -- any order, any number of times ----------------------------------------------------------------

SUBJECTS = st.sampled_from(["a", "b", "c"])
CONTENT = st.lists(st.tuples(SUBJECTS, st.sampled_from(["++", "--"])), max_size=4).map(
    lambda changes: " ".join(subject + sign for subject, sign in changes) or "no karma"
)


def expected(versions, deleted):
    """What the message's karma must be: its last version's, unless it never counted or is gone."""
    if deleted or not parse_changes(versions[0], {}):
        return {}
    return dict(parse_changes(versions[-1], {}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CONTENT, min_size=1, max_size=4), st.booleans(), st.randoms(use_true_random=False), st.data())
def test_any_order_with_duplicates_leaves_what_the_last_version_says(database, versions, deleted, shuffle, data):
    guild = new_guild()
    message = Message(guild, versions[0])
    message.versions = versions
    deliveries = list(range(len(versions))) + ["deleted"] * deleted
    deliveries += data.draw(st.lists(st.sampled_from(deliveries), max_size=3), label="duplicates")
    shuffle.shuffle(deliveries)
    for delivery in deliveries:
        message.delete() if delivery == "deleted" else message.deliver(delivery)
    assert karma(guild) == expected(versions, deleted)
    # Each change is in the ledger once: the ledger adds up to the karma.
    rows = LedgerEntry.objects.filter(guild_id=guild)
    totals = {}
    for subject, delta in rows.values_list("subject", "delta"):
        totals[subject] = totals.get(subject, 0) + delta
    assert {subject: total for subject, total in totals.items() if total} == expected(versions, deleted)


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_versions_applied_by_racing_threads_leave_the_last(database):
    """Four threads deliver every version of 20 messages (and some deletions), each in its own order."""
    guild = new_guild()
    messages = []
    for n in range(20):
        message = Message(guild, f"m{n}++ hot++")
        message.versions += [f"m{n}-- hot++ cold--", f"m{n}++ cold++"][: n % 3]
        messages.append(message)
    deleted = {message.id for message in messages[::5]}
    errors = []

    def work(seed):
        try:
            deliveries = [(m, v) for m in messages for v in range(len(m.versions))]
            deliveries += [(m, "deleted") for m in messages if m.id in deleted]
            random.Random(seed).shuffle(deliveries)
            for message, version in deliveries:
                message.delete() if version == "deleted" else message.deliver(version)
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    want = {}
    for message in messages:
        for subject, delta in expected(message.versions, message.id in deleted).items():
            want[subject] = want.get(subject, 0) + delta
    assert karma(guild) == {subject: total for subject, total in want.items() if total}
