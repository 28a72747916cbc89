"""Names stored before names were cleaned are cleaned by migrations 0004 and 0008, with the ledger saying so."""

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from testkit.databases import DATABASES, EACH_DATABASE

BEFORE, AFTER = [("karma", "0003_fair_karma")], [("karma", "0004_clean_names")]


@pytest.mark.django_db(transaction=True)
def test_names_that_become_one_are_merged_and_the_ledger_says_so():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Karma = old.get_model("karma", "Karma")
    for subject, karma in [("admin", 3), ("ad\u200bmin", 2), ("cafe\u0301", 1), ("\u200b", 4), ("plain", 7)]:
        Karma.objects.create(guild_id=1, subject=subject, karma=karma, version=1)
    Karma.objects.create(guild_id=2, subject="ad\u200bmin", karma=5, version=1)  # another server: apart

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Karma, LedgerEntry = new.get_model("karma", "Karma"), new.get_model("karma", "LedgerEntry")
    rows = {(row.guild_id, row.subject): row.karma for row in Karma.objects.all()}
    assert rows == {(1, "admin"): 5, (1, "café"): 1, (1, "plain"): 7, (2, "admin"): 5}
    merges = sorted(LedgerEntry.objects.filter(source="merge").values_list("guild_id", "subject", "delta", "total"))
    assert merges == sorted(
        [
            (1, "ad\u200bmin", -2, 0),
            (1, "admin", 2, 5),
            (1, "cafe\u0301", -1, 0),
            (1, "café", 1, 1),
            (1, "\u200b", -4, 0),
            (2, "ad\u200bmin", -5, 0),
            (2, "admin", 5, 5),
        ]
    )
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, databases=DATABASES)
@pytest.mark.parametrize("alias", EACH_DATABASE)
def test_names_become_one_line_and_aliases_and_waiting_edits_follow(alias):
    before, after = [("karma", "0007_servers_public_moderation")], [("karma", "0008_one_line_names")]
    executor = MigrationExecutor(connections[alias])
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Karma = old.get_model("karma", "Karma")
    for subject, karma, merged_into in [
        ("foo\nbar", 3, None),  # `(foo⏎bar)++`
        ("foo bar", 2, None),
        ("a\tb", 1, None),
        ("\r\n", 4, None),  # nothing left
        ("old", 0, "foo\nbar"),  # an alias of a name that is cleaned
        ("x\ny", 0, "plain"),  # an alias whose own name is cleaned
        ("plain", 7, None),
    ]:
        Karma.objects.using(alias).create(guild_id=1, subject=subject, karma=karma, version=1, merged_into=merged_into)
    Karma.objects.using(alias).create(guild_id=2, subject="foo\nbar", karma=5, version=1)  # another server: apart
    old.get_model("karma", "GuildSettings").objects.using(alias).create(guild_id=1, ignored=["c\nd", "c d", "e"])
    pending = [["p\nq", 1, ""], ["p q", 1, "why"], ["\n", 1, ""]]
    old.get_model("karma", "MessageVersion").objects.using(alias).create(message_id=9, guild_id=1, pending=pending)

    executor = MigrationExecutor(connections[alias])
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    Karma, LedgerEntry = new.get_model("karma", "Karma"), new.get_model("karma", "LedgerEntry")
    rows = {(row.guild_id, row.subject): (row.karma, row.merged_into) for row in Karma.objects.using(alias).all()}
    assert rows == {
        (1, "foo bar"): (5, None),
        (1, "a b"): (1, None),
        (1, "old"): (0, "foo bar"),
        (1, "x y"): (0, "plain"),
        (1, "plain"): (7, None),
        (2, "foo bar"): (5, None),
    }
    merges = LedgerEntry.objects.using(alias).filter(source="merge", delta__lt=0, guild_id=1)
    assert sorted(merges.values_list("subject", "delta")) == [("\r\n", -4), ("a\tb", -1), ("foo\nbar", -3)]
    assert LedgerEntry.objects.using(alias).get(guild_id=1, subject="foo bar").total == 5
    assert new.get_model("karma", "GuildSettings").objects.using(alias).get().ignored == ["c d", "e"]
    assert new.get_model("karma", "MessageVersion").objects.using(alias).get().pending == [["p q", 2, "why"]]
    executor.migrate(executor.loader.graph.leaf_nodes())
