"""The dashboard's variables, as an operator sets them: `manage.py check --deploy` stays clean with
the dashboard on, and half a configuration stops the process with one line."""

from testkit.processes import manage
from tests.test_web import PRODUCTION, SECRET

CLIENT = {"DISCORD_CLIENT_ID": "1234567890123456789", "DISCORD_CLIENT_SECRET": "a-client-secret-from-the-portal"}


def test_check_deploy_is_clean_with_the_dashboard_on(tmp_path):
    done = manage(
        "check", "--deploy", DJANGO_SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        **PRODUCTION, **CLIENT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("System check identified no issues"), done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr


def test_a_client_id_without_its_secret_is_refused_in_one_line(tmp_path):
    done = manage(
        "check", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", DISCORD_CLIENT_ID=CLIENT["DISCORD_CLIENT_ID"]
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "popple: configuration error: DISCORD_CLIENT_SECRET must be set too: the dashboard needs both "
        "DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET"
    )
    assert CLIENT["DISCORD_CLIENT_ID"] not in done.stderr + done.stdout


def test_the_admin_offers_no_second_discord_application(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Social accounts" in index  # who logged in with Discord, for the operator
    assert "Social application" not in index
    assert "Social application tokens" not in index
    assert "Email addresses" not in index
