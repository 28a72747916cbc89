"""The fair-karma rules end to end: set in Discord, applied by real workers, exact under concurrency."""

import pytest

from karma.models import Karma, SettingChange
from karma.replies import CHECK

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

BURST = 50


@pytest.fixture(scope="module")
def world(fake_discord):
    fake = fake_discord
    guilds = {name: fake.add_guild(name) for name in ("self", "cooldown", "budget")}
    alice = fake.add_user("alice", global_name="Alice Liddell")
    manager = fake.add_user("manager")
    for guild in guilds.values():
        fake.add_member(guild, alice, nick="ally")
        fake.add_member(guild, manager, manager=True)
    return guilds, alice, manager


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.deployed("karma1", "worker")
    stack.deployed("karma2", "worker")
    stack.deployed("replies1", "replies")
    stack.connected_gateway()
    return stack


def configure(fake, guild, manager, command):
    message = fake.send(guild, manager, f"@Popple config {command}")
    assert fake.wait_until(lambda: fake.reactions_to(message))
    assert fake.reactions_to(message) == [CHECK]


def karma(guild):
    return dict(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", "karma"))


def test_no_karma_to_yourself_by_the_names_discord_knows(stack, world, fake_discord):
    fake, (guilds, alice, _) = fake_discord, world
    guild = guilds["self"]
    sent = [fake.send(guild, alice, content) for content in ("(Alice Liddell)++", "ally++", "alice++ bob++")]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in sent))
    assert [fake.replies_to(m) for m in sent] == [
        ["You cannot give yourself karma."],
        ["You cannot give yourself karma."],
        ["bob has 1 karma. You cannot give yourself karma."],
    ]
    assert karma(guild) == {"bob": 1}


def test_a_cooldown_holds_when_two_workers_apply_one_persons_burst(stack, world, fake_discord):
    fake, (guilds, alice, manager) = fake_discord, world
    guild = guilds["cooldown"]
    configure(fake, guild, manager, "cooldown 60")
    sent = [fake.send(guild, alice, "x++") for _ in range(BURST)]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in sent), timeout=60)
    stack.wait_idle()
    assert karma(guild) == {"x": 1}
    replies = [fake.replies_to(m)[0] for m in sent]
    assert replies.count("x has 1 karma.") == 1
    assert sum(reply.startswith("cooldown: you can change x again in ") for reply in replies) == BURST - 1


def test_a_budget_holds_when_two_workers_apply_one_persons_burst(stack, world, fake_discord):
    fake, (guilds, alice, manager) = fake_discord, world
    guild = guilds["budget"]
    configure(fake, guild, manager, "budget 10")
    sent = [fake.send(guild, alice, f"s{n}++") for n in range(BURST)]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in sent), timeout=60)
    stack.wait_idle()
    assert sum(karma(guild).values()) == 10
    changes = SettingChange.objects.using("mariadb").filter(guild_id=guild.id)
    assert list(changes.values_list("setting", "new", "changed_by")) == [
        ("budget", "10 changes per person per hour", f"manager ({manager})")
    ]


def test_ignored_names_and_the_cap_per_message(stack, world, fake_discord):
    fake, (guilds, alice, manager) = fake_discord, world
    guild = guilds["self"]
    configure(fake, guild, manager, "ignore add c, go")
    configure(fake, guild, manager, "maxchange 2")
    message = fake.send(guild, alice, "C++ is nice, go++ too, and rust++ rust++ rust++ rust++")
    assert fake.wait_until(lambda: fake.replies_to(message))
    assert fake.replies_to(message) == ["rust has 2 karma. max change: at most 2 karma per name in one message."]
    assert "c" not in karma(guild)
    assert "go" not in karma(guild)
