"""`top`/`bot` (and `/top`, `/bottom`) over a window: the names whose karma moved the most in the
last week or month. On SQLite and on MariaDB alike."""

from datetime import timedelta

import pytest
from django.utils import timezone

from karma.models import LedgerEntry
from karma.moderation import actions
from karma.router import BOARD_SIZE_ERROR
from karma.slash import answer
from karma.tests.test_slash import slash_command
from testkit import talk
from testkit.databases import DATABASES

pytestmark = pytest.mark.django_db(databases=DATABASES)


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def test_a_board_of_what_moved_in_the_window(guild):
    talk.say(guild, "old++ old++ old++ tea++")
    LedgerEntry.objects.filter(guild_id=guild).update(created_at=timezone.now() - timedelta(days=10))
    talk.say(guild, "tea++ coffee++ coffee++ milk--")
    assert talk.say(guild, "@Popple top week")[0].splitlines() == [
        "Changes in the last week:",
        "* coffee +2 karma",
        "* tea +1 karma",
        "* milk -1 karma",
    ]
    assert talk.say(guild, "@Popple bot 1 week") == ("Changes in the last week:\n* milk -1 karma", None)
    assert talk.say(guild, "@Popple top month 1") == ("Changes in the last month:\n* old +3 karma", None)
    assert talk.say(guild, "@Popple top 1 all") == ("* old has 3 karma.", None)
    assert talk.say(guild, "@Popple top 1 and more") == ("* old has 3 karma.", None)  # as the Go Popple took it
    assert talk.say(guild, "@Popple top foo") == (BOARD_SIZE_ERROR, None)
    assert answer(slash_command("bottom", {"size": 1, "window": "week"}, guild_id=guild)).content == (
        "Changes in the last week:\n* milk -1 karma"
    )


def test_a_window_with_no_change_and_merges_that_move_nothing(guild):
    talk.say(guild, "tea++")
    LedgerEntry.objects.filter(guild_id=guild).update(created_at=timezone.now() - timedelta(days=40))
    assert talk.say(guild, "@Popple top month") == ("No karma changed in the last month.", None)
    talk.say(guild, "chai++")
    actions.merge(guild, "chai", "tea", None)
    assert talk.say(guild, "@Popple top week") == ("Changes in the last week:\n* chai +1 karma", None)
