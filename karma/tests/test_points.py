"""A server's own name for karma (`@Popple config points cookie/cookies`), in every answer. On
SQLite and on MariaDB alike."""

import pytest

from karma import config, points
from karma.message import ADDED
from karma.models import GuildSettings
from karma.replies import CHECK, QUESTION
from karma.router import current_lines, respond_to_reaction
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)
HELP = (
    'points must be a name for karma (such as "cookies", or "cookie/cookies" for one and for many; letters, '
    "digits, spaces, hyphens or emoji, at most 20 characters each)"
)


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def test_every_answer_says_the_servers_name(guild):
    assert talk.say(guild, "@Popple top") == ("No one has any karma yet.", None)
    assert talk.say(guild, "@Popple config points cookie / cookies") == ("points: cookie/cookies", CHECK)
    assert talk.say(guild, "@Popple top") == ("No one has any cookies yet.", None)
    assert talk.say(guild, "tea++") == ("tea has 1 cookie.", None)
    assert talk.say(guild, "tea++ coffee--") == ("tea has 2 cookies. coffee has -1 cookie.", None)
    assert talk.say(guild, "@Popple karma tea milk") == ("tea has 2 cookies. milk has 0 cookies.", None)
    assert talk.say(guild, "@Popple top 1") == ("* tea has 2 cookies.", None)
    assert talk.say(guild, "@Popple givers") == ("* user500 gave 2 cookies.", None)
    config.change(guild, "reactions", "👍", "test")
    assert respond_to_reaction(reaction(ADDED, guild, snowflake())).text() == "user500 has 1 cookie."
    assert current_lines(guild, ["tea"])["tea"].text == "tea has 2 cookies."  # what delivery says when it asks
    assert talk.say(guild, "@Popple config points rep")[0] == "points: rep"
    assert talk.say(guild, "tea++") == ("tea has 3 rep.", None)


@pytest.mark.parametrize(
    "typed", ["", "**bold**", "@everyone", "<@1>", "a/b/c", "x" * 21, "tea_time", "/cookies", "cookie/"]
)
def test_a_name_that_is_not_one_is_refused(guild, typed):
    assert talk.say(guild, f"@Popple config points {typed}") == (HELP, QUESTION)
    assert GuildSettings.objects.filter(guild_id=guild).values_list("points", flat=True).first() in (None, "karma")


def test_names_people_choose():
    assert points.parse("cookies") == "cookies"
    assert points.parse("  gold   star / gold stars ") == "gold star/gold stars"
    assert points.parse("🍪") == "🍪"
    assert points.parse("merci-point") == "merci-point"
    assert points.from_stored("cookie/cookies").of(-1) == "cookie"
    assert points.from_stored("rep").of(5) == "rep"
