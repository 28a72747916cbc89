"""`manage.py import_popple` with databases laid out as the Go Popple's own migrations make them:
the SQLite file of its latest releases and the MySQL database of its 2022 popplesvc."""

import io
import sqlite3
import urllib.parse

import MySQLdb
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from karma.models import GuildSettings, Karma, LedgerEntry, SettingChange
from testkit.databases import DATABASES
from testkit.processes import manage

pytestmark = pytest.mark.django_db(databases=DATABASES)

# The tables as connorkuehl/popple's migrations create them (internal/database/sqlite/migrations/
# 000001_create_tables.up.sql and migrations/20220924204256_create_tables.up.sql).
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
    name TEXT NOT NULL, server_id TEXT NOT NULL, karma BIGINT NOT NULL DEFAULT 0, UNIQUE (name, server_id));
CREATE TABLE IF NOT EXISTS configs (created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
    server_id TEXT NOT NULL, no_announce BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE (server_id));
"""
MYSQL_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS entities (id INT AUTO_INCREMENT NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, name VARCHAR(128) CHARACTER SET utf8 COLLATE utf8_bin NOT NULL,
    server_id VARCHAR(128) CHARACTER SET utf8 COLLATE utf8_bin NOT NULL, karma BIGINT DEFAULT 0, PRIMARY KEY (id))""",
    """CREATE TABLE IF NOT EXISTS configs (id INT AUTO_INCREMENT NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, server_id VARCHAR(128) CHARACTER SET utf8 COLLATE utf8_bin NOT NULL,
    no_announce BOOLEAN DEFAULT false, PRIMARY KEY (id))""",
]
LONGEST = "x" * 128
ENTITIES = [
    ("111", "popple", 5),
    ("111", "☕ coffee", -2),
    ("111", LONGEST, 1),
    ("111", "y" * 129, 3),  # too long for Popple (SQLite let the Go Popple store it)
    ("111", "admin", 2),
    ("111", "ad\u200bmin", 1),  # one name with "admin" once the invisible space is gone
    ("111", "\u200b", 4),  # nothing left
    ("111", "nothing", 0),
    ("222", "popple", 7),
    ("not-a-server", "popple", 1),
]
CONFIGS = [("111", True), ("222", False)]
NOW = "2024-01-01 00:00:00"


@pytest.fixture
def sqlite_popple(tmp_path):
    path = tmp_path / "popple.db"
    with sqlite3.connect(path) as db:
        db.executescript(SQLITE_SCHEMA)
        rows = [*ENTITIES, ("111", "🎉 party 🏳️‍🌈", 9)]  # emoji the MySQL layout (utf8, 3 bytes) cannot hold
        db.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?)", [(NOW, NOW, n, s, k) for s, n, k in rows])
        db.executemany("INSERT INTO configs VALUES (?, ?, ?, ?)", [(NOW, NOW, s, a) for s, a in CONFIGS])
    return str(path)


@pytest.fixture
def mysql_popple(monkeypatch):
    """The popplesvc database's URL, without its password: that is in MYSQL_PWD."""
    db = settings.DATABASES["mariadb"]
    monkeypatch.setenv("MYSQL_PWD", db["PASSWORD"])
    name = db["TEST"]["NAME"] + "_gopopple"
    server = MySQLdb.connect(host=db["HOST"], port=int(db["PORT"]), user=db["USER"], password=db["PASSWORD"])
    cursor = server.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    cursor.execute(f"CREATE DATABASE {name}")
    cursor.execute(f"USE {name}")
    for statement in MYSQL_SCHEMA:
        cursor.execute(statement)
    cursor.executemany(
        "INSERT INTO entities (created_at, updated_at, name, server_id, karma) VALUES (%s, %s, %s, %s, %s)",
        [(NOW, NOW, n, s, k) for s, n, k in ENTITIES if n != "y" * 129],  # VARCHAR(128)
    )
    cursor.executemany(
        "INSERT INTO configs (created_at, updated_at, server_id, no_announce) VALUES (%s, %s, %s, %s)",
        [(NOW, NOW, s, a) for s, a in CONFIGS],
    )
    server.commit()
    yield f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"
    cursor.execute(f"DROP DATABASE {name}")
    server.close()


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_popple", *args, stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue()


def karma(guild):
    return dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma"))


def test_a_sqlite_popple_is_imported_once(database, sqlite_popple):
    lines, progress = run(sqlite_popple)
    assert "servers: 100%" in progress
    assert lines == [
        "Found 11 subjects and 2 settings.",
        "Imported 6 subjects with 23 karma in total into 2 servers; 1 announce settings.",
        "Skipped 1 rows: no karma.",
        "Skipped 1 rows: the name is empty once invisible characters are removed.",
        "Skipped 1 rows: the name is longer than 128 characters.",
        "Skipped 1 rows: the server id is not a Discord id.",
    ]
    assert karma(111) == {"popple": 5, "☕ coffee": -2, LONGEST: 1, "admin": 3, "🎉 party 🏳️‍🌈": 9}
    assert karma(222) == {"popple": 7}
    assert not GuildSettings.objects.get(guild_id=111).announce
    assert SettingChange.objects.get(guild_id=111).changed_by == "import from Popple"
    assert set(LedgerEntry.objects.values_list("source", flat=True)) == {"import"}
    # Twice: nothing changes.
    ledger = LedgerEntry.objects.count()
    assert run(sqlite_popple)[0][1] == "Imported 0 subjects with 0 karma in total into 0 servers; 0 announce settings."
    assert (karma(111)["popple"], LedgerEntry.objects.count()) == (5, ledger)


def test_a_server_with_karma_is_refused_unless_merged(database, sqlite_popple):
    Karma.objects.create(guild_id=222, subject="popple", karma=1, version=1)
    lines, _ = run(sqlite_popple)
    assert "Refused 1 servers that have karma already (222): --merge adds to it." in lines
    assert karma(222) == {"popple": 1}
    run(sqlite_popple, "--merge")
    assert karma(222) == {"popple": 8}
    run(sqlite_popple, "--merge")
    assert karma(222) == {"popple": 8}


@pytest.mark.services  # the popplesvc database is on MariaDB
def test_the_mysql_popplesvc_is_imported(database, mysql_popple):
    lines, _ = run(mysql_popple)
    assert lines[1] == "Imported 5 subjects with 14 karma in total into 2 servers; 1 announce settings."
    assert karma(111) == {"popple": 5, "☕ coffee": -2, LONGEST: 1, "admin": 3}


def test_what_is_not_a_popple_database_is_a_clear_error(database, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="is not a Popple database"):
        run(str(tmp_path / "notes.txt"))
    with pytest.raises(CommandError, match="cannot open"):
        run(str(tmp_path / "missing.db"))
    with pytest.raises(CommandError, match=r"cannot connect to 127\.0\.0\.1"):
        run("mysql://nobody@127.0.0.1:1/popple")
    assert not Karma.objects.exists()


# Files from someone else, and passwords: the command as typed ----------------------------------


@pytest.fixture
def popple_db(tmp_path):
    """A migrated Popple database of its own for the command run as typed (a separate process)."""
    url = f"sqlite:///{tmp_path}/popple.sqlite3"
    assert manage("migrate", DATABASE_URL=url).returncode == 0
    return url


def imported(url):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return sorted(db.execute("SELECT guild_id, subject, karma FROM karma_karma"))


def refusal(result):
    assert result.returncode == 1, result.stdout
    return result.stderr.strip().splitlines()[-1]


def go_popple(path, entities):
    """A SQLite file with the Go Popple's configs table and `entities` as this script makes it."""
    with sqlite3.connect(path) as db:
        db.executescript(f"CREATE TABLE configs (server_id TEXT, no_announce BOOLEAN); {entities}")
    return str(path)


def test_a_view_in_place_of_a_table_is_refused(popple_db, tmp_path):
    # A few KB of file whose recursive view makes as many rows as it likes (300,000 and more).
    view = go_popple(
        tmp_path / "view.db",
        "CREATE VIEW entities AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "SELECT '111' AS server_id, 'name ' || i AS name, 1 AS karma FROM n;",
    )
    assert (tmp_path / "view.db").stat().st_size <= 8192
    result = manage("import_popple", view, DATABASE_URL=popple_db)
    assert refusal(result) == f"CommandError: {view} is not a Popple database: entities is a view, not a table"
    assert imported(popple_db) == []


def test_computed_or_huge_values_are_refused(popple_db, tmp_path):
    computed = go_popple(
        tmp_path / "computed.db",
        "CREATE TABLE entities (server_id TEXT, karma INT, name TEXT AS (printf('%.*c', 100000, 'x')));"
        "INSERT INTO entities (server_id, karma) VALUES ('111', 1);",
    )
    result = manage("import_popple", computed, DATABASE_URL=popple_db)
    expected = f"CommandError: {computed} is not a Popple database: entities.name is computed, not stored"
    assert refusal(result) == expected
    huge = go_popple(
        tmp_path / "huge.db",
        "CREATE TABLE entities (server_id TEXT, name TEXT, karma INT);"
        "INSERT INTO entities VALUES ('111', printf('%.*c', 70000, 'x'), 1);",
    )
    result = manage("import_popple", huge, DATABASE_URL=popple_db)
    assert refusal(result) == f"CommandError: {huge} holds a value longer than 65536 bytes: not a Popple database"
    assert imported(popple_db) == []


def test_more_rows_than_the_cap_is_a_clear_error(popple_db, sqlite_popple):
    result = manage("import_popple", sqlite_popple, "--max-rows", "10", DATABASE_URL=popple_db)
    assert refusal(result) == (
        f"CommandError: {sqlite_popple}: entities has more than 10 rows (--max-rows): nothing was imported"
    )
    assert imported(popple_db) == []
    result = manage("import_popple", sqlite_popple, "--max-rows", "0", DATABASE_URL=popple_db)
    assert refusal(result) == "CommandError: --max-rows must be at least 1."
    assert manage("import_popple", sqlite_popple, "--max-rows", "11", DATABASE_URL=popple_db).returncode == 0
    assert (111, "popple", 5) in imported(popple_db)


@pytest.mark.services  # the popplesvc database is on MariaDB
def test_the_mysql_password_is_never_on_the_command_line(popple_db, mysql_popple):
    # Anyone on the machine reads a command line (ps): the password comes from MYSQL_PWD.
    password = settings.DATABASES["mariadb"]["PASSWORD"]
    user = urllib.parse.urlsplit(mysql_popple).username
    in_the_url = mysql_popple.replace(f"//{user}@", f"//{user}:{password}@")
    result = manage("import_popple", in_the_url, DATABASE_URL=popple_db)
    assert refusal(result) == (
        "CommandError: the URL holds a password, which anyone on this machine can read in the command line: "
        "leave it out, and set MYSQL_PWD or type it when asked"
    )
    assert imported(popple_db) == []
    result = manage("import_popple", mysql_popple, DATABASE_URL=popple_db, MYSQL_PWD=password)
    assert result.returncode == 0, result.stderr
    assert (111, "popple", 5) in imported(popple_db)
