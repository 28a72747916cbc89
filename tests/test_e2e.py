"""The distributed path end to end: fake Discord -> gateway -> RabbitMQ -> two Celery workers ->
MariaDB -> replies task -> fake Discord, every part a real process or server."""

import base64
import json
import random
import urllib.error
import urllib.request

import kombu
import pytest

from karma.models import Karma, LedgerEntry
from karma.replies import CHECK, QUESTION
from testkit.processes import manage
from testkit.rules import RULES
from testkit.stack import BROKER_URL, broker_url, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

USERS = 50


@pytest.fixture(scope="module")
def world(fake_discord):
    fake = fake_discord
    world = {
        "rules": [fake.add_guild(f"rules-{i}") for i in range(len(RULES))],
        "main": fake.add_guild("main"),
        "other": fake.add_guild("other"),
        "load": fake.add_guild("load"),
    }
    world["alice"] = fake.add_user("alice")
    world["manager"] = fake.add_user("manager")
    world["admin"] = fake.add_user("admin")
    world["users"] = [fake.add_user(f"user{i}") for i in range(USERS)]
    world["a bot"] = fake.add_user("another bot", bot=True)
    for guild in [*world["rules"], world["main"], world["other"], world["load"]]:
        for user in [world["alice"], *world["users"], world["a bot"]]:
            fake.add_member(guild, user)
        fake.add_member(guild, world["manager"], manager=True)
        fake.add_member(guild, world["admin"], admin=True)
    return world


@pytest.fixture(scope="module")
def stack(stack_factory, world, fake_discord):
    stack = stack_factory()
    stack.worker("worker1")
    stack.worker("worker2")
    stack.connected_gateway()
    return stack


def karma(guild, subject):
    row = Karma.objects.using("mariadb").filter(guild_id=guild.id, subject=subject).first()
    return row.karma if row else 0


def test_rules_table(stack, world, fake_discord):
    fake = fake_discord
    bot = fake.bot["id"]
    expected = []
    for guild, (content, reply) in zip(world["rules"], RULES, strict=True):
        mentions = [world["alice"]] if "{alice}" in content else []
        # Sent by someone else than alice: `<@alice>++` from alice herself would be self-karma.
        author = world["users"][0]
        message_id = fake.send(guild, author, content.format(alice=world["alice"], bot=bot), mentions=mentions)
        expected.append((message_id, [reply] if reply else []))
    assert fake.wait_until(lambda: all(len(fake.replies_to(m)) == len(r) for m, r in expected), timeout=60)
    stack.wait_idle()
    assert [(m, fake.replies_to(m)) for m, _ in expected] == expected


def test_replies_never_mention_anyone(stack, world, fake_discord):
    fake = fake_discord
    message = fake.send(world["main"], world["alice"], "(@everyone)++ (@here)++ (<@&123>)++")
    assert fake.wait_until(lambda: fake.replies_to(message))
    assert fake.messages
    assert all(m.allowed_mentions == {"parse": []} for m in fake.messages)


def test_announce_and_boards(stack, world, fake_discord):
    fake, guild = fake_discord, world["other"]
    alice, manager = world["alice"], world["manager"]

    refused = fake.send(guild, alice, "@Popple announce off")
    assert fake.wait_until(lambda: fake.replies_to(refused))
    assert fake.reactions_to(refused) == [QUESTION]
    assert fake.replies_to(refused) == ["Only members who can manage this server can change announce."]

    off = fake.send(guild, manager, "@Popple announce OFF")
    assert fake.wait_until(lambda: fake.reactions_to(off))
    assert fake.reactions_to(off) == [CHECK]

    silent = fake.send(guild, alice, "quiet++ quiet++ loud--")
    assert fake.wait_until(lambda: karma(guild, "quiet") == 2)
    board = fake.send(guild, alice, "@Popple top 2")
    assert fake.wait_until(lambda: fake.replies_to(board))
    assert fake.replies_to(board) == ["* quiet has 2 karma.\n* loud has -1 karma."]
    bottom = fake.send(guild, alice, "@Popple bot")
    assert fake.wait_until(lambda: fake.replies_to(bottom))
    assert fake.replies_to(bottom) == ["* loud has -1 karma.\n* quiet has 2 karma."]

    on = fake.send(guild, manager, "@Popple announce yes")
    assert fake.wait_until(lambda: fake.reactions_to(on))
    loud = fake.send(guild, alice, "quiet++")
    assert fake.wait_until(lambda: fake.replies_to(loud))
    assert fake.replies_to(loud) == ["quiet has 3 karma."]
    assert fake.replies_to(silent) == []


def test_announce_is_for_managers_administrators_and_the_owner(stack, world, fake_discord):
    fake, guild = fake_discord, world["main"]
    for user, allowed in [(world["alice"], False), (world["manager"], True), (world["admin"], True),
                          (guild.owner_id, True)]:  # fmt: skip
        message = fake.send(guild, user, "@Popple announce on")
        assert fake.wait_until(lambda m=message: fake.reactions_to(m))
        assert fake.reactions_to(message) == [CHECK if allowed else QUESTION]


def test_direct_messages_and_bots_are_ignored(stack, world, fake_discord):
    fake, guild = fake_discord, world["main"]
    fake.send(guild, world["a bot"], "botted++")
    fake.send(guild, world["alice"], "dm++", dm=True)
    marker = fake.send(guild, world["alice"], "marker++")
    assert fake.wait_until(lambda: fake.replies_to(marker))
    stack.wait_idle()
    assert karma(guild, "botted") == 0
    assert not LedgerEntry.objects.using("mariadb").filter(subject__in=["botted", "dm"]).exists()
    assert "Ignoring exception" not in stack.processes["gateway"].log()  # left alone, not crashed on


def test_a_thousand_messages_at_once_count_exactly(stack, world, fake_discord):
    fake, guild = fake_discord, world["load"]
    users = world["users"]
    sent = [fake.send(guild, random.choice(users), "thing++") for _ in range(1000)]
    channel = guild.channel_ids[0]

    def told():
        return [int(m.content.removeprefix("thing has ").removesuffix(" karma.")) for m in fake.messages
                if m.channel_id == channel]  # fmt: skip

    assert fake.wait_until(lambda: told()[-1:] == [1000], timeout=180)
    stack.wait_idle()
    assert karma(guild, "thing") == 1000
    assert LedgerEntry.objects.using("mariadb").filter(guild_id=guild.id, subject="thing").count() == 1000
    assert all(len(fake.replies_to(m)) <= 1 for m in sent)
    # Each reply said its own message's total, unless the channel had been told a higher one by
    # then (two workers apply, two post: replies overtake each other): what was said only rises.
    assert told() == sorted(set(told()))


def test_replies_wait_out_rate_limits_and_server_errors(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world["main"], world["alice"]
    fake.fail_rest(429, seconds=2, retry_after=0.5)
    limited = fake.send(guild, alice, "patience++")
    assert fake.wait_until(lambda: fake.replies_to(limited), timeout=60)
    fake.fail_rest(502, seconds=3)
    failing = fake.send(guild, alice, "@Popple karma patience")
    assert fake.wait_until(lambda: fake.replies_to(failing), timeout=60)
    stack.wait_idle()
    assert fake.replies_to(limited) == ["patience has 1 karma."]
    assert fake.replies_to(failing) == ["patience has 1 karma."]
    assert ("POST", f"/channels/{guild.channel_ids[0]}/messages", 429) in fake.rest_log
    assert ("POST", f"/channels/{guild.channel_ids[0]}/messages", 502) in fake.rest_log


def test_flower_shows_the_tasks_behind_basic_auth(stack, world, fake_discord):
    # Task events cost four broker messages per chat message: none are sent while no monitor asks.
    with kombu.Connection(BROKER_URL) as connection:
        events = kombu.Queue("test-task-events", kombu.Exchange("celeryev", type="topic"), "task.#", exclusive=True)
        events = events(connection.default_channel)
        events.declare()
        unmonitored = fake_discord.send(world["main"], world["alice"], "unmonitored++")
        assert fake_discord.wait_until(lambda: fake_discord.replies_to(unmonitored))
        stack.wait_idle()
        assert events.get() is None

    port = free_port()
    stack.flower(port, FLOWER_BASIC_AUTH="ops:flower-password")
    url = f"http://127.0.0.1:{port}/api/tasks"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 401
    request = urllib.request.Request(
        url, headers={"Authorization": "Basic " + base64.b64encode(b"ops:flower-password").decode()}
    )

    def seen():
        with urllib.request.urlopen(request, timeout=10) as response:
            return {task["name"] for task in json.load(response).values()}

    # Flower asks the workers for task events (every 5 s): the tasks after that are shown.
    sent = []

    def monitored():
        sent.append(fake_discord.send(world["main"], world["alice"], "monitored++"))
        return {"karma.handle_message", "karma.send_reply"} <= seen()

    assert fake_discord.wait_until(monitored, timeout=30, interval=1)
    message = sent[-1]
    assert fake_discord.wait_until(lambda: fake_discord.replies_to(message))
    label = f"message_id={message} channel_id={world['main'].channel_ids[0]}"

    def labels():
        with urllib.request.urlopen(request, timeout=10) as response:
            tasks = json.load(response)
        return {task["args"] for task in tasks.values() if task["name"] in {"karma.handle_message", "karma.send_reply"}}

    assert fake_discord.wait_until(lambda: label in labels(), timeout=30)
    assert f"Visit me at http://127.0.0.1:{port}" in stack.processes["flower"].log()  # loopback only

    # Tasks are shown by a label, not the chat message or the reply it carries.
    with urllib.request.urlopen(request, timeout=10) as response:
        tasks = json.load(response)
    assert "monitored" not in json.dumps(tasks)
    assert str(world["alice"]) not in json.dumps(tasks)

    # Flower's API cannot run a task (here: post to any channel) nor act on workers.
    for path in ["/api/task/async-apply/karma.send_reply", "/api/task/send-task/karma.send_reply",
                 "/api/worker/shutdown/worker1@localhost", "/api/task/revoke/" + next(iter(tasks))]:  # fmt: skip
        action = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=b"{}", method="POST", headers=request.headers
        )
        with pytest.raises(urllib.error.HTTPError) as blocked:
            urllib.request.urlopen(action, timeout=10)
        assert blocked.value.code == 404, path


@pytest.mark.parametrize("credentials", ["", "ops:short-pass", "ops:a-long-password,ops2:short"])
def test_flower_refuses_weak_credentials(credentials):
    run = manage("runflower", FLOWER_BASIC_AUTH=credentials, CELERY_BROKER_URL=broker_url("flower"))
    assert run.returncode != 0
    assert run.stderr.strip().startswith("popple: configuration error: FLOWER_BASIC_AUTH must")
    assert "Traceback" not in run.stderr


def test_gateway_resumes_after_a_dropped_connection(stack, world, fake_discord):
    fake, guild, alice = fake_discord, world["main"], world["alice"]
    gateway = stack.processes["gateway"]
    fake.drop_connections()
    during = fake.send(guild, alice, "during++")  # sent while the bot is away
    gateway.wait_for_log("shard 0 reconnected and resumed its session")
    assert fake.wait_until(lambda: fake.replies_to(during))
    assert fake.replies_to(during) == ["during has 1 karma."]
