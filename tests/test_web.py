"""The web process as the Procfile starts it: gunicorn, the admin's static files, /healthz."""

import json
import shlex
import urllib.error
import urllib.request

import pytest

from testkit.processes import ROOT, Process, clean_env
from testkit.stack import BROKER_URL, free_port, mariadb_test_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

WEB_COMMAND = next(
    line.split(": ", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
)
SECRET = "web-tests-secret-key-0123456789abcdefghijklmnop"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def web(services, django_db_setup, tmp_path):
    started = []

    def start(**variables):
        port = free_port()
        env = clean_env(DJANGO_SECRET_KEY=SECRET, DATABASE_URL=mariadb_test_url(), CELERY_BROKER_URL=BROKER_URL)
        command = shlex.split(WEB_COMMAND.replace("0.0.0.0:8000", f"127.0.0.1:{port}"))
        process = Process(f"web-{len(started)}", command, {**env, **variables}, tmp_path).start()
        started.append(process)
        process.wait_for_log(r"Listening at: http://127\.0\.0\.1")
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


def test_healthy(web):
    base = web()
    status, body = get(base + "/healthz")
    assert (status, json.loads(body)) == (200, {"database": "ok", "broker": "ok"})


def test_database_down(web):
    base = web(DATABASE_URL=f"mysql://popple:popple@127.0.0.1:{free_port()}/popple")
    status, body = get(base + "/healthz")
    assert status == 503
    report = json.loads(body)
    assert report["broker"] == "ok"
    assert report["database"].startswith("unreachable")


def test_broker_down(web):
    base = web(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    status, body = get(base + "/healthz")
    assert status == 503
    assert json.loads(body)["broker"].startswith("unreachable")


def test_admin_and_its_static_files(web):
    base = web()
    status, _ = get(base + "/static/admin/css/base.css")
    assert status == 200
    status, body = get(base + "/admin/")
    assert status == 200
    assert b"Log in" in body
