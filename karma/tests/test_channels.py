"""Where karma counts: a server's channels (and categories), for chat, thanks, reactions and
`/plus`; commands answer everywhere. On SQLite and on MariaDB alike."""

import pytest

from karma import channels, config
from karma.message import ADDED
from karma.models import Karma, LedgerEntry, MessageVersion, SettingChange
from karma.replies import CHECK, QUESTION
from karma.router import give, respond, respond_to_reaction
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)
KARMA, OFF_TOPIC, CATEGORY, THREAD = 11, 12, 13, 14


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def said(guild, content, channel_id, within=(), **kwargs):
    message = chat(content, guild_id=guild, **kwargs)
    message = type(message)(**{**message.to_payload(), "channel_id": channel_id, "within": list(within)})
    return respond(message).text() or None


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


@pytest.mark.parametrize(
    "rule, channel_id, within, expected",
    [
        ({}, OFF_TOPIC, [], True),
        ({"only": [str(KARMA)]}, KARMA, [], True),
        ({"only": [str(KARMA)]}, OFF_TOPIC, [], False),
        ({"only": [str(CATEGORY)]}, OFF_TOPIC, [CATEGORY], True),  # a channel in a listed category
        ({"only": [str(KARMA)]}, THREAD, [KARMA], True),  # a thread of a listed channel
        ({"except": [str(OFF_TOPIC)]}, OFF_TOPIC, [], False),
        ({"except": [str(OFF_TOPIC)]}, THREAD, [OFF_TOPIC, CATEGORY], False),
        ({"except": [str(OFF_TOPIC)]}, KARMA, [CATEGORY], True),
    ],
)
def test_where_karma_counts(rule, channel_id, within, expected):
    assert channels.listens(rule, channel_id, within) is expected


def test_chat_counts_only_where_the_server_says_and_commands_answer_everywhere(guild):
    assert talk.say(guild, f"@Popple config channels only <#{KARMA}>, <#{CATEGORY}>") == (
        f"channels: only in <#{KARMA}>, <#{CATEGORY}>",
        CHECK,
    )
    assert said(guild, "x++", KARMA) == "x has 1 karma."
    assert said(guild, "x++", OFF_TOPIC) is None  # silent, and nothing recorded
    assert said(guild, "x++", THREAD, within=[OFF_TOPIC, CATEGORY]) == "x has 2 karma."
    assert said(guild, "@Popple karma x", OFF_TOPIC) == "x has 2 karma."
    assert karma(guild) == {"x": 2}
    assert LedgerEntry.objects.filter(guild_id=guild, channel_id=OFF_TOPIC).count() == 0
    assert MessageVersion.objects.filter(guild_id=guild).count() == 2


def test_a_reaction_or_plus_where_karma_does_not_count(guild):
    config.change(guild, "reactions", "👍", "test")
    config.change(guild, "channels", f"except <#{OFF_TOPIC}>", "test")
    event = reaction(ADDED, guild, snowflake())
    elsewhere = type(event)(**{**event.to_payload(), "channel_id": OFF_TOPIC})
    assert not respond_to_reaction(elsewhere)
    message = chat("", guild_id=guild)
    plus = type(message)(**{**message.to_payload(), "channel_id": OFF_TOPIC})
    assert give(plus, "x", 1).text() == channels.NOT_HERE  # asked on purpose: told why
    assert karma(guild) == {}


def test_config_channels_refuses_anything_else_and_records_changes(guild):
    for typed in ("only", "only karma", f"sometimes <#{KARMA}>", "all <#1>", f"only <#{KARMA}> and more"):
        assert talk.say(guild, f"@Popple config channels {typed}") == (
            'channels must be "all", "only #channel #category ..." or "except #channel ..." (Popple answers '
            "commands everywhere)",
            QUESTION,
        )
    assert talk.say(guild, f"@Popple config channels except <#{OFF_TOPIC}>")[1] == CHECK
    assert talk.say(guild, "@Popple config channels all") == ("channels: everywhere", CHECK)
    changes = SettingChange.objects.filter(guild_id=guild, setting="channels").values_list("old", "new")
    assert list(changes.order_by("id")) == [
        ("everywhere", f"everywhere but <#{OFF_TOPIC}>"),
        (f"everywhere but <#{OFF_TOPIC}>", "everywhere"),
    ]


@pytest.mark.parametrize("within", [[0], [2**63], ["1"], [True], [1, 2, 3]])
def test_a_payload_that_says_where_wrongly_is_refused(within):
    with pytest.raises(ValueError, match="within must list channel ids"):
        type(chat("x++")).from_payload({**chat("x++").to_payload(), "within": within})
    with pytest.raises(ValueError, match="within must list channel ids"):
        type(reaction(ADDED, 1, 10)).from_payload({**reaction(ADDED, 1, 10).to_payload(), "within": within})
