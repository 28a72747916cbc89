"""Slash commands end to end, both ways in: INTERACTION_CREATE through a gateway, and Discord's
signed POST to the web process's /interactions (gunicorn); real workers, RabbitMQ and MariaDB
complete them by editing the deferred response."""

import shlex
import time

import kombu
import pytest

from botgateway.slash_commands import from_discord
from karma.models import GuildSettings, Karma, LedgerEntry
from karma.slash import FORBIDDEN, GIVE_KARMA, NO_KARMA_FOR_BOTS, NO_NAMES, NOT_IN_DMS, ONE_NAME, UNKNOWN_COMMAND
from testkit.processes import ROOT, as_root
from testkit.stack import BROKER_URL, broker_url, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

PROXY = {"X-Forwarded-Proto": "https"}
WEB_COMMAND = next(
    line.split(": ", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
)


@pytest.fixture(scope="module")
def world(fake_discord):
    fake = fake_discord
    world = {"guild": fake.add_guild("slash"), "alice": fake.add_user("alice"), "manager": fake.add_user("manager")}
    world["robot"] = fake.add_user("robot", bot=True)
    fake.add_member(world["guild"], world["alice"])
    fake.add_member(world["guild"], world["manager"], manager=True)
    fake.add_member(world["guild"], world["robot"])
    return world


@pytest.fixture(scope="module")
def stack(stack_factory, world):
    stack = stack_factory()
    stack.deployed("karma", "worker")
    stack.deployed("replies", "replies")
    stack.connected_gateway()
    port = free_port()
    stack.start(
        "web",
        shlex.split(WEB_COMMAND),
        CELERY_BROKER_URL=broker_url("web"),
        DISCORD_TOKEN="",  # the web process never needs it
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_BEHIND_TLS_PROXY="true",  # the tests play the proxy (PROXY)
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
    ).wait_for_log(r"Listening at: http://127\.0\.0\.1")
    stack.interactions_url = f"http://127.0.0.1:{port}/interactions"
    return stack


@pytest.fixture(params=["gateway", "http"])
def run(request, stack, world, fake_discord):
    """Run a slash command the way the test is parametrized with; returns the interaction's id."""

    def run(command, options=None, user="alice", guild=None, dm=False, menu=None):
        guild, user_id = guild or world["guild"], world[user]
        if request.param == "gateway":
            return fake_discord.interact(guild, user_id, command, options, dm=dm, menu=menu)
        status, _, interaction_id = fake_discord.post_interaction(
            stack.interactions_url, guild, user_id, command, options, headers=PROXY, menu=menu
        )
        assert status == 200
        return interaction_id

    run.path = request.param  # names given karma in a test carry it: each way in has its own
    return run


def completed(fake, interaction_id, timeout=30):
    """The interaction's response once it says something (a refusal, or an edited deferral)."""
    interaction = fake.interaction(interaction_id)
    assert fake.wait_until(lambda: interaction.content is not None, timeout=timeout), "never completed"
    return interaction


def give(fake, world, text):
    message = fake.send(world["guild"], world["manager"], text)
    assert fake.wait_until(lambda: fake.replies_to(message))


def test_karma_top_and_bottom(run, fake_discord, world):
    coffee, tea = f"{run.path}-coffee", f"{run.path}-tea"
    give(fake_discord, world, f"{coffee}++ {coffee}++ {coffee}++ {coffee}++ {coffee}++ {tea}-- {tea}-- {tea}--")
    answer = completed(fake_discord, run("karma", {"subjects": f"{coffee} {tea}"}))
    assert (answer.content, answer.response_type, answer.ephemeral) == (
        f"{coffee} has 5 karma. {tea} has -3 karma.",
        5,  # deferred, then edited: a worker answered
        False,
    )
    top = completed(fake_discord, run("top", {"size": 1}))
    assert top.content in ("* gateway-coffee has 5 karma.", "* http-coffee has 5 karma.")
    bottom = completed(fake_discord, run("bottom"))
    assert bottom.content.splitlines()[0] in ("* gateway-tea has -3 karma.", "* http-tea has -3 karma.")
    for each in (answer, top, bottom):
        assert (each.edits, each.followups) == (1, [])
        assert all(mentions == {"parse": []} for mentions in each.allowed_mentions)


def test_plus_and_minus_give_karma_as_chat_does_and_tell_the_giver(run, fake_discord, world):
    name = f"({run.path} build server)"
    posted = len(fake_discord.messages)
    plus = completed(fake_discord, run("plus", {"name": name, "reason": "green again"}))
    assert (plus.content, plus.response_type, plus.ephemeral) == (f"{run.path} build server has 1 karma.", 5, True)
    minus = completed(fake_discord, run("minus", {"name": f"{run.path}-tea"}, user="manager"))
    assert minus.content == f"{run.path}-tea has -1 karma."
    itself = completed(fake_discord, run("plus", {"name": "alice"}))
    assert itself.content == "You cannot give yourself karma."
    two = completed(fake_discord, run("plus", {"name": "tea coffee"}))
    assert (two.response_type, two.content, two.ephemeral) == (4, ONE_NAME, True)
    rows = LedgerEntry.objects.using("mariadb").filter(guild_id=world["guild"].id, message_id=plus.id)
    assert list(rows.values_list("subject", "delta", "reason")) == [(f"{run.path} build server", 1, "green again")]
    assert len(fake_discord.messages) == posted  # told to the giver only: the channel saw nothing


def test_give_karma_from_the_menu_of_a_person_and_of_a_message(run, stack, fake_discord, world):
    """Right-click a person, or one of their messages: Give karma. No chat is read."""
    before = dict(Karma.objects.using("mariadb").filter(guild_id=world["guild"].id).values_list("subject", "karma"))
    person = completed(fake_discord, run(GIVE_KARMA, menu=("user", world["manager"])))
    assert (person.content, person.response_type, person.ephemeral) == (
        f"manager has {before.get('manager', 0) + 1} karma.",
        5,
        True,
    )
    said = fake_discord.send(world["guild"], world["manager"], "a helpful answer")  # not a karma message
    message = completed(fake_discord, run(GIVE_KARMA, menu=("message", said)))
    assert message.content == f"manager has {before.get('manager', 0) + 2} karma."
    own = fake_discord.send(world["guild"], world["alice"], "my own answer")
    assert completed(fake_discord, run(GIVE_KARMA, menu=("message", own))).content == "You cannot give yourself karma."
    robot = completed(fake_discord, run(GIVE_KARMA, menu=("user", world["robot"])))
    assert (robot.response_type, robot.content, robot.ephemeral) == (4, NO_KARMA_FOR_BOTS, True)
    stack.wait_idle()
    rows = LedgerEntry.objects.using("mariadb").filter(message_id__in=[person.id, message.id])
    assert sorted(rows.values_list("subject", "delta")) == [("manager", 1), ("manager", 1)]
    given = Karma.objects.using("mariadb").filter(guild_id=world["guild"].id, subject__in=["alice", "robot"])
    assert not given.exists()


def test_announce_and_config_are_answered_to_the_manager_only(run, fake_discord, world):
    answer = completed(fake_discord, run("announce", {"setting": "off"}, user="manager"))
    assert (answer.content, answer.ephemeral) == ("announce: off", True)
    assert not GuildSettings.objects.using("mariadb").get(guild_id=world["guild"].id).announce
    changed = completed(fake_discord, run("config", {"setting": "cooldown", "value": "1 min"}, user="manager"))
    assert (changed.content, changed.ephemeral) == ("cooldown: 60 s", True)
    bad = completed(fake_discord, run("config", {"setting": "cooldown", "value": "soon"}, user="manager"))
    assert bad.ephemeral
    assert "cooldown" in bad.content
    listed = completed(fake_discord, run("config", user="manager"))
    assert "announce: off" in listed.content.splitlines()
    assert listed.ephemeral
    completed(fake_discord, run("announce", {"setting": "on"}, user="manager"))
    completed(fake_discord, run("config", {"setting": "cooldown", "value": "off"}, user="manager"))


def test_refusals_are_immediate_and_ephemeral(run, fake_discord, world):
    cases = [
        (("announce", {"setting": "off"}, "alice"), FORBIDDEN),
        (("karma", {"subjects": "``"}, "alice"), NO_NAMES),
        (("shrug", {}, "alice"), UNKNOWN_COMMAND),  # an old registration
        (("top", {"colour": "red"}, "alice"), UNKNOWN_COMMAND),
    ]
    for (command, options, user), refusal in cases:
        answer = completed(fake_discord, run(command, options, user=user))
        assert (answer.response_type, answer.content, answer.ephemeral, answer.edits) == (4, refusal, True, 0)
    assert not GuildSettings.objects.using("mariadb").filter(guild_id=world["guild"].id, announce=False).exists()


def test_direct_messages_are_refused(stack, fake_discord, world):
    answer = completed(fake_discord, fake_discord.interact(world["guild"], world["alice"], "top", dm=True))
    assert (answer.response_type, answer.content, answer.ephemeral) == (4, NOT_IN_DMS, True)


def test_acknowledged_in_time_while_the_karma_workers_are_stopped(run, stack, fake_discord, world):
    give(fake_discord, world, f"{run.path}-stopped++")
    stack.processes["karma"].stop()
    try:
        interaction_id = run("karma", {"subjects": f"{run.path}-stopped"})
        interaction = fake_discord.interaction(interaction_id)
        assert fake_discord.wait_until(lambda: interaction.response_type == 5, timeout=10)
        assert (interaction.acknowledged_after < 3, interaction.late_callbacks) == (True, 0)
        time.sleep(3)
        assert interaction.content is None  # no one could answer it yet
    finally:
        stack.deployed("karma", "worker")
    assert completed(fake_discord, interaction_id).content == f"{run.path}-stopped has 1 karma."
    assert interaction.edits == 1


def test_a_redelivered_interaction_is_completed_once(stack, fake_discord, world):
    give(fake_discord, world, "redelivered-tea--")
    # The same task twice, as RabbitMQ redelivers one whose worker died before acknowledging it.
    body = fake_discord._interaction_object(world["guild"], world["alice"], "karma", {"subjects": "redelivered-tea"})
    interaction = fake_discord.interaction(int(body["id"]))
    interaction.response_type = 5  # deferred, as a gateway would have done
    payload = from_discord(body).to_payload()
    with kombu.Connection(BROKER_URL) as connection:
        producer = connection.Producer()
        for _ in range(2):
            producer.publish(
                [[payload], {}, {}],
                exchange="karma",
                routing_key="karma",
                headers={"task": "karma.handle_interaction", "id": f"redelivered-{body['id']}"},
                serializer="json",
            )
    assert completed(fake_discord, interaction.id).content == "redelivered-tea has -1 karma."
    stack.wait_idle()
    assert interaction.edits == 1


def test_an_expired_interaction_is_dropped_with_one_line(stack, fake_discord, world):
    body = fake_discord._interaction_object(world["guild"], world["alice"], "top", {})
    old = ((int(body["id"]) >> 22) - 16 * 60 * 1000) << 22  # made 16 minutes ago
    payload = from_discord({**body, "id": str(old)}).to_payload()  # its token ran out a minute ago
    with kombu.Connection(BROKER_URL) as connection:
        connection.Producer().publish(
            [[payload], {}, {}],
            exchange="karma",
            routing_key="karma",
            headers={"task": "karma.handle_interaction", "id": f"expired-{old}"},
            serializer="json",
        )
    stack.processes["karma"].wait_for_log(f"slash command {old} dropped: older than its 15-minute token")
    stack.wait_idle()
    assert fake_discord.interaction(int(body["id"])).edits == 0


def test_no_interaction_token_in_any_log(stack, fake_discord):
    tokens = [interaction.token for interaction in fake_discord.interactions.values()]
    assert tokens
    for name, process in stack.processes.items():
        log = process.log()
        assert not [token for token in tokens if token in log], f"an interaction token in {name}'s log"


def test_a_recorded_interaction_replayed_is_refused(stack, fake_discord, world):
    # Discord sends each interaction once; someone who recorded a signed POST could send it again
    # within the signature's 5 minutes, re-applying a manager's /config. Interaction ids are
    # remembered (in Redis, shared by the web processes) for 15 minutes.
    def config(value, shown):
        status, _, interaction_id = fake_discord.post_interaction(
            stack.interactions_url, world["guild"], world["manager"], "config",
            {"setting": "cooldown", "value": value}, headers=PROXY,
        )  # fmt: skip
        assert status == 200
        assert completed(fake_discord, interaction_id).content == f"cooldown: {shown}"
        return interaction_id

    first = config("2 min", "2 min")
    config("3 min", "3 min")
    assert GuildSettings.objects.using("mariadb").get(guild_id=world["guild"].id).cooldown == 180
    assert fake_discord.replay_interaction(stack.interactions_url, first) == (409, "interaction already received")
    stack.wait_idle()
    assert GuildSettings.objects.using("mariadb").get(guild_id=world["guild"].id).cooldown == 180
    config("off", "off")


@pytest.mark.exclusive
def test_acknowledged_in_time_while_rabbitmq_is_stopped(stack, fake_discord, world):
    """Last in this module: RabbitMQ restarts."""
    give(fake_discord, world, "outage-coffee++")
    as_root("service", "rabbitmq-server", "stop")
    try:
        interaction_id = fake_discord.interact(world["guild"], world["alice"], "karma", {"subjects": "outage-coffee"})
        interaction = fake_discord.interaction(interaction_id)
        assert fake_discord.wait_until(lambda: interaction.response_type == 5, timeout=10)
        assert interaction.acknowledged_after < 3
        # Over HTTP nothing could complete a deferral: the web process answers from the database,
        # each time within Discord's 3 seconds (kombu would otherwise reconnect for seconds).
        for _ in range(2):
            status, answer, asked = fake_discord.post_interaction(
                stack.interactions_url, world["guild"], world["alice"], "karma", {"subjects": "outage-coffee"},
                headers=PROXY,
            )  # fmt: skip
            assert (status, answer["type"], answer["data"]["content"]) == (200, 4, "outage-coffee has 1 karma.")
            assert answer["data"]["flags"] == 0  # an answer for the channel, as a worker's would be
            assert fake_discord.interaction(asked).late_callbacks == 0
    finally:
        as_root("service", "rabbitmq-server", "start")
    assert completed(fake_discord, interaction_id, timeout=120).content == "outage-coffee has 1 karma."
    assert interaction.edits == 1
