"""What Popple forgets, and when: on SQLite and on MariaDB alike (karma/retention.py)."""

import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from karma import config, retention
from karma.message import JOINED, LEFT, PRESENT, UPDATED, ServerEvent
from karma.models import Giver, GuildSettings, Karma, LedgerEntry, MessageVersion, SettingChange
from karma.router import respond
from karma.tasks import anonymise_ledger, delete_departed_servers, server_event
from testkit.databases import DATABASES
from testkit.messages import chat
from testkit.processes import manage
from testkit.talk import new_guild, reply_to

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE, BOB = 700, 701


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return new_guild()


@pytest.fixture(autouse=True)
def no_earlier_run():
    # The mark an anonymising run leaves (Django's cache, this process's memory here).
    cache.delete(retention.ANONYMISED_BEFORE)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    # A handful of rows go through several batches, as millions would.
    monkeypatch.setattr(retention, "ID_RANGE", 2)
    monkeypatch.setattr(retention, "BATCH", 2)


def say(guild, content, author_id=ALICE, **kwargs):
    return reply_to(guild, content, author_id=author_id, author_name=f"user{author_id}", **kwargs).text() or None


def age(rows, days):
    """Backdate ledger rows by `days`."""
    rows.update(created_at=timezone.now() - timedelta(days=days))


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


def authors(guild):
    rows = LedgerEntry.objects.filter(guild_id=guild).values_list("subject", "author_id", "author_name")
    return sorted(rows, key=lambda row: (row[0], row[1] or 0))


# The ledger --------------------------------------------------------------------------------------


def test_old_ledger_rows_forget_their_author_and_keep_the_rest(guild, caplog):
    for content in ("a++ b++", "a++", "c--"):
        say(guild, content)
    say(guild, "a++", author_id=BOB)
    age(LedgerEntry.objects.filter(guild_id=guild, subject__in=["a", "b"], author_id=ALICE), 400)
    age(LedgerEntry.objects.filter(guild_id=guild, subject="c"), 300)
    before = sorted(LedgerEntry.objects.filter(guild_id=guild).values_list("subject", "delta", "total", "message_id"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="karma.retention"):
        assert retention.anonymise_ledger(365) == 3
    assert authors(guild) == [
        ("a", None, ""),
        ("a", None, ""),
        ("a", BOB, f"user{BOB}"),
        ("b", None, ""),
        ("c", ALICE, f"user{ALICE}"),
    ]
    after = sorted(LedgerEntry.objects.filter(guild_id=guild).values_list("subject", "delta", "total", "message_id"))
    assert after == before
    assert karma(guild) == {"a": 3, "b": 1, "c": -1}
    assert [r.getMessage() for r in caplog.records] == [
        "anonymised 3 ledger rows older than 365 days; forgot 0 people with no ledger row left"
    ]
    assert retention.anonymise_ledger(365) == 0  # nothing left to do


def test_old_ledger_rows_forget_their_reasons_too(guild):
    say(guild, "a++ for what only my friends know")
    say(guild, "b++ for today")
    age(LedgerEntry.objects.filter(guild_id=guild, subject="a"), 400)
    assert retention.anonymise_ledger(365) == 1
    reasons = sorted(LedgerEntry.objects.filter(guild_id=guild).values_list("subject", "reason"))
    assert reasons == [("a", ""), ("b", "today")]


def test_rows_anonymised_before_reasons_were_forgotten_lose_them_at_the_next_run(guild):
    say(guild, "a++ for what only my friends know")
    old = LedgerEntry.objects.filter(guild_id=guild)
    age(old, 400)
    old.update(author_id=None, author_name="")  # as a run before this version left them
    cache.set("popple:ledger-anonymised-before", timezone.now() - timedelta(days=365))  # its mark
    assert retention.anonymise_ledger(365) == 1
    assert list(old.values_list("reason", flat=True)) == [""]


def test_a_run_starts_where_the_last_one_stopped(guild, database):
    for content in ("a++", "b++", "c++", "d++"):
        say(guild, content)
    age(LedgerEntry.objects.filter(guild_id=guild, subject__in=["a", "b", "c"]), 400)
    assert retention.anonymise_ledger(365) == 3
    # A year of anonymised rows is not walked again: no row is past the last cutoff but d, which
    # ages past it meanwhile (it is 365 days and a minute old an hour later).
    age(LedgerEntry.objects.filter(guild_id=guild, subject="d"), 365)
    later = timezone.now() + timedelta(minutes=1)
    with CaptureQueriesContext(connections[database]) as queries:
        assert retention.anonymise_ledger(365, now=later) == 1
    updates = [query["sql"] for query in queries if query["sql"].startswith("UPDATE")]
    assert len(updates) == 1  # one range of ids (two rows here), not the whole ledger
    assert authors(guild) == [("a", None, ""), ("b", None, ""), ("c", None, ""), ("d", None, "")]


def test_zero_keeps_the_ledger_forever(guild):
    say(guild, "a++")
    age(LedgerEntry.objects.filter(guild_id=guild), 10_000)
    assert retention.anonymise_ledger(0) == 0
    assert authors(guild) == [("a", ALICE, f"user{ALICE}")]


def test_the_rules_still_work_after_anonymising(guild):
    config.change(guild, "cooldown", "60", "test")
    config.change(guild, "budget", "2", "test")
    old = chat("x++", guild_id=guild, author_id=ALICE, author_name="alice")
    assert respond(old).text() == "x has 1 karma."
    assert Giver.objects.filter(guild_id=guild, author_id=ALICE).exists()
    age(LedgerEntry.objects.filter(guild_id=guild), 30)
    assert retention.anonymise_ledger(8) == 1
    # Nobody's id is left in the ledger: their Giver row goes too, and comes back when needed.
    assert not Giver.objects.filter(guild_id=guild).exists()
    # A redelivery of the old message is still known by its id: it does not count twice.
    assert respond(old).text() == "x has 1 karma."
    assert say(guild, "x++") == "x has 2 karma."
    assert say(guild, "x++ y++") == "y has 1 karma. cooldown: you can change x again in 60 s."
    assert say(guild, "z++").startswith("budget: 2 changes per person per hour")
    assert karma(guild) == {"x": 2, "y": 1}


def test_a_retention_shorter_than_the_cooldown_is_a_configuration_error():
    result = manage("check", LEDGER_RETENTION_DAYS="7")
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1] == (
        "popple: configuration error: LEDGER_RETENTION_DAYS must be 0 (keep forever) or at least 8: "
        "the cooldown rule looks back up to 7 days"
    )
    assert manage("check", LEDGER_RETENTION_DAYS="8").returncode == 0
    assert manage("check", LEDGER_RETENTION_DAYS="0").returncode == 0


# Servers Popple left ---------------------------------------------------------------------------------


def event(kind, guild_ids, at):
    return ServerEvent(kind, guild_ids, at.timestamp())


def a_server_with_data(guild):
    config.change(guild, "budget", "5", "manager")
    say(guild, "a++ b--")
    say(guild, "a++", author_id=BOB)


def everything_of(guild):
    return {
        model.__name__: model.objects.filter(guild_id=guild).count()
        for model in (Karma, LedgerEntry, Giver, GuildSettings, SettingChange, MessageVersion)
    }


def test_a_server_is_deleted_only_after_the_retention_and_alone(guild, caplog):
    other = new_guild()
    a_server_with_data(guild)
    a_server_with_data(other)
    left = timezone.now()
    assert retention.record(event(LEFT, [guild], left)) == 1
    assert GuildSettings.objects.get(guild_id=guild).left_at == left
    assert retention.delete_departed(30) == []
    assert retention.delete_departed(30, now=left + timedelta(days=29, hours=23)) == []
    assert everything_of(guild) == {"Karma": 2, "LedgerEntry": 3, "Giver": 2, "GuildSettings": 1, "SettingChange": 1,
                                   "MessageVersion": 2}  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="karma.retention"):
        assert retention.delete_departed(30, now=left + timedelta(days=31)) == [guild]
    assert everything_of(guild) == dict.fromkeys(everything_of(guild), 0)
    assert everything_of(other) == {"Karma": 2, "LedgerEntry": 3, "Giver": 2, "GuildSettings": 1, "SettingChange": 1,
                                   "MessageVersion": 2}  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == [f"deleted data of server {guild}, left 31 days ago"]


def test_a_server_without_settings_is_marked_and_deleted_too(guild):
    say(guild, "a++")
    retention.record(event(LEFT, [guild], timezone.now() - timedelta(seconds=1)))
    assert retention.delete_departed(0) == [guild]
    assert not Karma.objects.filter(guild_id=guild).exists()
    assert not LedgerEntry.objects.filter(guild_id=guild).exists()


@pytest.mark.parametrize("back", [JOINED, PRESENT])
def test_coming_back_cancels_the_deletion(guild, back):
    a_server_with_data(guild)
    left = timezone.now() - timedelta(days=40)
    retention.record(event(LEFT, [guild], left))
    assert retention.record(event(back, [guild], left + timedelta(days=1))) == 1
    assert GuildSettings.objects.get(guild_id=guild).left_at is None
    assert retention.delete_departed(30) == []
    assert everything_of(guild)["Karma"] == 2


def test_the_latest_event_wins_whatever_order_they_arrive_in(guild):
    t = timezone.now() - timedelta(days=60)
    # A leave seen before a join, arriving after it, changes nothing.
    assert retention.record(event(JOINED, [guild], t + timedelta(seconds=2))) == 1
    assert retention.record(event(LEFT, [guild], t + timedelta(seconds=1))) == 0
    assert GuildSettings.objects.get(guild_id=guild).left_at is None
    # And the other way round.
    assert retention.record(event(LEFT, [guild], t + timedelta(seconds=4))) == 1
    assert retention.record(event(JOINED, [guild], t + timedelta(seconds=3))) == 0
    assert retention.record(event(PRESENT, [guild], t + timedelta(seconds=3))) == 0
    # A redelivered event changes nothing either.
    assert retention.record(event(LEFT, [guild], t + timedelta(seconds=4))) == 0
    assert GuildSettings.objects.get(guild_id=guild).left_at == t + timedelta(seconds=4)
    # Found present later: back.
    assert retention.record(event(PRESENT, [guild, guild + 1000], t + timedelta(seconds=5))) == 1
    assert GuildSettings.objects.get(guild_id=guild).left_at is None
    assert not GuildSettings.objects.filter(guild_id=guild + 1000).exists()  # "present" writes only departed ones


def test_servers_are_known_by_name_and_the_latest_name_wins(guild, database):
    t = timezone.now() - timedelta(days=1)
    assert retention.record(ServerEvent(JOINED, [guild], t.timestamp(), [["Café ☕", "a1b2"]])) == 1
    server = GuildSettings.objects.get(guild_id=guild)
    assert (server.name, server.icon, server.joined_at, str(server)) == ("Café ☕", "a1b2", t, f"Café ☕ ({guild})")
    renamed = ServerEvent(UPDATED, [guild], (t + timedelta(seconds=2)).timestamp(), [["Tea", None]])
    assert retention.record(renamed) == 1
    # A rename seen earlier, arriving later (or redelivered), changes nothing.
    assert retention.record(ServerEvent(UPDATED, [guild], (t + timedelta(seconds=1)).timestamp(), [["Old", "x"]])) == 0
    assert retention.record(renamed) == 0
    assert GuildSettings.objects.filter(guild_id=guild).values_list("name", "icon").get() == ("Tea", "")
    # At connect: servers renamed while no gateway was connected, and servers never seen, get their
    # names; the others are not written.
    later = (t + timedelta(seconds=3)).timestamp()
    other, unchanged = guild + 1000, guild + 2000
    retention.record(ServerEvent(JOINED, [unchanged], t.timestamp(), [["Same", None]]))
    with CaptureQueriesContext(connections[database]) as queries:
        retention.record(
            ServerEvent(PRESENT, [guild, other, unchanged], later, [["Tea 2", "b"], ["New", None], ["Same", None]])
        )
    names = GuildSettings.objects.filter(guild_id__in=[guild, other, unchanged]).values_list(
        "guild_id", "name", "named_at"
    )
    assert sorted(names) == sorted(
        [(guild, "Tea 2", t + timedelta(seconds=3)), (other, "New", t + timedelta(seconds=3)), (unchanged, "Same", t)]
    )
    assert not any("UPDATE" in query["sql"] and str(unchanged) in query["sql"] for query in queries.captured_queries)


def test_the_tasks_record_and_delete(guild, settings):
    settings.DEPARTED_SERVER_RETENTION_DAYS = 0
    settings.LEDGER_RETENTION_DAYS = 10
    a_server_with_data(guild)
    age(LedgerEntry.objects.filter(guild_id=guild, author_id=BOB), 11)
    assert server_event.apply(args=(event(LEFT, [guild], timezone.now()).to_payload(),)).state == "SUCCESS"
    assert anonymise_ledger.apply().state == "SUCCESS"
    assert LedgerEntry.objects.filter(guild_id=guild, author_id=None).count() == 1
    assert delete_departed_servers.apply().state == "SUCCESS"
    assert everything_of(guild) == dict.fromkeys(everything_of(guild), 0)


@pytest.mark.parametrize(
    "payload, problem",
    [
        (None, "payload must be an object, not NoneType"),
        ({"event": "left", "guild_ids": [1]}, "payload must have exactly the fields event, guild_ids and at"),
        (
            {"event": "kicked", "guild_ids": [1], "at": 1.0},
            "payload field event must be joined, left, present or updated",
        ),
        ({"event": "left", "guild_ids": [1, 2], "at": 1.0}, "payload field guild_ids must list 1 to 1 servers"),
        ({"event": "present", "guild_ids": [], "at": 1.0}, "payload field guild_ids must list 1 to 1000 servers"),
        ({"event": "joined", "guild_ids": ["1"], "at": 1.0}, "payload field guild_ids must hold server ids"),
        ({"event": "joined", "guild_ids": [True], "at": 1.0}, "payload field guild_ids must hold server ids"),
        ({"event": "joined", "guild_ids": [-5], "at": 1.0}, "payload field guild_ids must hold server ids"),
        ({"event": "joined", "guild_ids": [1], "at": "now"}, "payload field at must be a time in seconds"),
        ({"event": "joined", "guild_ids": [1], "at": float("nan")}, "payload field at must be a time in seconds"),
        ({"event": "joined", "guild_ids": [1], "at": 1e12}, "payload field at is in the future"),
        ({"event": "left", "guild_ids": [1], "at": 1.0, "names": [["a", None]]}, "payload field names must give one"),
        ({"event": "present", "guild_ids": [1, 2], "at": 1.0, "names": [["a", None]]}, "payload field names must"),
        ({"event": "updated", "guild_ids": [1], "at": 1.0}, "payload field names must give the server's new name"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": [["x" * 101, None]]}, "payload field names must"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": [["a", 5]]}, "payload field names must hold"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": [["a", None, 5]]}, "payload field names must hold"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": [["a", None, "x" * 17]]}, "payload field names"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": [["a", None, "de", 1]]}, "payload field names"),
        ({"event": "joined", "guild_ids": [1], "at": 1.0, "names": "a"}, "payload field names must give one"),
    ],
)
def test_a_malformed_server_event_is_rejected_with_one_log_line(guild, caplog, payload, problem):
    with caplog.at_level(logging.ERROR):
        result = server_event.apply(args=(payload,))
    assert result.state == "REJECTED"
    [line] = [r.getMessage() for r in caplog.records if r.name == "karma.tasks"]
    assert line.startswith(f"rejected malformed server event payload (task {result.id}): {problem}")
    assert not GuildSettings.objects.exists()


@pytest.mark.parametrize("task", [anonymise_ledger, delete_departed_servers])  # the third: botgateway/tests
def test_a_periodic_task_called_with_arguments_is_rejected(guild, caplog, task):
    with caplog.at_level(logging.ERROR):
        result = task.apply(args=("surprise",))
    assert result.state == "REJECTED"
    assert [r.getMessage() for r in caplog.records if r.name == "karma.tasks"] == [
        f"rejected task {task.name} ({result.id}): it takes no arguments"
    ]
