"""Moderators' tools on SQLite and on MariaDB: revert, merge (aliases), forget, export."""

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from karma.ledger import reads, writes
from karma.models import Giver, Karma, LedgerEntry, SettingChange
from karma.moderation import actions
from karma.router import respond
from testkit.databases import DATABASES
from testkit.messages import chat

pytestmark = pytest.mark.django_db(databases=DATABASES)
SPAMMER, ALICE = 666, 700


@pytest.fixture
def moderator(django_user_model, database):
    return django_user_model.objects.db_manager(database).create_user("mod", password="x")


def karma(guild=1):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


def say(content, guild=1, author=ALICE):
    return respond(chat(content, guild_id=guild, author_id=author, author_name=f"user{author}")).text()


def test_reverting_a_spammers_burst_is_exact_and_happens_once(database, moderator):
    say("popple++ tea++")
    for _ in range(5):
        say("spam++ popple--", author=SPAMMER)
    assert karma() == {"popple": -4, "tea": 1, "spam": 5}
    burst = LedgerEntry.objects.filter(author_id=SPAMMER)
    assert actions.revert(burst.order_by("id"), moderator) == 10
    assert karma() == {"popple": 1, "tea": 1, "spam": 0}
    reverts = LedgerEntry.objects.filter(source="revert")
    assert reverts.count() == 10
    assert set(reverts.values_list("admin_user__username", flat=True)) == {"mod"}
    assert sorted(reverts.values_list("reverts__author_id", flat=True).distinct()) == [SPAMMER]
    # Twice: nothing; reverting a revert or the reverts again: nothing either.
    assert actions.revert(burst.order_by("id"), moderator) == 0
    assert actions.revert(reverts, moderator) == 0
    assert karma() == {"popple": 1, "tea": 1, "spam": 0}


def test_merge_moves_karma_keeps_history_and_aliases_later_changes(database, moderator):
    say("(the build)++ (the build)++ (the build server)++")
    assert actions.merge(1, "the build", "the build server", moderator) == 2
    assert karma() == {"the build": 0, "the build server": 3}
    merges = LedgerEntry.objects.filter(source="merge").order_by("subject")
    assert list(merges.values_list("subject", "delta", "total", "admin_user__username")) == [
        ("the build", -2, 0, "mod"),
        ("the build server", 2, 3, "mod"),
    ]
    assert LedgerEntry.objects.filter(subject="the build", source="chat").count() == 1  # history kept
    # Later: counted for the subject it was merged into, in the reply and in the ledger.
    late = chat("(the build)++", guild_id=1, author_id=ALICE)
    assert respond(late).text() == "the build server has 4 karma."
    assert respond(late).text() == "the build server has 4 karma."  # redelivered: answers the same
    assert say("(the build)++ (the build server)++") == "the build server has 6 karma."
    assert say("@Popple karma (the build)") == "the build server has 6 karma."
    assert karma() == {"the build": 0, "the build server": 6}
    assert not LedgerEntry.objects.filter(subject="the build", source="chat", total__gt=2).exists()
    # A board never lists the alias.
    assert "the build has" not in say("@Popple bot 10")
    # The alias removed: it counts for itself again, from 0.
    actions.unmerge(1, "the build")
    assert say("(the build)++") == "the build has 1 karma."
    assert karma() == {"the build": 1, "the build server": 6}


def test_the_cooldown_of_a_subject_holds_for_its_aliases(database, moderator):
    say("old++ new++", author=SPAMMER)
    LedgerEntry.objects.update(created_at=timezone.now() - timedelta(hours=2))
    actions.merge(1, "old", "new", moderator)
    say("@Popple config cooldown 1h")
    assert say("new++") == "new has 3 karma."
    assert say("old++").startswith("cooldown: you can change old again in ")
    assert say("old++", author=SPAMMER) == "new has 4 karma."  # their last change was 2 hours ago
    assert say("new++", author=SPAMMER).startswith("cooldown: you can change new again in ")
    assert karma() == {"old": 0, "new": 4}


def test_merges_follow_chains_and_refuse_what_makes_no_sense(database, moderator):
    say("a++ b++ c++")
    actions.merge(1, "a", "b", moderator)
    actions.merge(1, "b", "c", moderator)
    assert Karma.objects.get(guild_id=1, subject="a").merged_into == "c"  # aliases of b follow it
    assert say("a++") == "c has 4 karma."
    for source, target, problem in [
        ("c", "c", "cannot be merged into itself"),
        ("nobody", "c", "nobody has no karma"),
        ("a", "c", "a is merged into c already"),
        ("c", "b", "b is merged into c: merge into that"),
    ]:
        with pytest.raises(ValueError, match=problem):
            actions.merge(1, source, target, moderator)
    assert karma() == {"a": 0, "b": 0, "c": 4}
    with pytest.raises(ValueError, match="not merged"):
        actions.unmerge(1, "c")


def test_reverting_a_change_of_a_merged_subject_takes_it_from_where_it_went(database, moderator):
    say("a++", author=SPAMMER)
    say("b++")
    actions.merge(1, "a", "b", moderator)
    assert actions.revert(LedgerEntry.objects.filter(author_id=SPAMMER), moderator) == 1
    assert karma() == {"a": 0, "b": 1}


def test_forget_user_keeps_the_totals(database):
    say("x++ y--", author=SPAMMER)
    say("x++")
    say("@Popple config cooldown 5", author=SPAMMER)
    Giver.objects.create(guild_id=1, author_id=SPAMMER)
    out = io.StringIO()
    call_command("forget_user", str(SPAMMER), stdout=out)
    assert out.getvalue() == f"Forgot user {SPAMMER}: 2 ledger rows no longer name them.\n"
    assert not LedgerEntry.objects.filter(author_name=f"user{SPAMMER}").exists()
    assert not LedgerEntry.objects.filter(author_id=SPAMMER).exists()
    assert not Giver.objects.filter(author_id=SPAMMER).exists()
    assert list(SettingChange.objects.values_list("changed_by", flat=True)) == ["(forgotten)"]
    assert karma() == {"x": 2, "y": -1}
    assert LedgerEntry.objects.filter(author_id=ALICE).count() == 1


def test_forgetting_a_person_forgets_the_reasons_they_gave(database):
    say("x++ for my secret address", author=SPAMMER)
    say("x++ for being kind")
    actions.forget_user(SPAMMER)
    assert [reason for *_, reason in reads.reasons(1, "x", 5)] == ["being kind"]
    assert not LedgerEntry.objects.filter(reason__contains="secret").exists()


def test_a_moderator_redacts_a_reason(database, moderator):
    say("x++ for something nobody should read")
    say("x++ for being kind")
    row = LedgerEntry.objects.get(reason__startswith="something")
    assert actions.redact_reasons(LedgerEntry.objects.filter(pk=row.pk), moderator) == 1
    assert [reason for *_, reason in reads.reasons(1, "x", 5)] == ["being kind"]
    row.refresh_from_db()
    assert (row.reason, row.delta, row.author_id) == ("", 1, ALICE)  # the change itself stays


def test_export_as_csv_and_json(database, moderator):
    say('(café ☕)++ (a, "quoted" name)--')
    actions.revert(LedgerEntry.objects.filter(subject="café ☕"), moderator)
    out = io.StringIO()
    call_command("export_karma", "--guild", "1", "--format", "csv", stdout=out)
    assert list(csv.DictReader(io.StringIO(out.getvalue()))) == [
        {"subject": "café ☕", "karma": "0", "merged_into": "", "updated_at": ANY_TIME},
        {"subject": 'a, "quoted" name', "karma": "-1", "merged_into": "", "updated_at": ANY_TIME},
    ]
    out = io.StringIO()
    call_command("export_karma", "--guild", "1", "--format", "csv", "--table", "ledger", stdout=out)
    ledger = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(row["subject"], row["delta"], row["source"], row["admin_user"]) for row in ledger] == [
        ("café ☕", "1", "chat", ""),
        ('a, "quoted" name', "-1", "chat", ""),
        ("café ☕", "-1", "revert", "mod"),
    ]
    assert ledger[2]["reverts"] == ledger[0]["id"]
    out = io.StringIO()
    call_command("export_karma", "--guild", "1", "--format", "json", stdout=out)
    exported = json.loads(out.getvalue())
    assert exported["server"] == {"id": 1, "name": ""}
    assert [row["subject"] for row in exported["karma"]] == ["café ☕", 'a, "quoted" name']
    assert [row["source"] for row in exported["ledger"]] == ["chat", "chat", "revert"]
    with pytest.raises(Exception, match="Popple knows no server 77"):
        call_command("export_karma", "--guild", "77")


class _AnyTime(str):
    def __eq__(self, other):
        return isinstance(other, str) and other[:2] == "20" and "T" in other

    __hash__ = str.__hash__


ANY_TIME = _AnyTime()


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_merge_and_revert_are_exact_under_concurrent_chat(database, django_user_model):
    """Threads give karma to both names while a moderator merges one into the other and reverts a
    burst: every change lands once, on the subject it belongs to."""
    user = django_user_model.objects.db_manager(database).create_user("mod2", password="x")
    say("spam++", author=SPAMMER)
    threads_count, per_thread = 4, 30
    errors = []

    def chat_away(t):
        try:
            for i in range(per_thread):
                writes.apply_changes(chat("", guild_id=1, author_id=t), [("old", 1), ("new", 1), ("spam", 1)][i % 2 :])
        except Exception as exc:  # reported below
            errors.append(("chat", exc))
        finally:
            connections.close_all()

    def moderate():
        try:
            actions.merge(1, "spam", "old", user)
            actions.merge(1, "old", "new", user)
            actions.revert(LedgerEntry.objects.filter(author_id=SPAMMER), user)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=chat_away, args=(t,)) for t in range(threads_count)]
    threads.append(threading.Thread(target=moderate))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [repr(error) for error in errors] == []
    # Every chat change counted, wherever it landed: old and spam end in new.
    given = sum(len([("old", 1), ("new", 1), ("spam", 1)][i % 2 :]) for i in range(per_thread)) * threads_count
    assert karma() == {"old": 0, "spam": 0, "new": given}
    assert sum(LedgerEntry.objects.filter(guild_id=1).values_list("delta", flat=True)) == given
