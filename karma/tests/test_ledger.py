"""The data layer, run the same on SQLite and on MariaDB."""

import threading

import pytest
from django.db import connections

from karma import config
from karma.ledger import reads, writes
from karma.models import Karma, LedgerEntry
from testkit.databases import DATABASES
from testkit.messages import chat


def said(outcome):
    return outcome.applied, outcome.announce


def karma_in(database, guild_id):
    return dict(Karma.objects.using(database).filter(guild_id=guild_id).values_list("subject", "karma"))


@pytest.mark.django_db(databases=DATABASES)
def test_apply_returns_totals_in_order(database):
    writes.apply_changes(chat("", guild_id=1), [("b", 5)])
    outcome = writes.apply_changes(chat("", guild_id=1), [("b", 1), ("a", -1)])
    totals, announce = outcome.applied, outcome.announce
    assert totals == [("b", 6, 2), ("a", -1, 1)]  # (subject, karma, version)
    assert announce is True
    assert karma_in(database, 1) == {"b": 6, "a": -1}


@pytest.mark.django_db(databases=DATABASES)
def test_same_message_applies_once_and_answers_the_same(database):
    first = chat("", guild_id=1)
    assert said(writes.apply_changes(first, [("x", 1), ("y", -1)])) == ([("x", 1, 1), ("y", -1, 1)], True)
    writes.apply_changes(chat("", guild_id=1), [("x", 1)])
    assert said(writes.apply_changes(first, [("x", 1), ("y", -1)])) == ([("x", 1, 1), ("y", -1, 1)], True)
    assert karma_in(database, 1) == {"x": 2, "y": -1}
    assert LedgerEntry.objects.using(database).filter(message_id=first.message_id).count() == 2


@pytest.mark.django_db(databases=DATABASES)
def test_ledger_records_each_change(database):
    message = chat("", guild_id=3, author_id=77)
    writes.apply_changes(message, [("x", 2), ("y", -1)])
    rows = LedgerEntry.objects.using(database).order_by("subject")
    assert [
        (r.guild_id, r.channel_id, r.message_id, r.author_id, r.subject, r.delta, r.total, r.source) for r in rows
    ] == [
        (3, 30, message.message_id, 77, "x", 2, 2, "chat"),
        (3, 30, message.message_id, 77, "y", -1, -1, "chat"),
    ]


@pytest.mark.django_db(databases=DATABASES)
def test_names_compare_exactly(database):
    names = ["Popple", "popple", "POPPLE", "café", "cafe\u0301", "cafe", "a", "a ", " a", "🎉", "🎊", "ß", "ss"]
    writes.apply_changes(chat("", guild_id=1), [(name, 1) for name in names])
    assert karma_in(database, 1) == dict.fromkeys(names, 1)
    assert reads.karma_of(1, ["popple", "a ", "nobody"]) == [("popple", 1), ("a ", 1), ("nobody", 0)]


@pytest.mark.django_db(databases=DATABASES)
def test_servers_are_separate(database):
    writes.apply_changes(chat("", guild_id=1), [("x", 1)])
    writes.apply_changes(chat("", guild_id=2), [("x", -1)])
    assert reads.karma_of(1, ["x"]) == [("x", 1)]
    assert reads.karma_of(2, ["x"]) == [("x", -1)]


@pytest.mark.django_db(databases=DATABASES)
def test_board_orders_by_karma_then_name_and_skips_zero(database):
    changes = [("b", 2), ("B", 2), ("a", 2), ("á", 2), ("low", -3), ("zero", 1)]
    writes.apply_changes(chat("", guild_id=1), changes)
    writes.apply_changes(chat("", guild_id=1), [("zero", -1)])
    assert reads.board(1, 10) == [("B", 2), ("a", 2), ("b", 2), ("á", 2), ("low", -3)]
    assert reads.board(1, 2, highest=False) == [("low", -3), ("B", 2)]
    assert reads.board(2, 10) == []


@pytest.mark.django_db(databases=DATABASES)
def test_announce_setting_defaults_on(database):
    assert reads.announce_enabled(5) is True
    config.change(5, "announce", "off", "test")
    assert reads.announce_enabled(5) is False
    assert said(writes.apply_changes(chat("", guild_id=5), [("x", 1)])) == ([("x", 1, 1)], False)
    config.change(5, "announce", "on", "test")
    assert reads.announce_enabled(5) is True


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_concurrent_application_is_exact(database):
    """Eight threads apply 40 messages each, every message also delivered by a second thread."""
    threads_count, per_thread = 8, 40
    messages = [
        [chat("", guild_id=9, author_id=t, message_id=1_000_000 + t * 1000 + i) for i in range(per_thread)]
        for t in range(threads_count)
    ]
    errors = []

    def work(t):
        try:
            mine = messages[t] + messages[(t + 1) % threads_count]  # the neighbour's are redeliveries
            for i, message in enumerate(mine):
                # Different subject orders per message, and new subjects created concurrently.
                changes = [("hot", 1), ("cold", -1), (f"new{message.message_id % 7}", 1)]
                writes.apply_changes(message, changes[i % 3 :] + changes[: i % 3])
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = threads_count * per_thread
    karma = karma_in(database, 9)
    assert karma["hot"] == total
    assert karma["cold"] == -total
    assert sum(v for k, v in karma.items() if k.startswith("new")) == total
    assert LedgerEntry.objects.using(database).filter(guild_id=9).count() == 3 * total
    # Each change of a subject has its own version, in the order the changes were applied.
    hot = LedgerEntry.objects.using(database).filter(guild_id=9, subject="hot").order_by("version")
    assert list(hot.values_list("version", "total")) == [(n, n) for n in range(1, total + 1)]
