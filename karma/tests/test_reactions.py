"""Reactions give karma: each listed emoji a person adds to a message gives its author +1 while it
lasts, once, however the events are repeated or reordered; on SQLite and on MariaDB alike."""

import itertools
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from karma import config, retention
from karma.message import ADDED, CLEARED, REMOVED, ReactionEvent
from karma.models import GuildSettings, Karma, LedgerEntry, Reaction, SettingChange
from karma.replies import CHECK, QUESTION
from karma.router import respond, respond_to_reaction
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE, BOB, CAROL = 700, 500, 800


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    guild = talk.new_guild()
    config.change(guild, "reactions", "👍 <:upvote:123456> ⬆️", "test")
    return guild


def karma(guild, subject="user500"):
    row = Karma.objects.filter(guild_id=guild, subject=subject).first()
    return row.karma if row else 0


def react(kind, guild, message_id, **kwargs):
    return respond_to_reaction(reaction(kind, guild, message_id, **kwargs))


def test_a_listed_emoji_gives_the_author_one_and_taking_it_away_takes_it_back(guild):
    message = snowflake()
    added = react(ADDED, guild, message)
    assert added.text() == "user500 has 1 karma."
    assert added.message_id != message  # a reaction is not a message: its reply has an id of its own
    assert react(ADDED, guild, message, user_id=CAROL).text() == "user500 has 2 karma."
    assert react(REMOVED, guild, message).text() == "user500 has 1 karma."
    assert karma(guild) == 1
    rows = LedgerEntry.objects.filter(guild_id=guild).order_by("id")
    assert [(row.source, row.author_id, row.author_name, row.delta, row.message_id) for row in rows] == [
        ("react", ALICE, "user700", 1, message),
        ("react", CAROL, "user800", 1, message),
        ("react", ALICE, "user700", -1, message),  # a removal names no one: the add's row does
    ]


def test_off_by_default_and_for_emoji_not_listed(database):
    guild = talk.new_guild()
    assert not react(ADDED, guild, snowflake())
    config.change(guild, "reactions", "👍", "test")
    assert not react(ADDED, guild, snowflake(), emoji="😂")
    assert karma(guild) == 0
    assert not Reaction.objects.filter(guild_id=guild).exists()  # nothing recorded for them either


def test_emoji_compare_as_discord_names_them(guild):
    # Listed as typed: `<:upvote:123456>` is the server's emoji 123456, whatever it is called now;
    # `⬆️` with or without its variation selector (the gateway keys both as karma/emoji.py does).
    assert react(ADDED, guild, snowflake(), emoji="123456")
    assert react(ADDED, guild, snowflake(), emoji="⬆")
    assert karma(guild) == 2


def test_the_same_event_again_gives_once_and_answers_as_the_first_time(guild):
    event = reaction(ADDED, guild, snowflake())
    first = respond_to_reaction(event)
    again = respond_to_reaction(ReactionEvent.from_payload(event.to_payload()))  # redelivered
    assert again == replace(first, made_at=0.0)  # a replay does not say when its changes were made
    assert karma(guild) == 1
    # Discord saying it was added again (a new event) changes nothing either: it was there.
    react(ADDED, guild, event.message_id)
    assert karma(guild) == 1


def test_a_removal_applied_before_its_add_leaves_nothing(guild):
    message = snowflake()
    added = reaction(ADDED, guild, message)
    removed = reaction(REMOVED, guild, message)  # stamped after the add: the order they came in
    assert not respond_to_reaction(removed)
    assert not respond_to_reaction(added)
    assert karma(guild) == 0
    assert not LedgerEntry.objects.filter(guild_id=guild).exists()
    # Added back later, it counts again.
    assert react(ADDED, guild, message).text() == "user500 has 1 karma."


def test_every_order_of_add_remove_add_ends_as_the_last_said(guild):
    for order in itertools.permutations(range(3)):
        message = snowflake()
        events = [reaction(kind, guild, message) for kind in (ADDED, REMOVED, ADDED)]
        before = karma(guild)
        for index in order:
            respond_to_reaction(events[index])
        assert karma(guild) == before + 1, order


def test_your_own_message_and_your_own_names_count_nothing(guild):
    assert not react(ADDED, guild, snowflake(), user_id=BOB, author_id=BOB)
    # Someone whose name is the author's (another account of theirs) is refused, silently.
    assert not react(ADDED, guild, snowflake(), user_name="user500")
    assert karma(guild) == 0


def test_ignored_names_and_the_cooldown_and_the_budget_apply(guild):
    config.change(guild, "ignore", "add user501", "test")
    assert not react(ADDED, guild, snowflake(), author_id=501)
    config.change(guild, "cooldown", "1h", "test")
    assert react(ADDED, guild, snowflake())
    assert not react(ADDED, guild, snowflake())  # the same person, the same name, another message
    respond(chat("user500++", guild_id=guild, author_id=ALICE))  # a message is under it too
    assert karma(guild) == 1
    config.change(guild, "cooldown", "off", "test")
    config.change(guild, "budget", "2", "test")
    assert react(ADDED, guild, snowflake(), author_id=502)  # the second change of the hour
    assert not react(ADDED, guild, snowflake(), author_id=503)
    assert karma(guild, "user502") == 1
    assert karma(guild, "user503") == 0


def test_a_refused_reaction_removed_takes_nothing_back(guild):
    config.change(guild, "cooldown", "1h", "test")
    react(ADDED, guild, snowflake())
    refused = snowflake()
    react(ADDED, guild, refused)
    assert not react(REMOVED, guild, refused)
    assert karma(guild) == 1


def test_nothing_is_announced_where_announce_is_off(guild):
    config.change(guild, "announce", "off", "test")
    assert not react(ADDED, guild, snowflake())
    assert karma(guild) == 1


def test_removing_an_emoji_no_longer_listed_still_takes_back_what_it_gave(guild):
    message = snowflake()
    react(ADDED, guild, message)
    config.change(guild, "reactions", "off", "test")
    assert react(REMOVED, guild, message).text() == "user500 has 0 karma."


def test_a_moderator_removing_all_reactions_takes_back_what_they_gave(guild):
    message = snowflake()
    react(ADDED, guild, message)
    late = reaction(ADDED, guild, message, user_id=CAROL)  # added before the clearing, applied after
    react(ADDED, guild, message, emoji="123456", user_id=CAROL)
    assert react(CLEARED, guild, message, emoji="").text() == "user500 has 0 karma."
    assert not respond_to_reaction(late)
    assert karma(guild) == 0
    assert react(ADDED, guild, message).text() == "user500 has 1 karma."  # added again since


def test_removing_one_emoji_of_a_message_takes_back_that_emoji_only(guild):
    message = snowflake()
    react(ADDED, guild, message)
    react(ADDED, guild, message, emoji="⬆")
    assert react(CLEARED, guild, message, emoji="👍").text() == "user500 has 1 karma."
    assert not react(REMOVED, guild, message)  # the 👍 was taken back already
    assert karma(guild) == 1


def test_editing_the_message_leaves_its_reactions_karma_alone(guild):
    message = chat("hello", guild_id=guild, author_id=BOB, author_name="user500")
    respond(message)
    react(ADDED, guild, message.message_id)
    edited = int((timezone.now() + timedelta(seconds=1)).timestamp() * 1e6)
    respond(chat("hello coffee++", guild_id=guild, author_id=BOB, message_id=message.message_id, edited=edited))
    respond(chat("hello", guild_id=guild, author_id=BOB, message_id=message.message_id, edited=edited + 1))
    assert karma(guild) == 1
    assert karma(guild, "coffee") == 0


@pytest.mark.django_db(databases=DATABASES, transaction=True)
def test_workers_applying_one_reactions_events_at_once_agree(guild):
    errors = []
    for _ in range(10):
        message = snowflake()
        events = [reaction(ADDED, guild, message), reaction(REMOVED, guild, message), reaction(ADDED, guild, message)]

        def apply(event):
            try:
                respond_to_reaction(event)
            except Exception as exc:  # reported below; a thread's exception would otherwise vanish
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=apply, args=(event,)) for event in reversed(events)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert karma(guild) == 10


def test_config_reactions_lists_emoji_and_refuses_anything_else(database):
    guild = talk.new_guild()
    assert talk.say(guild, "@Popple config reactions 👍, ⬆️ <:upvote:123456> 👍") == (
        "reactions: 👍 ⬆️ <:upvote:123456>",
        CHECK,
    )
    too_many = " ".join(chr(0x1F600 + n) for n in range(21))
    for typed in ("reactions thumbs", "reactions 👍 ++", "reactions", f"reactions {too_many}"):
        assert talk.say(guild, f"@Popple config {typed}") == (
            'reactions must be the emoji that give karma (such as "reactions 👍 ⬆️"; at most 20) or "off"',
            QUESTION,
        )
    assert GuildSettings.objects.get(guild_id=guild).reactions == ["👍", "⬆️", "<:upvote:123456>"]
    assert talk.say(guild, "@Popple config reactions off") == ("reactions: off", CHECK)
    changes = SettingChange.objects.filter(guild_id=guild, setting="reactions").order_by("id")
    listed = "👍 ⬆️ <:upvote:123456>"
    assert list(changes.values_list("old", "new")) == [("off", listed), (listed, "off")]


@pytest.mark.parametrize(
    "change, error",
    [
        ({"kind": "liked"}, "kind must be"),
        ({"stamp": 0}, "stamp is not a valid order"),
        ({"stamp": 2**62}, "stamp is not a valid order"),
        ({"emoji": ""}, "emoji is not a valid emoji"),
        ({"emoji": "x" * 65}, "emoji is not a valid emoji"),
        ({"user_id": 0}, "user_id must name who reacted"),
        ({"author_name": ""}, "must name the message's author"),
        ({"message_id": 2**63}, "not a valid id"),
        ({"message_id": True}, "message_id is not a valid int"),
    ],
)
def test_malformed_reaction_payloads_are_refused_with_the_field_named(change, error):
    payload = {**reaction(ADDED, 1, 10).to_payload(), **change}
    with pytest.raises(ValueError, match=error):
        ReactionEvent.from_payload(payload)
    assert ReactionEvent.is_one(payload)
    assert not ReactionEvent.is_one(chat("x++").to_payload())


def test_a_cleared_message_names_no_one():
    event = reaction(CLEARED, 1, 10, emoji="")
    assert ReactionEvent.from_payload(event.to_payload()) == event
    with pytest.raises(ValueError, match="user_id"):
        ReactionEvent.from_payload({**event.to_payload(), "user_id": 5})


def test_records_that_give_nothing_are_forgotten_once_old_and_the_rest_kept(guild):
    given, taken = snowflake(), snowflake()
    react(ADDED, guild, given)
    react(ADDED, guild, taken)
    react(REMOVED, guild, taken)
    react(CLEARED, guild, snowflake(), emoji="")
    assert retention.forget_reactions(time.time_ns() + 10**9) == 2  # the removed one, the clearing
    assert list(Reaction.objects.filter(guild_id=guild).values_list("message_id", "given")) == [(given, 1)]
    assert react(REMOVED, guild, given).text() == "user500 has 0 karma."  # whenever it comes
