"""Thanks give karma, where a server turns them on: who is thanked, once, under the rules; on SQLite
and on MariaDB alike."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from karma import config
from karma.message import IncomingMessage
from karma.models import Karma, SettingChange
from karma.replies import CHECK, QUESTION
from karma.router import respond
from karma.thanks import may_thank, thanked
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE, BOB, CAROL, ROBOT = 700, 2, 3, 4
PEOPLE = {str(ALICE): "alice", str(BOB): "bob", str(CAROL): "carol", str(ROBOT): "robot"}


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    guild = talk.new_guild()
    config.change(guild, "thanks", "on", "test")
    return guild


def message(guild, content, replied_to=0, **kwargs):
    kwargs.setdefault("mentions", PEOPLE)
    built = chat(content, guild_id=guild, author_id=ALICE, author_name="alice", **kwargs)
    fields = {**built.to_payload(), "bots": [str(ROBOT)], "replied_to_id": replied_to}
    fields["replied_to_name"] = PEOPLE.get(str(replied_to), "")
    return IncomingMessage(**fields)


def say(guild, content, **kwargs):
    return respond(message(guild, content, **kwargs)).text() or None


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


@pytest.mark.parametrize(
    "content, replied_to, expected",
    [
        (f"thanks <@{BOB}>", 0, ["bob"]),
        (f"Thank you <@{BOB}>!", 0, ["bob"]),
        (f"THANK  YOU\n<@{BOB}>", 0, ["bob"]),  # any case, any spaces between a word's parts
        (f"ty <@{BOB}>", 0, ["bob"]),
        (f"thanks, <@{BOB}> and <@{CAROL}>", 0, ["bob"]),  # one person per thank-word
        (f"thanks <@{BOB}>, and thanks <@{CAROL}>", 0, ["bob", "carol"]),
        (f"thanks <@{BOB}> thx <@{BOB}>", 0, ["bob"]),  # once however often
        ("thanks, that fixed it", BOB, ["bob"]),  # a reply that starts with a thank-word
        (f"thanks <@{CAROL}> for the link", BOB, ["carol"]),  # the one named, not the one replied to
        ("that fixed it, thanks", BOB, []),  # a reply that does not start with one
        (f"<@{BOB}> thanksgiving is on thursday", 0, []),  # whole words only
        (f"<@{BOB}> thanks", 0, []),  # the mention comes before the word
        (f"thanks <@{ALICE}>", 0, []),  # never yourself
        ("thanks, past me", ALICE, []),  # not by replying to yourself either
        (f"thanks <@{ROBOT}>", 0, []),  # never a bot
        ("thanks", 0, []),
    ],
)
def test_who_a_message_thanks(content, replied_to, expected):
    words = ["thanks", "thank you", "thx", "ty"]
    assert thanked(content, words, PEOPLE, [str(ROBOT)], ALICE, replied_to) == expected


def test_the_gateway_lets_through_only_what_may_hold_thanks():
    assert may_thank("Merci beaucoup <@2>")
    assert may_thank("спасибо <@2>")
    assert not may_thank("see you tomorrow <@2>")
    assert not may_thank("thanksgiving")


def test_a_thanks_gives_one_and_says_so(guild):
    assert say(guild, f"thanks <@{BOB}> and thanks <@{CAROL}>") == "bob has 1 karma. carol has 1 karma."
    assert say(guild, "thanks!", replied_to=BOB) == "bob has 2 karma."
    assert say(guild, f"thanks <@{BOB}>, bob++ for the fix") == "bob has 3 karma."  # one name, once
    assert karma(guild) == {"bob": 3, "carol": 1}


def test_off_by_default_and_only_the_servers_words(database):
    guild = talk.new_guild()
    assert say(guild, f"thanks <@{BOB}>") is None
    config.change(guild, "thanks", "on", "test")
    assert say(guild, f"merci <@{BOB}>") is None  # not among the server's words (yet)
    config.change(guild, "thankwords", "merci, thanks", "test")
    assert say(guild, f"merci <@{BOB}>") == "bob has 1 karma."
    assert say(guild, f"ty <@{BOB}>") is None  # no longer among them
    assert karma(guild) == {"bob": 1}


def test_the_same_message_again_counts_once(guild):
    thanks = message(guild, f"thanks <@{BOB}>")
    first, again = respond(thanks), respond(thanks)
    assert again == replace(first, made_at=0.0)  # a replay does not say when its changes were made
    assert karma(guild) == {"bob": 1}


def test_an_edit_that_removes_the_thanks_takes_it_back(guild):
    thanks = message(guild, f"thanks <@{BOB}>", message_id=snowflake())  # its id says it is recent
    respond(thanks)
    edited = int((timezone.now() + timedelta(seconds=1)).timestamp() * 1e6)
    respond(message(guild, f"<@{BOB}> oh, never mind", message_id=thanks.message_id, edited=edited))
    assert karma(guild) == {"bob": 0}


def test_the_rules_apply_to_thanks(guild):
    config.change(guild, "cooldown", "1h", "test")
    assert say(guild, f"thanks <@{BOB}>") == "bob has 1 karma."
    assert say(guild, f"thanks again <@{BOB}>").startswith("cooldown: you can change bob again in")
    config.change(guild, "ignore", "add carol", "test")
    assert say(guild, f"thanks <@{CAROL}>") is None
    config.change(guild, "cooldown", "off", "test")
    config.change(guild, "budget", "2", "test")
    assert say(guild, f"thanks <@{BOB}>") == "bob has 2 karma."  # the second change of the hour
    assert say(guild, f"thanks <@{BOB}>").startswith("budget:")
    assert karma(guild) == {"bob": 2}


def test_config_thanks_and_its_words(database):
    guild = talk.new_guild()
    assert talk.say(guild, "@Popple config thanks on") == ("thanks: on", CHECK)
    assert talk.say(guild, "@Popple config thanks maybe") == (
        'thanks must be "on" (thanking someone gives them +1) or "off"',
        QUESTION,
    )
    assert talk.say(guild, "@Popple config thankwords Merci,  THANK   you") == ("thankwords: merci, thank you", CHECK)
    answer, reaction = talk.say(guild, "@Popple config thankwords cheers")
    assert answer.startswith("thankwords must be words thanks listen for, separated by commas, among: thanks, ")
    assert reaction == QUESTION
    shown = talk.say(guild, "@Popple config")[0].splitlines()
    assert [line for line in shown if line.startswith("thank")] == ["thanks: on", "thankwords: merci, thank you"]
    changes = SettingChange.objects.filter(guild_id=guild).order_by("id").values_list("setting", "old", "new")
    assert list(changes) == [("thanks", "off", "on"), ("thankwords", "thanks, thank you, thx, ty", "merci, thank you")]


@pytest.mark.parametrize(
    "change, error",
    [({"bots": [4]}, "bots must list user ids"), ({"replied_to_id": 2**63}, "replied_to_id is not a valid id")],
)
def test_malformed_thanks_fields_are_refused(change, error):
    with pytest.raises(ValueError, match=error):
        IncomingMessage.from_payload({**chat("thanks").to_payload(), **change})
