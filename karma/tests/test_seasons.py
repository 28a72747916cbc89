"""Seasons: a moderator starts one, `top season` shows it, past seasons keep their boards, and
nothing is lost at a boundary, even with workers applying changes at that moment. On SQLite and
on MariaDB alike."""

import threading

import pytest
from django.db import connections

from karma import seasons
from karma.ledger import reads
from karma.models import Karma, SettingChange
from karma.replies import CHECK, QUESTION
from karma.router import SEASON_FORBIDDEN, respond
from karma.slash import answer
from karma.tests.test_slash import slash_command
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat

pytestmark = pytest.mark.django_db(databases=DATABASES)


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def lines(guild, text):
    return talk.say(guild, text)[0].splitlines()


def test_a_new_season_starts_a_new_board_and_keeps_the_old_ones(guild):
    talk.say(guild, "tea++ tea++ coffee++")
    assert talk.say(guild, "@Popple season")[0].startswith("Season 1, since the beginning.")
    assert talk.say(guild, "@Popple season new Spring") == ("Season 2 (Spring) has begun.", CHECK)
    talk.say(guild, "coffee++ milk--")
    assert lines(guild, "@Popple top season") == ["Season 2 (Spring):", "* coffee +1 karma", "* milk -1 karma"]
    assert lines(guild, "@Popple season 1") == ["Season 1:", "* tea +2 karma", "* coffee +1 karma"]
    assert lines(guild, "@Popple top 1") == ["* coffee has 2 karma."]  # all time, as before
    assert talk.say(guild, "@Popple season new")[0] == "Season 3 has begun."
    assert talk.say(guild, "@Popple top season") == ("No karma changed in Season 3.", None)
    assert talk.say(guild, "@Popple givers season") == ("No one has given any karma this season.", None)
    listed = lines(guild, "@Popple seasons")
    assert [line.split(":")[0] for line in listed] == ["* Season 1", "* Season 2 (Spring)", "* Season 3"]
    assert listed[0].startswith("* Season 1: from the beginning to <t:")
    assert listed[2].startswith("* Season 3: since <t:")
    assert answer(slash_command("top", {"window": "season"}, guild_id=guild)).content == "No karma changed in Season 3."
    changes = SettingChange.objects.filter(guild_id=guild, setting="season").order_by("id")
    assert list(changes.values_list("old", "new", "changed_by")) == [
        ("1", "2 Spring", "user500 (500)"),
        ("2", "3", "user500 (500)"),
    ]


def test_only_moderators_start_seasons_and_bad_requests_get_the_usage(guild):
    assert talk.say(guild, "@Popple season new Spring", can_manage=False) == (SEASON_FORBIDDEN, QUESTION)
    assert talk.say(guild, "@Popple season 2") == ("There is no season 2 (seasons 1 to 1).", QUESTION)
    assert talk.say(guild, "@Popple season spring")[1] == QUESTION
    assert talk.say(guild, "@Popple season 99999999999999")[1] == QUESTION
    assert len(seasons.all_of(guild)) == 1


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_a_season_started_during_a_burst_loses_nothing(guild):
    errors = []

    def apply(share):
        try:
            for n in share:
                respond(chat("x++", guild_id=guild, author_id=1000 + n))
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply, args=(range(n, 120, 4),)) for n in range(4)]
    for thread in threads:
        thread.start()
    seasons.start(guild, "", "test")
    seasons.start(guild, "", "test")
    for thread in threads:
        thread.join()
    assert errors == []
    spans = seasons.all_of(guild)
    assert [span.number for span in spans] == [1, 2, 3]
    boards = [dict(reads.board_since(guild, 10, span.since, until=span.until)) for span in spans]
    assert sum(board.get("x", 0) for board in boards) == 120 == Karma.objects.get(guild_id=guild, subject="x").karma
