"""`@Popple givers [n] [week|month|all]` and `/givers`: who gave the most karma. On SQLite and on
MariaDB alike."""

from datetime import timedelta

import pytest
from django.utils import timezone

from karma import config
from karma.message import ADDED, REMOVED
from karma.models import LedgerEntry
from karma.replies import QUESTION
from karma.router import GIVERS_ERROR, respond, respond_to_reaction
from karma.slash import answer
from karma.tests.test_slash import slash_command
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE, BOB, CAROL = 701, 702, 703


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def say(guild, content, author_id, **kwargs):
    names = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
    return respond(chat(content, guild_id=guild, author_id=author_id, author_name=names[author_id], **kwargs))


def test_givers_count_what_people_gave_net_and_not_what_they_took(guild):
    assert talk.say(guild, "@Popple givers") == ("No one has given any karma yet.", None)
    say(guild, "x++ y++ z++", ALICE)
    say(guild, "x++", BOB)
    say(guild, "x-- y-- z-- w--", CAROL)  # taking is not giving
    config.change(guild, "reactions", "👍", "test")
    post = snowflake()
    respond_to_reaction(reaction(ADDED, guild, post, user_id=BOB, user_name="bob", author_id=ALICE))
    respond_to_reaction(reaction(ADDED, guild, snowflake(), user_id=BOB, user_name="bob", author_id=CAROL))
    respond_to_reaction(reaction(REMOVED, guild, post, user_id=BOB))  # taken back
    assert talk.say(guild, "@Popple givers") == ("* alice gave 3 karma.\n* bob gave 2 karma.", None)
    assert talk.say(guild, "@Popple givers 1") == ("* alice gave 3 karma.", None)


def test_a_window_counts_only_what_was_given_in_it(guild):
    say(guild, "x++ y++", ALICE)
    LedgerEntry.objects.filter(guild_id=guild).update(created_at=timezone.now() - timedelta(days=10))
    say(guild, "x++", BOB)
    assert talk.say(guild, "@Popple givers week") == ("* bob gave 1 karma.", None)
    assert talk.say(guild, "@Popple givers month 5")[0].splitlines() == ["* alice gave 2 karma.", "* bob gave 1 karma."]
    assert talk.say(guild, "@Popple givers all")[0].startswith("* alice gave 2 karma.")
    LedgerEntry.objects.filter(guild_id=guild).update(created_at=timezone.now() - timedelta(days=40))
    assert talk.say(guild, "@Popple givers month") == ("No one has given any karma in the last month.", None)


@pytest.mark.parametrize("arguments", ["0", "-3", "year", "5 5 5", "ten", "5 fortnight"])
def test_a_bad_request_gets_the_usage(guild, arguments):
    assert talk.say(guild, f"@Popple givers {arguments}") == (GIVERS_ERROR, QUESTION)


def test_the_slash_command_answers_the_same(guild):
    say(guild, "x++", ALICE)
    command = slash_command("givers", {"size": 3, "window": "week"}, guild_id=guild)
    assert answer(command).content == "* alice gave 1 karma."


def test_karma_of_one_person_says_what_they_gave_too(guild):
    say(guild, "x++ y++ bob++", ALICE)
    say(guild, "alice++", BOB)
    assert talk.say(guild, "@Popple karma alice") == ("alice has 1 karma, and gave 3.", None)
    assert talk.say(guild, "@Popple karma carol") == ("carol has 0 karma.", None)  # gave nothing
    assert talk.say(guild, "@Popple karma alice bob") == ("alice has 1 karma. bob has 1 karma.", None)
