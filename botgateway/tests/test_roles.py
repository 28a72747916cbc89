"""Role rewards applied against the double, which enforces Manage Roles and the role hierarchy:
the difference with what was applied, once per person however often or late their changes come,
and the moderators told once when Popple may not manage a role."""

import time

import pytest

from botgateway.ratelimits import MemoryLimits
from botgateway.rest import DiscordRest
from botgateway.roles import MemoryStore, RoleApplier, notice_text
from karma.message import RoleChange
from karma.models import GuildSettings
from testkit.fakediscord import BOT_ROLE_POSITION, FakeDiscord

CHANNEL = 4242
pytestmark = pytest.mark.django_db  # a notice is said in the server's language, read from its settings


@pytest.fixture(autouse=True)
def namespace(settings):
    settings.REDIS_NAMESPACE = "tests"  # the applier's keys, as a real bot's


@pytest.fixture
def fake():
    fake = FakeDiscord(member_roles_limit=(1, 1.0)).start()  # one role change per second per server
    yield fake
    fake.stop()


@pytest.fixture
def server(fake):
    guild = fake.add_guild("roles")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    helper = fake.add_role(guild, "Helper", position=1)
    return guild, alice, helper


@pytest.fixture
def said():
    return []


@pytest.fixture
def applier(fake, said):
    return RoleApplier(MemoryLimits(fake.global_limit), DiscordRest(fake.api_url, fake.token), said.append)


def change(guild, user_id, version, wanted, managed, subject="alice"):
    return RoleChange(guild.id, CHANNEL, 1000 + version, user_id, subject, version, list(wanted), list(managed))


def settled(applier, role_change):
    """Apply it, waiting out the budget as the task's retries would."""
    while (wait := applier.apply(role_change)) is not None:
        time.sleep(wait)


def role_requests(fake):
    return [entry for entry in fake.rest_log if entry[1].startswith("/guilds/") and entry[2] != 429]


def test_reaching_a_threshold_gives_the_role_and_dropping_below_takes_it_back(fake, server, applier):
    guild, alice, helper = server
    settled(applier, change(guild, alice, 1, [helper], [helper]))
    assert helper in fake.roles_of(guild, alice)
    settled(applier, change(guild, alice, 2, [], [helper]))
    assert helper not in fake.roles_of(guild, alice)
    assert fake.role_changes == [(guild.id, alice, helper, "add"), (guild.id, alice, helper, "remove")]


def test_the_highest_role_replaces_the_one_below(fake, server, applier):
    guild, alice, helper = server
    regular = fake.add_role(guild, "Regular", position=2)
    settled(applier, change(guild, alice, 1, [helper], [helper, regular]))
    settled(applier, change(guild, alice, 2, [regular], [helper, regular]))
    assert fake.roles_of(guild, alice) == {regular}


def test_a_task_delivered_again_or_late_changes_nothing(fake, server, applier):
    guild, alice, helper = server
    first = change(guild, alice, 1, [helper], [helper])
    settled(applier, first)
    settled(applier, change(guild, alice, 3, [], [helper]))
    made = len(role_requests(fake))
    settled(applier, first)  # redelivered, and older than what was applied since
    settled(applier, change(guild, alice, 3, [], [helper]))  # redelivered
    assert len(role_requests(fake)) == made
    assert fake.roles_of(guild, alice) == set()


def test_crossings_that_piled_up_while_the_budget_was_spent_cost_one_change(fake, server, applier):
    guild, alice, helper = server
    settled(applier, change(guild, alice, 1, [helper], [helper]))  # the server's bucket is spent now
    waiting = [change(guild, alice, version, wanted, [helper]) for version, wanted in ((2, []), (3, [helper]), (4, []))]
    assert applier.apply(waiting[0]) > 0  # waits for the budget
    for piled in waiting[1:]:  # arriving meanwhile: kept as the newest state, or applied at once
        applier.apply(piled)
    for piled in waiting:  # their retries, in any order
        settled(applier, piled)
    assert fake.role_changes == [(guild.id, alice, helper, "add"), (guild.id, alice, helper, "remove")]
    assert len(role_requests(fake)) == 2


def test_without_manage_roles_the_moderators_are_told_once(fake, server, applier, said):
    guild, alice, helper = server
    fake.set_bot_permissions(guild, manage_roles=False)
    settled(applier, change(guild, alice, 1, [helper], [helper]))
    settled(applier, change(guild, alice, 2, [], [helper]))
    settled(applier, change(guild, alice, 3, [helper], [helper]))
    assert fake.roles_of(guild, alice) == set()
    assert [(reply.channel_id, reply.text()) for reply in said] == [(CHANNEL, notice_text(helper))]
    fake.set_bot_permissions(guild, manage_roles=True)  # a moderator fixes it
    settled(applier, change(guild, alice, 4, [helper], [helper]))
    assert fake.roles_of(guild, alice) == {helper}
    fake.set_bot_permissions(guild, manage_roles=False)  # and it breaks again: that is news
    settled(applier, change(guild, alice, 5, [], [helper]))
    assert len(said) == 2


def test_a_role_above_popples_own_is_told_once_and_the_others_are_still_given(fake, server, applier, said):
    guild, alice, helper = server
    legend = fake.add_role(guild, "Legend", position=BOT_ROLE_POSITION + 1)
    settled(applier, change(guild, alice, 1, [helper, legend], [helper, legend]))
    settled(applier, change(guild, alice, 2, [helper, legend], [helper, legend]))
    assert fake.roles_of(guild, alice) == {helper}
    assert [reply.text() for reply in said] == [notice_text(legend)]
    assert "<@&" in said[0].text()  # the role by name in Discord's client; replies allow no mention


def test_a_person_renamed_is_followed_by_their_new_names_karma(fake, server, applier):
    guild, alice, helper = server
    settled(applier, change(guild, alice, 40, [helper], [helper]))
    settled(applier, change(guild, alice, 1, [], [helper], subject="alice2"))  # a new name: versions start again
    assert fake.roles_of(guild, alice) == set()


def test_runbots_memory_keeps_every_persons_state(fake, server, said):
    """Django's memory cache forgets entries beyond 300: a moderator would be told again."""
    guild, alice, helper = server
    fake.set_bot_permissions(guild, manage_roles=False)
    applier = RoleApplier(MemoryLimits(fake.global_limit), DiscordRest(fake.api_url, fake.token), said.append,
                          MemoryStore())  # fmt: skip
    for person in range(400):  # more people than Django's memory cache keeps entries
        applier.states.set(f"someone-{person}", {"version": person}, None)
    settled(applier, change(guild, alice, 1, [helper], [helper]))
    for person in range(400):
        applier.states.set(f"someone-else-{person}", {"version": person}, None)
    settled(applier, change(guild, alice, 2, [], [helper]))
    assert len(said) == 1


def test_the_moderators_are_told_in_the_servers_language(fake, server, applier, said):
    guild, alice, helper = server
    GuildSettings.objects.create(guild_id=guild.id, language="de")
    fake.set_bot_permissions(guild, manage_roles=False)
    settled(applier, change(guild, alice, 1, [helper], [helper]))
    assert [reply.text() for reply in said] == [
        f"Ich konnte die Rolle <@&{helper}> nicht vergeben oder zurücknehmen: Ich brauche die Berechtigung „Rollen "
        "verwalten“, und meine höchste Rolle muss über ihr stehen (Servereinstellungen → Rollen). Ich sage das nur "
        "einmal; die Rollenbelohnungen für sie warten bis dahin."
    ]
