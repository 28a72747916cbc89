"""Names stored before names were cleaned are cleaned by migration 0004, with the ledger saying so."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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
