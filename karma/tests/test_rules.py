"""Each fair-karma rule through the router, on SQLite and on MariaDB alike."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karma import config
from karma.models import GuildSettings, Karma, LedgerEntry, SettingChange
from karma.parser import parse_changes
from karma.replies import CHECK, QUESTION, REFUSED
from karma.router import respond
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import BOT_ID, chat

pytestmark = pytest.mark.django_db(databases=DATABASES)
ALICE = 700


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def say(guild, content, author_id=ALICE, **kwargs):
    kwargs.setdefault("author_name", "alice")
    return talk.say(guild, content, author_id=author_id, **kwargs)


def karma(guild, subject):
    row = Karma.objects.filter(guild_id=guild, subject=subject).first()
    return row.karma if row else 0


def setting(guild, name, value):
    config.change(guild, name, value, "test")


@pytest.mark.parametrize(
    "content",
    ["alice++", "ALICE++", "(Ally)++", "(al)++", f"<@{ALICE}>++", "@alice++"],
)
def test_no_karma_to_yourself_by_any_of_your_names(guild, content):
    reply = say(guild, content, author_global_name="Ally", author_nick="al", mentions={str(ALICE): "alice"})
    assert reply == ("You cannot give yourself karma.", None)
    assert not LedgerEntry.objects.filter(guild_id=guild).exists()


def test_taking_karma_from_yourself_is_allowed_and_others_still_count(guild):
    assert say(guild, "alice--") == ("alice has -1 karma.", None)
    assert say(guild, "alice++ bob++ alice++") == ("bob has 1 karma. You cannot give yourself karma.", None)
    assert say(guild, "bob++", author_id=ALICE + 1, author_name="carol") == ("bob has 2 karma.", None)


def test_a_server_may_allow_self_karma(guild):
    setting(guild, "selfkarma", "allow")
    assert say(guild, "alice++") == ("alice has 1 karma.", None)


def test_with_announce_off_a_refusal_is_a_reaction(guild):
    setting(guild, "announce", "off")
    assert say(guild, "alice++ bob++") == (None, REFUSED)
    assert karma(guild, "bob") == 1
    assert say(guild, "bob++") == (None, None)


def test_ignored_names_never_count_whatever_their_case(guild):
    setting(guild, "ignore", "add c, the build")
    assert say(guild, "c++ C++ (The Build)++") == (None, None)
    assert say(guild, "c++ go++") == ("go has 1 karma.", None)
    assert not Karma.objects.filter(guild_id=guild, subject__in=["c", "C", "The Build"]).exists()
    setting(guild, "ignore", "remove C")
    assert say(guild, "c++") == ("c has 1 karma.", None)


def test_max_change_caps_what_one_message_gives(guild):
    assert say(guild, "x++ x++ x++ x++") == ("x has 4 karma.", None)  # off: as Popple always did
    setting(guild, "maxchange", "2")
    assert say(guild, "x++ x++ x++ y-- y-- y--") == (
        "x has 6 karma. y has -2 karma. max change: at most 2 karma per name in one message.",
        None,
    )


def test_cooldown_per_person_and_name(guild):
    setting(guild, "cooldown", "60")
    assert say(guild, "x++") == ("x has 1 karma.", None)
    assert say(guild, "x++ y++") == ("y has 1 karma. cooldown: you can change x again in 60 s.", None)
    assert say(guild, "x++", author_id=ALICE + 1, author_name="carol") == ("x has 2 karma.", None)
    assert karma(guild, "x") == 2


def test_budget_per_person_per_hour(guild):
    setting(guild, "budget", "3")
    assert say(guild, "a++ b++ c++ d++ e++") == (
        "a has 1 karma. b has 1 karma. c has 1 karma. budget: 3 changes per person per hour; your next one in 60 min.",
        None,
    )
    assert say(guild, "f++")[0].startswith("budget: ")
    assert say(guild, "f++", author_id=ALICE + 1, author_name="carol") == ("f has 1 karma.", None)


def test_a_redelivered_message_answers_as_the_first_time_under_the_rules(guild):
    setting(guild, "cooldown", "60")
    setting(guild, "budget", "1")
    message = chat("x++", guild_id=guild, author_id=ALICE, author_name="alice")
    assert respond(message).text() == "x has 1 karma."
    assert respond(message).text() == "x has 1 karma."  # not refused by its own first application
    assert karma(guild, "x") == 1


def test_config_public_opens_the_web_board(guild):
    assert not GuildSettings.objects.filter(guild_id=guild, public=True).exists()  # off by default
    assert say(guild, "@Popple config public maybe") == (
        'public must be "on" (anyone can see the leaderboard on the web) or "off"',
        QUESTION,
    )
    assert say(guild, "@Popple config public on") == ("public: on", CHECK)
    assert GuildSettings.objects.get(guild_id=guild).public


def test_config_lists_changes_and_refuses_bad_values(guild):
    assert say(guild, "@Popple config")[0].splitlines() == [
        "announce: on",
        "selfkarma: deny",
        "cooldown: off",
        "budget: off",
        "maxchange: off",
        "public: off",
        "ignore: (none)",
        "reactions: off",
        "channels: everywhere",
        "points: karma",
        "language: auto (en)",
        "thanks: off",
        "thankwords: thanks, thank you, thx, ty",
        "log: off",
        "logrefusals: 10 an hour",
        "roles: off",
        "rolestack: off",
        "chat: `x++` counts",  # the deployment reads chat (Discord's Message Content intent)
    ]
    assert say(guild, "@Popple config cooldown 5m") == ("cooldown: 5 min", CHECK)
    assert say(guild, "@Popple config cooldown soon") == (
        'cooldown must be a time (60, 90s, 5m or 1h; at most 7 days) or "off"',
        QUESTION,
    )
    assert say(guild, "@Popple config budget 20000")[1] == QUESTION
    assert say(guild, "@Popple config colour blue")[0].startswith("Settings are: announce, selfkarma")
    assert say(guild, "@Popple config maxchange 3", can_manage=False) == (
        "Only members who can manage this server can change settings.",
        QUESTION,
    )
    assert say(guild, "@Popple config cooldown off") == ("cooldown: off", CHECK)
    changes = SettingChange.objects.filter(guild_id=guild).order_by("id")
    assert list(changes.values_list("setting", "old", "new", "changed_by")) == [
        ("cooldown", "off", "5 min", f"alice ({ALICE})"),
        ("cooldown", "5 min", "off", f"alice ({ALICE})"),
    ]


@pytest.mark.django_db(databases=DATABASES, transaction=True)
@pytest.mark.parametrize("rule, value, messages, expected", [
    ("cooldown", "60", ["x++"] * 50, {"x": 1}),
    ("budget", "10", [f"s{n}++" for n in range(50)], 10),
])  # fmt: skip
def test_rules_are_exact_when_workers_apply_one_persons_burst_at_once(database, rule, value, messages, expected):
    guild = talk.new_guild()
    setting(guild, rule, value)
    errors = []

    def apply(share):
        try:
            for content in share:
                respond(chat(content, guild_id=guild, author_id=ALICE, author_name="alice"))
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=apply, args=(messages[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counted = dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))
    if isinstance(expected, dict):
        assert counted == expected
    else:
        assert sum(counted.values()) == expected


RULE_SETTINGS = st.fixed_dictionaries({
    "selfkarma": st.sampled_from(["allow", "deny"]),
    "cooldown": st.sampled_from(["off", "1", "1h"]),
    "budget": st.sampled_from(["off", "1", "5"]),
    "maxchange": st.sampled_from(["off", "1", "3"]),
})  # fmt: skip
TEXT = st.lists(
    st.one_of(
        st.sampled_from(["x++", "x--", "alice++", "(a b)++", "c++", "Ab++", "ab--", "@alice++", "`y++`", "++", "--"]),
        st.text(max_size=8),
    ),
    max_size=12,
).map(" ".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RULE_SETTINGS, TEXT)
def test_the_rules_never_raise_nor_touch_a_name_the_message_does_not_change(guild, rules, text):
    guild = talk.new_guild()
    for name, value in rules.items():
        setting(guild, name, value)
    setting(guild, "ignore", "add c")
    respond(chat(text, guild_id=guild, author_id=ALICE, author_name="alice"))
    named = {subject for subject, _ in parse_changes(text, {str(BOT_ID): "Popple"})}
    assert set(Karma.objects.filter(guild_id=guild).values_list("subject", flat=True)) <= named


def test_the_author_cannot_slip_past_self_karma_with_invisible_or_decomposed_names(guild):
    kinds = {"author_global_name": "Ch\u200barlie", "author_nick": "Cafe\u0301"}
    assert say(guild, "charlie++ (CAFÉ)++", **kinds) == ("You cannot give yourself karma.", None)


def test_a_cooldown_line_stays_short_whatever_the_names(guild):
    setting(guild, "cooldown", "60")
    names = [f"({'_' * 120}{n:02})++" for n in range(20)]
    say(guild, " ".join(names))
    text, _ = say(guild, " ".join(names))
    assert text.startswith("cooldown: you can change ")
    assert text.endswith(" and 17 more.")
    assert len(text) < 1000


def test_a_long_ignore_list_is_listed_in_one_line(guild):
    for first in range(0, 100, 10):
        setting(guild, "ignore", "add " + ", ".join(f"{'w' * 120}{n:03}" for n in range(first, first + 10)))
    (line,) = [line for line in say(guild, "@Popple config")[0].splitlines() if line.startswith("ignore: ")]
    assert line.endswith(" and 80 more")
    assert len(line) < 2000


def test_zero_and_off_both_turn_a_rule_off(guild):
    for value in ("0", "00", "0s", "off"):
        setting(guild, "cooldown", "60")
        assert say(guild, f"@Popple config cooldown {value}") == ("cooldown: off", CHECK)


def test_a_message_redelivered_after_later_changes_still_answers_as_the_first_time(guild):
    setting(guild, "budget", "1")
    first = chat("x++", guild_id=guild, author_id=ALICE, author_name="alice")
    assert respond(first).text() == "x has 1 karma."
    # An hour later the person changes something else, which uses up the budget again...
    LedgerEntry.objects.filter(message_id=first.message_id).update(created_at=timezone.now() - timedelta(hours=2))
    assert say(guild, "y++") == ("y has 1 karma.", None)
    # ...and then the first message is delivered again: it was applied, so it is not refused.
    assert respond(first).text() == "x has 1 karma."
    assert karma(guild, "x") == 1
