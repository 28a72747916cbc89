"""The web process as the Procfile starts it: gunicorn, the admin's static files, /livez and /healthz.

The admin runs as .env.example's production example has it, behind a TLS proxy; the tests play
the proxy, sending X-Forwarded-Proto and X-Forwarded-For as it would.
"""

import http.client
import json
import re
import shlex
import urllib.error
import urllib.parse
import urllib.request

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model

from karma.models import GuildSettings, Karma
from testkit.processes import ROOT, Process, clean_env, manage
from testkit.stack import broker_url, free_port, mariadb_test_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]

WEB_COMMAND = next(
    line.split(": ", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
)
# Long and varied enough for check --deploy (50 characters, not Django's generated prefix).
SECRET = "web-tests-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def production_example():
    """The commented variables between .env.example's production example markers."""
    text = (ROOT / ".env.example").read_text()
    block = text.split("# --- production example ---\n", 1)[1].split("# --- end of production example ---", 1)[0]
    return dict(line.removeprefix("# ").split("=", 1) for line in block.splitlines())


PRODUCTION = production_example()
HOST = PRODUCTION["DJANGO_ALLOWED_HOSTS"]
ORIGIN = PRODUCTION["DJANGO_TRUSTED_ORIGINS"]
ADMIN = "/" + PRODUCTION["DJANGO_ADMIN_PATH"]
LIMIT = int(PRODUCTION["DJANGO_LOGIN_FAILURE_LIMIT"])
PASSWORD = "a-long-admin-password-for-tests"


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
        env = clean_env(
            DJANGO_SECRET_KEY=SECRET,
            DATABASE_URL=mariadb_test_url(),
            CELERY_BROKER_URL=broker_url("web"),
            # As compose does, through gunicorn's own variable (the Procfile binds 127.0.0.1:8000).
            GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
        )
        process = Process(f"web-{len(started)}", shlex.split(WEB_COMMAND), {**env, **variables}, tmp_path).start()
        started.append(process)
        process.wait_for_log(r"Listening at: http://127\.0\.0\.1")
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


def test_healthy(web):
    base = web()
    assert get(base + "/livez") == (200, b'{"process": "ok"}')
    status, body = get(base + "/healthz")
    assert (status, json.loads(body)) == (200, {"database": "ok"})


def test_database_down(web):
    base = web(DATABASE_URL=f"mysql://popple:popple@127.0.0.1:{free_port()}/popple")
    status, body = get(base + "/healthz")
    assert status == 503
    assert json.loads(body)["database"].startswith("unreachable")
    # Alive all the same: a restart would not bring the database back.
    assert get(base + "/livez") == (200, b'{"process": "ok"}')


def test_pages_asked_while_the_database_is_unreachable_say_so(web, tmp_path):
    base = web(**{**PRODUCTION, "DATABASE_URL": f"mysql://popple:popple@127.0.0.1:{free_port()}/popple"})
    for path, kind in [("/", "text/plain"), ("/servers/1/", "text/plain"), ("/servers/1.json", "application/json")]:
        response, body = Browser(base).request("GET", path)
        assert (response.status, response.headers["Retry-After"]) == (503, "30"), path
        assert response.headers["Content-Type"].startswith(kind)
        assert "database is unavailable for a moment" in body.decode()
    # One line each that names the database, no traceback: an outage is no bug.
    log = (tmp_path / "web-0.log").read_text()
    assert log.count("database unavailable (") == 3
    assert "Traceback" not in log


def test_a_broker_outage_leaves_the_web_alive_and_ready(web):
    # RabbitMQ unreachable: the boards, the admin and /interactions' answers from the database
    # still work, so neither probe may fail (its health is a metric: test_metrics.py).
    base = web(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    status, body = get(base + "/healthz")
    assert (status, json.loads(body)) == (200, {"database": "ok"})
    assert get(base + "/livez") == (200, b'{"process": "ok"}')


class Browser:
    """A browser talking to the admin through the TLS proxy (the test plays the proxy too)."""

    def __init__(self, base, client="203.0.113.5", host=HOST, https=True):
        self.port = urllib.parse.urlsplit(base).port
        self.client, self.host, self.https = client, host, https
        self.cookies = {}

    def request(self, method, path, form=None, **headers):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": self.host, **headers}
        if self.https:  # what the proxy adds; a client's own X-Forwarded-For would come before it
            headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-For": self.client}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, value = cookie.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return response, content

    def log_in(self, username, password, origin=ORIGIN):
        response, page = self.request("GET", ADMIN + "login/")
        assert response.status == 200
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": ADMIN}
        response, _ = self.request("POST", ADMIN + "login/", form, Origin=origin, Referer=origin + ADMIN + "login/")
        return response.status


@pytest.fixture
def production(web):
    return web(**PRODUCTION)


@pytest.fixture
def admin_user():
    return get_user_model().objects.db_manager("mariadb").create_superuser("boss", "boss@example.org", PASSWORD)


def test_the_documented_production_settings_pass_check_deploy(tmp_path):
    result = manage(
        "check", "--deploy", DJANGO_SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("System check identified no issues"), result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_admin_and_its_static_files(production):
    browser = Browser(production)
    response, _ = browser.request("GET", "/static/admin/css/base.css")
    assert response.status == 200
    response, body = browser.request("GET", ADMIN + "login/")
    assert response.status == 200
    assert b"Log in" in body


def test_public_boards_through_gunicorn_set_no_cookie_and_a_strict_policy(production):
    GuildSettings.objects.using("mariadb").create(guild_id=61, name="Open <server>", public=True)
    GuildSettings.objects.using("mariadb").create(guild_id=62, name="Closed")
    Karma.objects.using("mariadb").create(guild_id=61, subject="popple", karma=3, version=1)
    browser = Browser(production)
    response, body = browser.request("GET", "/")
    assert response.status == 200
    assert b"Open &lt;server&gt;" in body
    assert b"Closed" not in body
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers.get_all("Set-Cookie") is None
    response, _ = browser.request("GET", "/static/leaderboard/style.css")
    assert response.status == 200
    response, body = browser.request("GET", "/servers/61.json")
    assert (response.status, json.loads(body)["top"]["rows"]) == (200, [{"rank": 1, "subject": "popple", "karma": 3}])
    response, _ = browser.request("GET", "/servers/62/")
    assert response.status == 404


def test_the_admin_lives_under_its_path_only(production):
    browser = Browser(production)
    response, _ = browser.request("GET", ADMIN)
    assert (response.status, response.headers["Location"]) == (302, ADMIN + "login/?next=" + ADMIN)
    response, _ = browser.request("GET", "/admin/")
    assert response.status == 404


def test_only_the_configured_host_names_pass(production, tmp_path):
    hosts = ["localhost", "127.0.0.1", "popple.example.org.evil.example"]
    for host in hosts:
        response, _ = Browser(production, host=host).request("GET", ADMIN + "login/")
        assert response.status == 400, host
    # Bad input: a line each in the web's log, not a traceback (poppleproject/logfilters.py).
    log = (tmp_path / "web-0.log").read_text()
    assert [host for host in hosts if f"Invalid HTTP_HOST header: '{host}'" in log] == hosts
    assert "Traceback" not in log


def test_plain_http_is_redirected_to_https(production):
    response, _ = Browser(production, https=False).request("GET", ADMIN + "login/")
    assert (response.status, response.headers["Location"]) == (301, f"https://{HOST}{ADMIN}login/")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "anything.example", HOST])
def test_health_answers_on_loopback_whatever_the_host(production, host):
    response, body = Browser(production, host=host, https=False).request("GET", "/healthz")
    assert (response.status, json.loads(body)) == (200, {"database": "ok"})
    response, body = Browser(production, host=host, https=False).request("GET", "/livez")
    assert (response.status, json.loads(body)) == (200, {"process": "ok"})


@pytest.mark.parametrize("path", ["/healthz", "/livez"])
def test_health_is_not_served_beyond_this_machine(production, path):
    # Through a proxy (which says whom it forwards for), from any host, over HTTPS: not found.
    # Each /healthz costs a database query, which nobody outside may make the web spend at will.
    for host in ("localhost", HOST):
        response, body = Browser(production, host=host).request("GET", path)
        assert (response.status, body) == (404, b""), host


def test_cookies_are_secure_and_browsers_are_told_to_stay_on_https(production, admin_user):
    browser = Browser(production)
    response, page = browser.request("GET", ADMIN + "login/")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    [csrf] = [cookie for cookie in response.headers.get_all("Set-Cookie") if cookie.startswith("csrftoken=")]
    assert "; Secure" in csrf
    assert "; HttpOnly" in csrf
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = {"username": "boss", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": ADMIN}
    response, _ = browser.request("POST", ADMIN + "login/", form, Origin=ORIGIN)
    assert (response.status, response.headers["Location"]) == (302, ADMIN)
    [session] = [cookie for cookie in response.headers.get_all("Set-Cookie") if cookie.startswith("sessionid=")]
    assert "; Secure" in session
    assert "; HttpOnly" in session
    response, body = browser.request("GET", ADMIN)
    assert response.status == 200
    assert b"Site administration" in body


def test_a_login_posted_from_another_site_is_refused(production, admin_user):
    assert Browser(production).log_in("boss", PASSWORD, origin="https://evil.example") == 403
    assert Browser(production).log_in("boss", PASSWORD, origin=f"http://{HOST}") == 403  # not over HTTPS
    assert Browser(production).log_in("boss", PASSWORD) == 302


def test_logins_lock_after_the_failure_limit(production, admin_user):
    attacker = Browser(production, client="198.51.100.66")
    statuses = [attacker.log_in("boss", f"guess-{n}") for n in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]  # the form again, then the lockout
    assert attacker.log_in("boss", PASSWORD) == 429  # the right password no longer helps there

    # The lock holds for that username from that address: the real admin, elsewhere, gets in and
    # sees it. (Behind the proxy the address comes from X-Forwarded-For.)
    admin = Browser(production, client="203.0.113.5")
    assert admin.log_in("boss", PASSWORD) == 302
    response, body = admin.request("GET", ADMIN + "axes/accessattempt/")
    assert response.status == 200
    assert b"198.51.100.66" in body
    attempt = AccessAttempt.objects.using("mariadb").get()
    # The try while locked counts as one more failure (and starts the cool-off again).
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("boss", "198.51.100.66", LIMIT + 1)


def test_a_forged_x_forwarded_for_does_not_escape_the_lock(production, admin_user):
    attacker = Browser(production, client="198.51.100.66")
    for n in range(LIMIT):
        attacker.log_in("boss", f"guess-{n}")
    # The proxy appends the address it saw; what the client wrote comes first and is not believed.
    attacker.client = "192.0.2.1, 198.51.100.66"
    assert attacker.log_in("boss", PASSWORD) == 429
