"""Role rewards in the domain: which roles a karma earns, the `roles` and `rolestack` settings as
people type them, and the roles a message's changes call for. On SQLite and on MariaDB alike."""

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from karma import config, retention
from karma.message import ADDED, REMOVED, RoleChange
from karma.models import GuildSettings, Member, SettingChange, validate_role_rewards
from karma.moderation import actions
from karma.replies import CHECK, QUESTION
from karma.roles import rewards
from karma.router import CONFIG_FORBIDDEN, forget_deleted, respond, respond_to_reaction
from karma.slash import answer
from karma.tests.test_slash import slash_command
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import chat, deletion, reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)

HELPER, REGULAR, LEGEND = 111, 222, 333
CONFIGURED = f"10 <@&{HELPER}> 50 <@&{REGULAR}> 100 <@&{LEGEND}>"


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def given(guild, subject, times, **kwargs):
    """The roles Popple calls for after `subject++` (or `--`, times < 0) said `times` times at once."""
    sign = "++" if times > 0 else "--"
    return talk.reply_to(guild, " ".join([f"{subject}{sign}"] * abs(times)), **kwargs).roles


def test_highest_only_or_stacked():
    configured = rewards.parse(CONFIGURED)
    assert configured == [[10, str(HELPER)], [50, str(REGULAR)], [100, str(LEGEND)]]
    assert rewards.earned(9, configured, stack=False) == []
    assert rewards.earned(10, configured, stack=False) == [HELPER]
    assert rewards.earned(99, configured, stack=False) == [REGULAR]
    assert rewards.earned(99, configured, stack=True) == [HELPER, REGULAR]
    assert rewards.earned(1000, configured, stack=True) == [HELPER, REGULAR, LEGEND]
    assert rewards.earned(-5, configured, stack=True) == []
    assert rewards.managed(configured) == [HELPER, REGULAR, LEGEND]


@pytest.mark.parametrize(
    "typed",
    [
        "10 @Helper",  # typed out, not picked from the @ menu: no id to give
        f"10 <@&{HELPER}> 50",
        f"0 <@&{HELPER}>",
        f"-3 <@&{HELPER}>",
        f"10 <@&{HELPER}> 20 <@&{HELPER}>",  # one role twice
        f"10 <@&{HELPER}> 10 <@&{REGULAR}>",  # one threshold twice
        " ".join(f"{n} <@&{n}>" for n in range(1, 12)),  # more than MAX_REWARDS
        "",
        f"10 <@{HELPER}>",  # a person, not a role
    ],
)
def test_what_is_not_a_valid_rewards_setting(typed):
    assert rewards.parse(typed) is None


def test_rewards_are_configured_in_chat_and_recorded_with_who_changed_them(guild):
    shown = f"roles: 10 <@&{HELPER}>, 50 <@&{REGULAR}>, 100 <@&{LEGEND}>"
    assert talk.say(guild, f"@Popple config roles {CONFIGURED}") == (shown, CHECK)
    assert talk.say(guild, "@Popple config rolestack on") == ("rolestack: on", CHECK)
    listed = talk.say(guild, "@Popple config")[0].splitlines()
    assert shown in listed
    assert "rolestack: on" in listed
    assert talk.say(guild, "@Popple config roles off") == ("roles: off", CHECK)
    changes = SettingChange.objects.filter(guild_id=guild).order_by("id")
    assert list(changes.values_list("setting", "old", "new", "changed_by")) == [
        ("roles", "off", shown.removeprefix("roles: "), "user500 (500)"),
        ("rolestack", "off", "on", "user500 (500)"),
        ("roles", shown.removeprefix("roles: "), "off", "user500 (500)"),
    ]


def test_a_bad_rewards_setting_gets_the_usage_and_changes_nothing(guild):
    talk.say(guild, f"@Popple config roles 10 <@&{HELPER}>")
    assert talk.say(guild, "@Popple config roles 10 @Helper") == (rewards.HELP, QUESTION)
    assert talk.say(guild, "@Popple config rolestack maybe")[1] == QUESTION
    assert talk.say(guild, "@Popple config roles off", can_manage=False) == (CONFIG_FORBIDDEN, QUESTION)
    assert f"roles: 10 <@&{HELPER}>" in config.show(guild)
    assert SettingChange.objects.filter(guild_id=guild).count() == 1


def test_reaching_a_threshold_earns_its_role_and_dropping_below_takes_it_back(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    assert given(guild, "user600", 9) == ()  # user600 was never seen: no one to give a role
    talk.say(guild, "hello++", author_id=600)  # now they have spoken: user600 is member 600
    [change] = given(guild, "user600", 1)
    assert change == RoleChange(guild, guild * 10, change.message_id, 600, "user600", change.version, [HELPER],
                                [HELPER, REGULAR, LEGEND])  # fmt: skip
    [higher] = given(guild, "user600", 40)
    assert (higher.wanted, higher.version > change.version) == ([REGULAR], True)
    [lower] = given(guild, "user600", -41)
    assert lower.wanted == []


def test_stacked_roles_are_all_kept_up_to_the_karma(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    talk.say(guild, "@Popple config rolestack on")
    talk.say(guild, "hello++", author_id=600)
    assert [change.wanted for change in given(guild, "user600", 55)] == [[HELPER, REGULAR]]


def test_people_mentioned_are_known_by_their_username_and_bots_never_are(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    mentions = {"700": "carol", "701": "robot"}
    message = replace(chat(" ".join(["<@700>++"] * 10), guild_id=guild, mentions=mentions), bots=[701])
    [change] = respond(message).roles
    assert (change.user_id, change.wanted) == (700, [HELPER])
    assert set(Member.objects.filter(guild_id=guild).values_list("user_id", "username")) == {
        (500, "user500"),
        (700, "carol"),
    }


def test_a_redelivered_message_calls_for_the_same_roles_at_the_same_version(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    talk.say(guild, "hello++", author_id=600)
    first = talk.reply_to(guild, " ".join(["user600++"] * 10), message_id=4242)
    again = talk.reply_to(guild, " ".join(["user600++"] * 10), message_id=4242)
    assert len(first.roles) == 1
    assert again.roles == first.roles


def test_servers_without_rewards_record_no_one_and_read_nothing_more(guild):
    talk.say(guild, "hello++", author_id=600)
    using = router.db_for_write(Member)
    with CaptureQueriesContext(connections[using]) as queries:
        reply = talk.reply_to(guild, "user600++", author_id=601)
    assert reply.roles == ()
    assert not Member.objects.filter(guild_id=guild).exists()
    assert not [query for query in queries.captured_queries if Member._meta.db_table in query["sql"]]


def test_the_admins_changes_of_rewards_are_recorded(guild, django_user_model):
    admin = django_user_model.objects.create(username="mod")
    old = GuildSettings.objects.create(guild_id=guild)
    new = GuildSettings(guild_id=guild, role_rewards=[[10, str(HELPER)]], role_stack=True)
    config.record_admin_change(old, new, admin)
    changes = SettingChange.objects.filter(guild_id=guild).order_by("id")
    assert list(changes.values_list("setting", "new", "changed_by")) == [
        ("roles", f"10 <@&{HELPER}>", "admin mod"),
        ("rolestack", "on", "admin mod"),
    ]


def test_who_is_who_goes_with_a_forgotten_person_and_a_departed_server(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    talk.say(guild, "hello++", author_id=600)
    talk.say(guild, "hello++", author_id=601)
    actions.forget_user(600)
    assert list(Member.objects.filter(guild_id=guild).values_list("user_id", flat=True)) == [601]
    GuildSettings.objects.filter(guild_id=guild).update(left_at=timezone.now() - timedelta(days=31))
    retention.delete_departed(30)
    assert not Member.objects.filter(guild_id=guild).exists()


def test_reactions_and_slash_commands_call_for_roles_too(guild):
    talk.say(guild, f"@Popple config roles 1 <@&{HELPER}>")
    talk.say(guild, "@Popple config reactions 👍")
    post = snowflake()
    [added] = respond_to_reaction(reaction(ADDED, guild, post, user_id=700, author_id=600)).roles
    assert (added.user_id, added.wanted) == (600, [HELPER])  # the author, known from the reaction itself
    [removed] = respond_to_reaction(reaction(REMOVED, guild, post, user_id=700)).roles
    assert (removed.user_id, removed.wanted, removed.version > added.version) == (600, [], True)
    [plus] = answer(slash_command("plus", {"name": "user600"}, guild_id=guild)).roles
    assert (plus.user_id, plus.wanted) == (600, [HELPER])
    assert "roles" not in answer(slash_command("plus", {"name": "user600"}, guild_id=guild)).to_payload()


def test_a_deleted_message_takes_back_the_role_it_gave(guild):
    talk.say(guild, f"@Popple config roles 10 <@&{HELPER}>")
    talk.say(guild, "hello++", author_id=600)
    given_by = talk.reply_to(guild, " ".join(["user600++"] * 10), message_id=snowflake())  # sent now
    assert [change.wanted for change in given_by.roles] == [[HELPER]]
    gone = deletion(guild, guild * 10, [given_by.message_id], time.time())
    [taken] = forget_deleted(gone)
    assert (taken.user_id, taken.wanted, taken.version > given_by.roles[0].version) == (600, [], True)
    assert forget_deleted(gone) == ()  # deleted again: nothing more


def test_deletions_on_servers_without_rewards_read_no_more(guild):
    said = talk.reply_to(guild, "tea++", message_id=snowflake())
    using = router.db_for_write(Member)
    with CaptureQueriesContext(connections[using]) as queries:
        assert forget_deleted(deletion(guild, guild * 10, [said.message_id], time.time())) == ()
    assert not [query for query in queries.captured_queries if Member._meta.db_table in query["sql"]]


@pytest.mark.parametrize(
    "broken",
    [
        {"wanted": [HELPER], "managed": []},  # a role it does not manage
        {"wanted": [True], "managed": [True]},
        {"managed": list(range(1, 12))},  # more roles than a server may reward
        {"user_id": 0},
        {"subject": 5},
        {"version": "7"},
    ],
)
def test_a_malformed_role_change_is_refused_with_what_is_wrong(broken):
    good = RoleChange(1, 10, 100, 600, "user600", 3, [HELPER], [HELPER, REGULAR]).to_payload()
    assert RoleChange.from_payload(good).to_payload() == good
    with pytest.raises(ValueError, match="payload"):
        RoleChange.from_payload({**good, **broken})


def test_the_admin_accepts_rewards_as_stored_and_refuses_the_rest():
    validate_role_rewards([[10, str(HELPER)], [50, str(REGULAR)]])
    validate_role_rewards([])
    validate_role_rewards([[50, str(REGULAR)], [10, str(HELPER)]])  # saved sorted
    for bad in ([[10, HELPER]], [[0, str(HELPER)]], [[10, str(HELPER)], [10, str(REGULAR)]], {"10": "1"}, [[10]]):
        with pytest.raises(ValidationError):
            validate_role_rewards(bad)


def test_rewards_saved_in_any_order_are_kept_by_threshold(guild):
    GuildSettings(guild_id=guild, role_rewards=[[50, str(REGULAR)], [10, str(HELPER)]]).save()
    assert f"roles: 10 <@&{HELPER}>, 50 <@&{REGULAR}>" in config.show(guild)


def test_slash_config_sets_rewards_as_chat_does(guild):
    asked = slash_command("config", {"setting": "roles", "value": f"10 <@&{HELPER}>"}, manager=True, guild_id=guild)
    assert answer(asked).content == f"roles: 10 <@&{HELPER}>"
    refused = slash_command("config", {"setting": "roles", "value": "10 Helper"}, manager=True, guild_id=guild)
    assert answer(refused).content == rewards.HELP


def test_a_person_renamed_is_known_by_their_new_name_once_they_speak(guild):
    talk.say(guild, f"@Popple config roles {CONFIGURED}")
    talk.say(guild, "hello++", author_id=600, author_name="bob")
    talk.say(guild, "hello++", author_id=600, author_name="robert")
    assert given(guild, "bob", 10) == ()
    assert [change.user_id for change in given(guild, "robert", 10)] == [600]
