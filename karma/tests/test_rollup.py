"""The ledger's roll-up (karma/ledger/rollup.py): rows older than LEDGER_DETAIL_DAYS become one row
per server, name and day, and what reads the ledger answers as before. On SQLite and MariaDB."""

import csv
import io
import json
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from karma import retention, seasons
from karma.ledger import reads, rollup
from karma.models import GuildSettings, Karma, LedgerEntry, LedgerReason, LedgerRollup, Season
from karma.moderation import actions
from karma.router import forget_deleted, respond
from karma.tests.test_import_popple import sqlite_popple  # noqa: F401 (a fixture)
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, deletion, snowflake
from testkit.processes import ROOT, clean_env, manage

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE, BOB = 700, 701
DAYS = 90
# 00:00 UTC of the first day kept in detail: rows are placed relative to it, so that which day a
# row falls on does not depend on the hour the test runs at.
EDGE = rollup.cutoff(DAYS)


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


@pytest.fixture(autouse=True)
def detail(settings, monkeypatch):
    settings.LEDGER_DETAIL_DAYS = DAYS
    settings.LEDGER_RETENTION_DAYS = 365
    cache.delete(rollup.ROLLED_UP_BEFORE)
    monkeypatch.setattr(rollup, "BATCH", 3)  # a handful of rows go through several batches


def say(guild, content, when, author_id=ALICE):
    """`content` said by `author_id`, its ledger rows dated `when`."""
    before = LedgerEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    talk.say(guild, content, author_id=author_id, author_name=f"user{author_id}")
    LedgerEntry.objects.filter(id__gt=before).update(created_at=when)


def day(n, hour=12):
    """`hour` o'clock on the n-th day before the detail starts (n <= 0: within the detail)."""
    return EDGE - timedelta(days=n) + timedelta(hours=hour)


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


def days(guild):
    rows = LedgerRollup.objects.filter(guild_id=guild).order_by("subject", "day")
    return list(rows.values_list("subject", "day", "delta", "changes", "total"))


def detail_rows(guild):
    return sorted(LedgerEntry.objects.filter(guild_id=guild).values_list("subject", "delta", "total", "created_at"))


def a_history(guild):
    """Changes on three old days (two of them busy) and two recent ones."""
    say(guild, "tea++ coffee--", day(30, 9))
    say(guild, "tea++ tea++", day(30, 15))
    say(guild, "tea--", day(29, 10), author_id=BOB)
    say(guild, "coffee++", day(29, 11))
    say(guild, "tea++", day(2))
    say(guild, "tea++ coffee++", day(-1))  # within the detail
    say(guild, "tea++", day(-60))


def test_old_rows_become_one_row_per_name_and_day(guild):
    a_history(guild)
    totals = karma(guild)
    recent = [row for row in detail_rows(guild) if row[3] >= EDGE]
    assert rollup.roll_up(DAYS) == 6  # `tea++ tea++` is one row
    assert days(guild) == [
        ("coffee", day(30).date(), -1, 1, -1),
        ("coffee", day(29).date(), 1, 1, 0),
        ("tea", day(30).date(), 3, 2, 3),
        ("tea", day(29).date(), -1, 1, 2),
        ("tea", day(2).date(), 1, 1, 3),
    ]
    assert detail_rows(guild) == recent
    assert karma(guild) == totals == {"tea": 5, "coffee": 1}


def test_merges_and_the_days_seasons_started_stay_and_reasons_are_kept_apart(guild):
    say(guild, "tea++ for the good brew", day(20))
    say(guild, "tea++", day(20, 13))
    say(guild, "tea++ for the fresh leaves", day(-2))  # within the detail
    # A reason whose message was deleted is not shown by `why`: it goes with the rest.
    deleted = snowflake()
    talk.say(guild, "tea-- for no reason", author_id=BOB, author_name="bob", message_id=deleted)
    forget_deleted(deletion(guild, guild * 10, [deleted], time.time()))
    LedgerEntry.objects.filter(message_id=deleted).update(created_at=day(19))
    say(guild, "chai++", day(18))
    actions.merge(guild, "chai", "tea", None)
    LedgerEntry.objects.filter(source=LedgerEntry.Source.MERGE).update(created_at=day(18, 14))
    say(guild, "milk++", day(10, 8))
    Season.objects.create(guild_id=guild, number=2, started_at=day(10, 9), started_by="mod")
    say(guild, "milk++", day(10, 10))
    why = talk.say(guild, "@Popple why tea")
    assert rollup.roll_up(DAYS) == 5  # the two tea++, the deleted message's two rows; chai++
    old = LedgerEntry.objects.filter(guild_id=guild, created_at__lt=EDGE).order_by("id")
    assert list(old.values_list("subject", "delta", "source", "reason")) == [
        ("chai", -1, "merge", ""),
        ("tea", 1, "merge", ""),
        ("milk", 1, "chat", ""),
        ("milk", 1, "chat", ""),
    ]
    assert ("tea", day(20).date(), 2, 2, 2) in days(guild)  # the reason's change counted in its day
    # Its reason kept apart; not the deleted message's.
    reasons = LedgerReason.objects.filter(guild_id=guild)
    assert list(reasons.values_list("subject", "delta", "author_id", "author_name", "reason", "created_at")) == [
        ("tea", 1, ALICE, f"user{ALICE}", "the good brew", day(20)),
    ]
    assert talk.say(guild, "@Popple why tea") == why
    assert why[0].index("the fresh leaves") < why[0].index("the good brew")  # newest first


def test_the_chart_draws_the_same_line_before_and_after(guild, client):
    GuildSettings.objects.update_or_create(guild_id=guild, defaults={"public": True})
    say(guild, "milk++", day(-1))  # only within the detail
    say(guild, "tea++ coffee--", day(30, 9))
    say(guild, "tea++ tea++", day(30, 15))
    say(guild, "tea--", day(29, 10), author_id=BOB)
    say(guild, "tea++ for a reason", day(29, 18))  # the day's last change, its reason kept apart
    say(guild, "tea++", day(2))
    say(guild, "tea++ coffee++", day(-1))
    say(guild, "tea++", day(-60))
    before = reads.history(guild, "tea", 1000)
    response = client.get(reverse("leaderboard:subject", args=[guild, "tea"]))
    assert response.status_code == 200
    page = response.content
    assert page.count(b'<circle class="point"') == 5  # one a day past the detail, one a change within
    assert rollup.roll_up(DAYS) == 6
    assert reads.history(guild, "tea", 1000) == before
    assert client.get(reverse("leaderboard:subject", args=[guild, "tea"])).content == page
    assert b"(a day at a time before the last 90 days).</figcaption>" in page
    recent = client.get(reverse("leaderboard:subject", args=[guild, "milk"])).content
    assert b"Karma after each of its last 1 change.</figcaption>" in recent
    # Past the detail, a day is its last change; within it, every change.
    assert [(at, total) for at, total in before] == [
        (day(30, 15), 3),
        (day(29, 18), 3),
        (day(2), 4),
        (day(-1), 5),
        (day(-60), 6),
    ]
    assert reads.history(guild, "tea", 2) == before[-2:]
    assert reads.history(guild, "tea", 4) == before[-4:]


def test_windows_seasons_and_givers_answer_the_same_before_and_after(guild):
    say(guild, "old++", day(40))
    Season.objects.create(guild_id=guild, number=2, started_at=day(30, 14), started_by="mod")
    say(guild, "tea++ tea++", day(30, 10))  # season 1, on the day season 2 started
    say(guild, "tea--", day(30, 16))  # season 2
    say(guild, "tea-- coffee++", day(25), author_id=BOB)
    say(guild, "coffee++", day(-80))  # within the month
    spans = seasons.all_of(guild)

    def answers():
        return (
            [reads.board_since(guild, 10, span.since, until=span.until) for span in spans],
            [reads.board_since(guild, 10, span.since, highest=False, until=span.until) for span in spans],
            talk.say(guild, "@Popple top month"),
            talk.say(guild, "@Popple top week"),
            talk.say(guild, "@Popple givers all"),
            reads.gave(guild, f"user{BOB}"),
        )

    before = answers()
    assert rollup.roll_up(DAYS) == 3  # not the day season 2 started
    assert answers() == before
    assert before[0] == [[("tea", 2), ("old", 1)], [("coffee", 2), ("tea", -2)]]
    # The detail holds no giver older than LEDGER_DETAIL_DAYS: `givers` counts the detail only.
    assert before[4] == (f"* user{ALICE} gave 1 karma.", None)
    assert before[5] == 0


def test_an_import_run_again_after_a_roll_up_still_changes_nothing(database, sqlite_popple):  # noqa: F811
    call_command("import_popple", sqlite_popple, "--merge", stdout=io.StringIO(), stderr=io.StringIO())
    LedgerEntry.objects.filter(guild_id=222).update(created_at=day(100))
    rollup.roll_up(DAYS)
    call_command("import_popple", sqlite_popple, "--merge", stdout=io.StringIO(), stderr=io.StringIO())
    assert karma(222) == {"popple": 7}
    assert list(LedgerEntry.objects.filter(guild_id=222).values_list("source", "delta")) == [("import", 7)]


def test_running_twice_or_without_the_mark_changes_nothing(guild):
    a_history(guild)
    rollup.roll_up(DAYS)
    done = (days(guild), detail_rows(guild))
    assert rollup.roll_up(DAYS) == 0
    cache.delete(rollup.ROLLED_UP_BEFORE)  # a fresh cache: walks the whole ledger again
    assert rollup.roll_up(DAYS) == 0
    assert (days(guild), detail_rows(guild)) == done


def test_a_run_cut_short_is_finished_by_the_next_exactly_once(guild, monkeypatch):
    a_history(guild)
    rollup.roll_up(DAYS)
    expected = days(guild)
    LedgerRollup.objects.all().delete()
    guild2 = talk.new_guild()
    a_history(guild2)
    cache.delete(rollup.ROLLED_UP_BEFORE)
    add, calls = rollup._add, []

    def killed_on_the_second_batch(alias, rows):
        calls.append(rows)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a worker's SIGKILL would, between two statements
        add(alias, rows)

    monkeypatch.setattr(rollup, "_add", killed_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        rollup.roll_up(DAYS)
    rolled = sum(LedgerRollup.objects.filter(guild_id=guild2).values_list("changes", flat=True))
    left = LedgerEntry.objects.filter(guild_id=guild2, created_at__lt=EDGE).count()
    assert (rolled, left) == (3, 3)  # the first batch wholly, the second not at all
    monkeypatch.setattr(rollup, "_add", add)
    rollup.roll_up(DAYS)
    assert days(guild2) == expected
    assert karma(guild2) == {"tea": 5, "coffee": 1}


def test_edits_and_deletions_follow_the_same_rules_after_a_roll_up(guild):
    a_history(guild)
    edited, deleted = snowflake(), snowflake()
    talk.say(guild, "tea++ tea++", message_id=edited, author_id=ALICE)
    talk.say(guild, "coffee++", message_id=deleted, author_id=ALICE)
    rollup.roll_up(DAYS)
    edit = chat("tea++", guild_id=guild, message_id=edited, edited=time.time_ns() // 1000, author_id=ALICE)
    assert respond(edit).text() == "tea has 6 karma."
    forget_deleted(deletion(guild, guild * 10, [deleted], time.time()))
    assert karma(guild) == {"tea": 6, "coffee": 1}
    assert sorted(LedgerEntry.objects.filter(message_id__in=[edited, deleted]).values_list("subject", "delta")) == [
        ("coffee", -1),
        ("coffee", 1),
        ("tea", -1),
        ("tea", 2),
    ]


def test_exports_say_what_was_rolled_up(guild):
    a_history(guild)
    rollup.roll_up(DAYS)
    out = io.StringIO()
    call_command("export_karma", "--guild", str(guild), "--format", "csv", "--table", "rollup", stdout=out)
    exported = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(row["day"], row["subject"], row["delta"], row["changes"]) for row in exported] == [
        (day(30).date().isoformat(), "coffee", "-1", "1"),
        (day(30).date().isoformat(), "tea", "3", "2"),
        (day(29).date().isoformat(), "coffee", "1", "1"),
        (day(29).date().isoformat(), "tea", "-1", "1"),
        (day(2).date().isoformat(), "tea", "1", "1"),
    ]
    out = io.StringIO()
    call_command("export_karma", "--guild", str(guild), "--format", "json", stdout=out)
    whole = json.loads(out.getvalue())
    assert sum(row["changes"] for row in whole["rollup"]) + len(whole["ledger"]) == 9


def test_the_admin_shows_the_rolled_up_days_read_only(guild, admin_client):
    a_history(guild)
    rollup.roll_up(DAYS)
    page = admin_client.get(reverse("admin:karma_ledgerrollup_changelist"), {"q": "coffee"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 2
    assert admin_client.get(reverse("admin:karma_ledgerrollup_add")).status_code == 403
    row = LedgerRollup.objects.filter(guild_id=guild).first()
    delete = reverse("admin:karma_ledgerrollup_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert LedgerRollup.objects.filter(pk=row.pk).exists()
    GuildSettings.objects.get_or_create(guild_id=guild)
    servers = reverse("admin:karma_guildsettings_changelist")
    exported = admin_client.post(servers, {"action": "export_rollup_csv", "_selected_action": [guild]})
    assert exported["Content-Disposition"] == f'attachment; filename="popple-{guild}-ledger-rollup.csv"'
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert lines[0] == "day,subject,delta,changes,total,last_at"
    assert len(lines) == 1 + 5


def test_reasons_kept_apart_are_forgotten_as_the_ledgers_are(guild):
    say(guild, "tea++ for a reason", day(200, 9))
    say(guild, "tea++", day(200, 13))
    say(guild, "tea++ for a younger reason", day(5))
    assert rollup.roll_up(DAYS) == 3
    assert days(guild) == [("tea", day(200).date(), 2, 2, 2), ("tea", day(5).date(), 1, 1, 3)]
    assert LedgerEntry.objects.filter(guild_id=guild).count() == 0
    # 100 days on, the older reason is past LEDGER_RETENTION_DAYS (365): it goes, the younger stays,
    # and the days are what they were.
    retention.anonymise_ledger(365, now=timezone.now() + timedelta(days=100))
    assert list(LedgerReason.objects.filter(guild_id=guild).values_list("reason", flat=True)) == ["a younger reason"]
    assert days(guild) == [("tea", day(200).date(), 2, 2, 2), ("tea", day(5).date(), 1, 1, 3)]
    assert len(reads.reasons(guild, "tea", 5)) == 1


def test_a_privacy_request_and_a_moderator_take_rolled_up_reasons_down(guild, admin_client):
    carol = 702
    say(guild, "tea++ for a reason", day(20), author_id=ALICE)
    say(guild, "tea++ for another", day(19), author_id=BOB)
    say(guild, "milk++ for bob's milk", day(19), author_id=BOB)
    say(guild, "coffee++ for a third", day(18), author_id=carol)
    rollup.roll_up(DAYS)
    assert actions.forget_user(ALICE) == 1
    assert [row[4] for row in reads.reasons(guild, "tea", 5)] == ["another"]
    reasons = reverse("admin:karma_ledgerreason_changelist")
    page = admin_client.get(reasons, {"q": "coffee"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    # Forget the authors: every reason of the person, not only the one selected.
    [bobs] = LedgerReason.objects.filter(guild_id=guild, subject="tea")
    forgot = admin_client.post(reasons, {"action": "forget_authors", "_selected_action": [bobs.pk]}, follow=True)
    assert "Forgot 1 people: 2 ledger rows and reasons no longer name them." in forgot.content.decode()
    assert reads.reasons(guild, "tea", 5) == reads.reasons(guild, "milk", 5) == []
    [coffee] = LedgerReason.objects.filter(guild_id=guild, subject="coffee")
    taken = admin_client.post(reasons, {"action": "redact", "_selected_action": [coffee.pk]}, follow=True)
    assert "Redacted 1 reasons" in taken.content.decode()
    assert reads.reasons(guild, "coffee", 5) == []
    assert karma(guild) == {"tea": 2, "milk": 1, "coffee": 1}  # the changes stay
    assert sum(row[3] for row in days(guild)) == 4


def test_a_departed_servers_days_go_with_the_rest_of_its_data(guild):
    a_history(guild)
    say(guild, "tea++ for a reason", day(20))
    rollup.roll_up(DAYS)
    GuildSettings.objects.update_or_create(guild_id=guild, defaults={"left_at": timezone.now() - timedelta(days=31)})
    assert retention.delete_departed(30) == [guild]
    assert LedgerRollup.objects.filter(guild_id=guild).count() == 0
    assert LedgerReason.objects.filter(guild_id=guild).count() == 0


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_two_runs_at_once_roll_each_row_up_once(database):
    guild = talk.new_guild()
    for n in range(12):
        say(guild, f"tea++ coffee-- n{n % 3}++", day(30 - n % 4, n))
    totals = karma(guild)
    errors = []

    def run():
        try:
            rollup.roll_up(DAYS)
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert LedgerEntry.objects.filter(guild_id=guild).count() == 0
    assert sum(LedgerRollup.objects.filter(guild_id=guild).values_list("changes", flat=True)) == 36
    rolled = {}
    for subject, delta in LedgerRollup.objects.filter(guild_id=guild).values_list("subject", "delta"):
        rolled[subject] = rolled.get(subject, 0) + delta
    assert rolled == totals


def test_too_few_detail_days_are_refused_at_start():
    refused = manage("check", LEDGER_DETAIL_DAYS="30")
    assert refused.returncode != 0
    assert "karma.E001" in refused.stderr
    assert "LEDGER_DETAIL_DAYS is 30: it must be 0 (never roll up) or at least 31." in refused.stderr
    # Edits read their message's rows for twice EDIT_WINDOW: a long window needs more days.
    assert "at least 61." in manage("check", LEDGER_DETAIL_DAYS="31", EDIT_WINDOW=str(30 * 86400)).stderr
    assert manage("check", LEDGER_DETAIL_DAYS="31").returncode == 0
    assert manage("check", LEDGER_DETAIL_DAYS="0").returncode == 0


def test_a_worker_refuses_too_few_detail_days_at_start():
    # As the Procfile starts it; it stops before it would connect to the broker (a closed port here).
    worker = "celery -A poppleproject worker -Q karma --pool threads --concurrency 1 --without-gossip --without-mingle"
    variables = {"LEDGER_DETAIL_DAYS": "10", "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:9/none"}
    done = subprocess.run(
        worker.split(), cwd=ROOT, env=clean_env(**variables), capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "popple: configuration error: LEDGER_DETAIL_DAYS is 10: it must be 0 (never roll up) or at least 31."
        )
    )


def test_forgetting_old_reasons_leaves_a_young_one_whatever_its_id(guild):
    # Ids follow time but for rows committed late: a young reason may have a smaller id than an old
    # one, and a roll-up may add young ones while the retention runs.
    from karma.models import LedgerReason

    long_ago, young = timezone.now() - timedelta(days=400), timezone.now() - timedelta(days=100)
    for id_, at in ((10**12 + 1, long_ago), (10**12 + 2, young), (10**12 + 3, long_ago), (10**12 + 4, young)):
        LedgerReason.objects.create(id=id_, guild_id=guild, subject="tea", delta=1, reason="why", created_at=at)
    retention.anonymise_ledger(365)
    # The old reason behind the first young one waits until that one is old too: in production, the
    # seconds by which a late commit's id is out of order.
    assert list(LedgerReason.objects.filter(guild_id=guild).order_by("id").values_list("id", flat=True)) == [
        10**12 + 2,
        10**12 + 3,
        10**12 + 4,
    ]
    retention.anonymise_ledger(365, now=timezone.now() + timedelta(days=300))  # all old now
    assert not LedgerReason.objects.filter(guild_id=guild).exists()


def test_a_reason_read_while_its_row_is_being_moved_is_shown_once(guild):
    # What `why` may read when a roll-up commits between its two reads: the row still in the
    # ledger, and its reason already kept apart, under the same id.
    say(guild, "tea++ for the one reason", day(20))
    say(guild, "tea++ for an older one", day(21))
    row = LedgerEntry.objects.get(guild_id=guild, reason="the one reason")
    LedgerReason.objects.create(
        id=row.id, guild_id=guild, subject="tea", delta=1, author_id=ALICE, author_name=row.author_name,
        reason=row.reason, created_at=row.created_at,
    )  # fmt: skip
    assert [why[4] for why in reads.reasons(guild, "tea", 5)] == ["the one reason", "an older one"]
