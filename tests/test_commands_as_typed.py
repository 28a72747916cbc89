"""Every command README.md tells a person to type, run as typed: `python manage.py NAME ...` (or
`scripts/...`) in a subprocess, since call_command skips Django's system checks and its parsing of
the command line. Each: what it does when all is right, and one bad input, which gets one clear
line and a non-zero exit status, never a traceback.

A command tested as typed in another file is listed in ELSEWHERE with that file; a command the
README names that is in neither fails the first test.
"""

import csv
import json
import re
import subprocess

import pytest

from botgateway.management.commands.chat import LOCAL_GUILD_ID, USER_ID
from testkit.fakediscord import FakeDiscord
from testkit.processes import ROOT, clean_env, manage

README = (ROOT / "README.md").read_text()
HERE = {"sync_commands", "export_karma", "forget_user", "createsuperuser", "migrate", "chat", "setup_rabbitmq"}
# Tested as typed (a subprocess, success and a bad input) in these files:
ELSEWHERE = {
    "runbot": ["tests/test_runbot.py"],
    "rungateway": ["testkit/stack.py", "tests/test_runbot.py"],  # every end-to-end test; a bad shard list
    "runflower": ["testkit/stack.py", "tests/test_e2e.py"],  # tests/test_metrics.py, a weak password
    "setup_rabbitmq": ["scripts/test", "tests/test_rabbitmq.py"],
    "import_popple": ["karma/tests/test_import_popple.py"],
    # --deploy; a bad retention; too few LEDGER_DETAIL_DAYS
    "check": ["tests/test_web.py", "karma/tests/test_retention.py", "karma/tests/test_rollup.py"],
}


def test_every_documented_command_is_tested_as_typed():
    documented = set(re.findall(r"manage\.py (\w+)", README)) | set(re.findall(r"scripts/run (\w+)", README))
    assert documented - HERE - set(ELSEWHERE) == set()
    for command, files in ELSEWHERE.items():
        for path in files:
            assert f'"{command}"' in (ROOT / path).read_text() or f" {command}" in (ROOT / path).read_text(), path


@pytest.fixture
def database(tmp_path):
    """A fresh SQLite database, migrated as typed."""
    url = f"sqlite:///{tmp_path}/popple.sqlite3"
    done = manage("migrate", "--noinput", DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert "Applying karma.0001_initial... OK" in done.stdout
    return url


def one_line_error(done, status=1):
    """The command failed with `status` and said why in one line (argparse: after its usage)."""
    assert done.returncode == status, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_migrate(database):
    assert one_line_error(manage("migrate", "karma", "9999", DATABASE_URL=database)) == (
        "CommandError: Cannot find a migration matching '9999' from app 'karma'."
    )


def test_chat(database):
    done = manage("chat", input="popple++\n@Popple top\n", DATABASE_URL=database)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["popple has 1 karma.", "* popple has 1 karma."]
    assert one_line_error(manage("chat", "--user", DATABASE_URL=database), 2) == (
        "manage.py chat: error: argument --user: expected one argument"
    )


@pytest.fixture(scope="module")
def fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


def test_sync_commands(fake, database):
    """README, "Slash commands": this crashed from the command line (its own `check` hid Django's)."""
    env = {**fake.environment(), "DATABASE_URL": database}
    done = manage("sync_commands", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "registered 9 slash commands globally: /karma, /why, /top, /bottom, /announce, /config, /givers, /plus, "
        "/minus; "
        "context menus: Give karma (on a person), Give karma (on a message)\n"
    )
    guild = fake.add_guild("trying them out")
    done = manage("sync_commands", "--guild", str(guild.id), **env)
    assert done.stdout.startswith(f"registered 9 slash commands in server {guild.id}: /karma")
    assert [c["name"] for c in fake.commands[guild.id]] == [
        *("karma", "why", "top", "bottom", "announce", "config", "givers", "plus", "minus"),
        *("Give karma", "Give karma"),  # on a person, on a message
    ]
    assert one_line_error(manage("sync_commands", "--guild", "my-server", **env), 2) == (
        "manage.py sync_commands: error: argument --guild: invalid int value: 'my-server'"
    )
    refused = manage("sync_commands", **{**env, "DISCORD_TOKEN": "not-the-token"})
    assert one_line_error(refused) == "CommandError: Discord refused DISCORD_TOKEN (401)"


@pytest.fixture
def karma_given(database):
    """Karma given in `chat`'s local server, by its local user."""
    done = manage("chat", input="popple++\n(=HYPERLINK(1))++\n", DATABASE_URL=database)
    assert done.returncode == 0, done.stderr
    return database


def test_export_karma(karma_given, tmp_path):
    out = tmp_path / "karma.csv"
    done = manage(
        "export_karma", "--guild", str(LOCAL_GUILD_ID), "--format", "csv", "-o", out, DATABASE_URL=karma_given
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {(row["subject"], row["karma"]) for row in rows} == {("popple", "1"), ("'=HYPERLINK(1)", "1")}
    done = manage("export_karma", "--guild", str(LOCAL_GUILD_ID), "--format", "json", DATABASE_URL=karma_given)
    exported = json.loads(done.stdout)
    assert [row["subject"] for row in exported["ledger"]] == ["popple", "=HYPERLINK(1)"]
    assert exported["rollup"] == []  # nothing is old enough to be rolled up (karma/tests/test_rollup.py)
    done = manage("export_karma", "--guild", str(LOCAL_GUILD_ID), "--table", "rollup", DATABASE_URL=karma_given)
    assert done.stdout.splitlines() == ["day,subject,delta,changes,total,last_at"]
    assert one_line_error(manage("export_karma", "--guild", "999", DATABASE_URL=karma_given)) == (
        "CommandError: Popple knows no server 999."
    )
    assert one_line_error(manage("export_karma", "--guild", "1", "--format", "xml", DATABASE_URL=karma_given), 2) == (
        "manage.py export_karma: error: argument --format: invalid choice: 'xml' (choose from 'csv', 'json')"
    )
    nowhere = manage(
        "export_karma", "--guild", "1", "-o", tmp_path / "no" / "such" / "dir.csv", DATABASE_URL=karma_given
    )
    assert one_line_error(nowhere).startswith("CommandError: cannot write ")


def test_forget_user(karma_given):
    done = manage("forget_user", str(USER_ID), DATABASE_URL=karma_given)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Forgot user {USER_ID}: 2 ledger rows no longer name them.\n"
    exported = json.loads(manage("export_karma", "--guild", "1", "--format", "json", DATABASE_URL=karma_given).stdout)
    assert {(row["author_id"], row["author_name"]) for row in exported["ledger"]} == {(None, "")}
    assert one_line_error(manage("forget_user", "bob", DATABASE_URL=karma_given)) == (
        "CommandError: 'bob' is not a Discord user id (a number)."
    )


def test_createsuperuser(database):
    env = {"DATABASE_URL": database, "DJANGO_SUPERUSER_PASSWORD": "a long and unguessable password 4711"}
    done = manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.org", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Superuser created successfully.\n"
    again = manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.org", **env)
    assert one_line_error(again) == "CommandError: Error: That username is already taken."


def test_setup_rabbitmq_without_its_passwords():
    """Its success is what scripts/test runs before every suite (and tests/test_rabbitmq.py)."""
    done = manage("setup_rabbitmq", RABBITMQ_MANAGEMENT_URL="http://guest:guest@127.0.0.1:15672")
    assert one_line_error(done).startswith("CommandError: set RABBITMQ_GATEWAY_PASSWORD, RABBITMQ_WORKER_PASSWORD")


def test_scripts_run_chat(tmp_path):
    """README, "Try it": `scripts/run chat` (its virtual environment is the one the tests run in)."""
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/popple.sqlite3")
    done = subprocess.run(["scripts/run", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        ["scripts/run", "chat"], cwd=ROOT, env=env, input="coffee++\n", capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "coffee has 1 karma.\n"
    unknown = subprocess.run(["scripts/run", "chats"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert unknown.returncode == 1
    assert "Unknown command: 'chats'" in unknown.stderr
