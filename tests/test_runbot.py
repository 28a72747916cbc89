"""The embedded default: `manage.py runbot` alone, on SQLite with tasks inline, against the fake Discord."""

import subprocess
import sys
import time

import pytest
from django.db import connections

from botgateway.snowflakes import edit_reply_id
from karma.replies import CHAT_NOT_READ, CHECK
from karma.slash import GIVE_KARMA
from testkit import answers
from testkit.burst import Burst
from testkit.fakediscord import FakeDiscord
from testkit.processes import ROOT, Process, as_root, clean_env, manage
from testkit.stack import mariadb_test_url


@pytest.fixture
def fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


def runbot(fake, tmp_path, database_url=None, command=(sys.executable, "manage.py", "runbot")):
    """`manage.py runbot` (or `command`) against the fake, connected; on SQLite in tmp_path unless
    told otherwise."""
    env = clean_env(
        DATABASE_URL=database_url or f"sqlite:///{tmp_path}/popple.sqlite3",
        GATEWAY_OUTBOX_PATH=f"{tmp_path}/outbox.sqlite3",
        **fake.environment(),
    )
    bot = Process("runbot", list(command), env, tmp_path).start()
    try:
        bot.wait_for_log("connected to Discord as Popple")
    except AssertionError:
        bot.stop()
        raise
    return bot


def test_runbot_answers_in_one_process(fake, tmp_path):
    guild = fake.add_guild("home")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    # As README's "Try it" says to run it: `DISCORD_TOKEN=... scripts/run` (the token is the fake's).
    bot = runbot(fake, tmp_path, command=["scripts/run"])
    try:
        first = fake.send(guild, alice, "popple++")
        assert fake.wait_until(lambda: fake.replies_to(first))
        second = fake.send(guild, alice, f"popple++ <@{fake.bot['id']}> karma")
        command = fake.send(guild, alice, f"<@{fake.bot['id']}> karma popple")
        assert fake.wait_until(lambda: fake.replies_to(second) and fake.replies_to(command))
    finally:
        bot.stop()
    assert fake.replies_to(first) == ["popple has 1 karma."]
    assert fake.replies_to(second) == ["popple has 2 karma."]
    assert fake.replies_to(command) == ["popple has 2 karma."]
    assert bot.popen.returncode == 0
    assert fake.token not in bot.log()


def test_runbot_answers_slash_commands(fake, tmp_path):
    guild = fake.add_guild("home")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    bot = runbot(fake, tmp_path)
    try:
        given = fake.send(guild, alice, "tea++ tea++")
        assert fake.wait_until(lambda: fake.replies_to(given))
        asked = fake.interaction(fake.interact(guild, alice, "karma", {"subjects": "tea"}))
        refused = fake.interaction(fake.interact(guild, alice, "config", {"setting": "budget", "value": "5"}))
        assert fake.wait_until(lambda: asked.content and refused.content)
    finally:
        bot.stop()
    assert (asked.response_type, asked.content, asked.edits) == (5, "tea has 2 karma.", 1)
    assert (refused.response_type, refused.ephemeral) == (4, True)
    assert asked.token not in bot.log()


def configure(fake, guild, manager, setting):
    """`@Popple config SETTING` said by a manager, once Popple took it (its ✅)."""
    bot_id = int(fake.bot["id"])
    said = fake.send(guild, manager, f"<@{bot_id}> config {setting}", mentions=[bot_id])
    assert fake.wait_until(lambda: fake.reactions_to(said) == [CHECK])


def test_runbot_counts_reactions(fake, tmp_path):
    guild = fake.add_guild("home")
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild, alice, manager=True)
    fake.add_member(guild, bob)
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, "reactions 👍")
        post = fake.send(guild, bob, "a good idea")
        fake.react(guild, post, alice)
        assert fake.wait_until(lambda: [m.content for m in fake.messages][-1:] == ["bob has 1 karma."])
        fake.unreact(guild, post, alice)
        assert fake.wait_until(lambda: [m.content for m in fake.messages][-1:] == ["bob has 0 karma."])
    finally:
        bot.stop()
    assert bot.popen.returncode == 0


def test_runbot_counts_thanks(fake, tmp_path):
    guild = fake.add_guild("home")
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild, alice, manager=True)
    fake.add_member(guild, bob)
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, "thanks on")
        tip = fake.send(guild, bob, "try turning it off and on again")
        thanks = fake.send(guild, alice, "thank you, that did it", reply_to=tip)
        assert fake.wait_until(lambda: fake.replies_to(thanks) == ["bob has 1 karma."])
    finally:
        bot.stop()
    assert bot.popen.returncode == 0


def test_runbot_counts_karma_only_where_the_server_says(fake, tmp_path):
    guild = fake.add_guild("home", channels=2)
    alice = fake.add_user("alice")
    fake.add_member(guild, alice, manager=True)
    listed, elsewhere = guild.channel_ids
    bot = runbot(fake, tmp_path)
    try:
        configure(fake, guild, alice, f"channels only <#{listed}>")
        ignored = fake.send(guild, alice, "tea++", channel_id=elsewhere)
        counted = fake.send(guild, alice, "tea++", channel_id=listed)
        assert fake.wait_until(lambda: fake.replies_to(counted) == ["tea has 1 karma."])
    finally:
        bot.stop()
    assert fake.replies_to(ignored) == []


def test_runbot_counts_thanks_once_under_the_rules(fake, tmp_path):
    """A thanks Discord delivers twice counts once; the cooldown holds for thanks as for `++`; no
    one thanks themselves or a bot, by mention or by reply."""
    guild = fake.add_guild("home")
    alice, bob, carol = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("carol")
    helper = fake.add_user("helper", bot=True)
    fake.add_member(guild, alice, manager=True)
    for member in (bob, carol, helper):
        fake.add_member(guild, member)
    bot = runbot(fake, tmp_path)
    try:
        for setting in ("thanks on", "cooldown 1h"):
            configure(fake, guild, alice, setting)
        thanks = fake.send(guild, alice, f"thanks <@{bob}>", mentions=[bob])
        assert fake.wait_until(lambda: fake.replies_to(thanks) == ["bob has 1 karma."])
        fake.deliver_again(guild, thanks)
        again = fake.send(guild, alice, f"thanks again <@{bob}>", mentions=[bob])
        own = fake.send(guild, carol, "my notes")
        to_self = [
            fake.send(guild, carol, "thanks, past me", reply_to=own),
            fake.send(guild, carol, f"ty <@{carol}>", mentions=[carol]),
        ]
        build = fake.send(guild, helper, "build passed")
        to_bot = [
            fake.send(guild, carol, "thanks!", reply_to=build),
            fake.send(guild, carol, f"ty <@{helper}>", mentions=[helper]),
        ]
        # Handled in order (one outbox): once this is answered, all the above were.
        last = fake.send(guild, carol, f"thank you <@{bob}>", mentions=[bob])
        assert fake.wait_until(lambda: fake.replies_to(last))
    finally:
        bot.stop()
    assert fake.replies_to(last) == ["bob has 2 karma."]  # 3 had the second delivery counted
    assert fake.replies_to(thanks) == ["bob has 1 karma."]
    assert fake.replies_to(again)[0].startswith("cooldown: you can change bob again in ")
    assert [fake.replies_to(message) for message in to_self + to_bot] == [[], [], [], []]
    assert bot.popen.returncode == 0


def test_runbot_without_the_message_content_intent(fake, tmp_path):
    """Refused the intent (4014), one process counts what needs no chat read: /plus, Give karma."""
    fake.message_content_allowed = False
    guild = fake.add_guild("home")
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild, alice)
    fake.add_member(guild, bob)
    bot = runbot(fake, tmp_path)
    try:
        plain = fake.send(guild, alice, "bob++")
        plus = fake.interaction(fake.interact(guild, alice, "plus", {"name": "bob"}))
        menu = fake.interaction(fake.interact(guild, bob, GIVE_KARMA, menu=("message", plain)))
        assert fake.wait_until(lambda: plus.content and menu.content)
        config = fake.send(guild, bob, f"<@{fake.bot['id']}> config", mentions=[int(fake.bot["id"])])
        assert fake.wait_until(lambda: fake.replies_to(config))
    finally:
        bot.stop()
    assert (plus.content, menu.content) == ("bob has 1 karma.", "alice has 1 karma.")
    assert fake.replies_to(plain) == []
    assert fake.replies_to(config)[0].splitlines()[-1] == CHAT_NOT_READ
    assert bot.log().count("close code 4014") == 1


def test_runbot_follows_edits_and_deletes(fake, tmp_path):
    guild = fake.add_guild("home")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    bot = runbot(fake, tmp_path)
    try:
        edited, deleted = fake.send(guild, alice, "bob++"), fake.send(guild, alice, "carol++ for tea")
        assert fake.wait_until(lambda: fake.replies_to(edited) and fake.replies_to(deleted))
        edit = edit_reply_id(edited, fake.edit(guild, edited, "dave++ for the docs"))
        assert fake.wait_until(lambda: fake.replies_to(edit))
        fake.delete(guild, deleted)
        why = fake.send(guild, alice, "@Popple why carol")
        board = fake.send(guild, alice, "@Popple top")
        assert fake.wait_until(lambda: fake.replies_to(why) and fake.replies_to(board))
    finally:
        bot.stop()
    assert fake.replies_to(edit) == ["dave has 1 karma. bob has 0 karma."]
    assert fake.replies_to(why) == ["No reasons recorded for carol yet."]  # its message was deleted
    assert fake.replies_to(board) == ["* dave has 1 karma."]


def test_runbot_lives_within_discords_limits(tmp_path):
    """The burst in the one-process mode: the same holding, merging and budget, in memory."""
    fake = FakeDiscord(**FakeDiscord.DISCORD_LIMITS).start()
    burst = Burst(fake)
    bot = runbot(fake, tmp_path)
    try:
        burst.send()
        assert burst.wait(timeout=60)
        figures = burst.figures()
    finally:
        bot.stop()
        fake.stop()
    assert max(figures.cold_latencies) < 2.0
    assert figures.busy_seconds < 10.0
    assert burst.busy_channel()[-1].content == burst.expected
    assert figures.too_many == 0
    assert "forwarded 70 messages, dropped 0" in bot.log()


@pytest.mark.parametrize("command", ["runbot", "rungateway"])
def test_a_token_is_required(command, tmp_path):
    result = manage(command, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert result.returncode == 1
    assert result.stderr == "popple: configuration error: DISCORD_TOKEN must be set to the bot's token\n"


def test_a_refused_token_stops_with_one_line(fake, tmp_path):
    env = {**fake.environment(), "DISCORD_TOKEN": "not-the-right-token"}
    result = manage(
        "runbot",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        GATEWAY_OUTBOX_PATH=f"{tmp_path}/outbox.sqlite3",
        **env,
    )
    assert result.returncode == 1
    assert result.stderr == "popple: Discord refused DISCORD_TOKEN (401 Unauthorized)\n"
    assert "not-the-right-token" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "count, ids, problem",
    [
        ("", "0", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
        ("2", "0-2", "DISCORD_SHARD_IDS: '0-2' is outside 0-1"),
        ("2", "one", "DISCORD_SHARD_IDS: 'one' is not a shard id or range"),
    ],
)
def test_bad_shard_ids_stop_with_one_line(count, ids, problem):
    result = manage("rungateway", DISCORD_TOKEN="x", DISCORD_SHARD_COUNT=count, DISCORD_SHARD_IDS=ids)
    assert result.returncode == 1
    assert result.stderr == f"popple: configuration error: {problem}\n"


def test_a_worker_needs_the_token_too():
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "poppleproject", "worker", "-P", "threads", "-c", "1"],
        cwd=ROOT,
        env=clean_env(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "popple: configuration error: DISCORD_TOKEN must be set to the bot's token"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, databases=["mariadb"])
@pytest.mark.exclusive
def test_runbot_keeps_messages_while_its_database_is_away(fake, tmp_path, services):
    """One process on MariaDB: a message that arrives while the database is down waits, then counts."""
    guild = fake.add_guild("home")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    bot = runbot(fake, tmp_path, database_url=mariadb_test_url())
    try:
        before = fake.send(guild, alice, "patient++")
        assert fake.wait_until(lambda: fake.replies_to(before))
        as_root("service", "mariadb", "stop")
        try:
            during = fake.send(guild, alice, "patient++")
            time.sleep(3)
            assert fake.replies_to(during) == []
        finally:
            as_root("service", "mariadb", "start")
            connections["mariadb"].close()  # this process's own connection did not survive the restart
        assert fake.wait_until(lambda: fake.replies_to(during), timeout=60)
    finally:
        bot.stop()
    assert fake.replies_to(during) == ["patient has 2 karma."]
    # An expected outage: the outbox says so once, and when it is over; no traceback per attempt.
    log = bot.log()
    assert "outbox: database unreachable" in log
    assert "outbox: database reachable again" in log
    assert "Traceback" not in log


def test_runbot_answers_in_the_servers_language(fake, tmp_path):
    """A server whose preferred locale in Discord is German (its GUILD_CREATE says so) gets German
    answers from the start; `config language` changes them, and `auto` comes back to Discord's."""
    bot = runbot(fake, tmp_path)
    try:
        # Added once Popple is connected: its GUILD_CREATE comes before any message sent there.
        guild = fake.add_guild("heim", locale="de")
        alice = fake.add_user("alice")
        fake.add_member(guild, alice, manager=True)
        first = fake.send(guild, alice, "tee++ kaffee--")
        assert fake.wait_until(lambda: fake.replies_to(first))
        configure(fake, guild, alice, "language fr")
        second = fake.send(guild, alice, "tee++")
        assert fake.wait_until(lambda: fake.replies_to(second))
        # Slash commands: answered in the server's language; refused at once in the asker's.
        asked = fake.interaction(fake.interact(guild, alice, "karma", {"subjects": "tee"}, locale="de"))
        refused = fake.interaction(fake.interact(guild, alice, "top", {"size": 0}, locale="pt-BR"))
        assert fake.wait_until(lambda: asked.content and refused.content)
        fake.rename(guild, "heim", locale="es-ES")  # changed in Discord: a GUILD_UPDATE
        configure(fake, guild, alice, "language auto")
        third = fake.send(guild, alice, "tee++")
        assert fake.wait_until(lambda: fake.replies_to(third))
    finally:
        bot.stop()
    assert fake.replies_to(first) == ["tee hat 1 karma. kaffee hat -1 karma."]
    assert fake.replies_to(second) == ["tee a 2 karma."]
    assert asked.content == "tee a 2 karma."
    assert (refused.content, refused.ephemeral) == ("O tamanho de um ranking é um número de 1 a 100.", True)
    assert fake.replies_to(third) == ["tee tiene 3 karma."]
    assert answers.announced(fake.replies_to(third)[0], "es") == [("tee", 3)]
    assert bot.popen.returncode == 0
