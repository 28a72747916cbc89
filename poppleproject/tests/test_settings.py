"""Configuration comes from the environment; a bad value stops the process with one line."""

import sys

import pytest

from poppleproject.secretkey import secret_key_problem
from testkit.processes import ROOT, clean_env, manage


@pytest.mark.parametrize(
    "variable, value, problem",
    [
        ("DATABASE_URL", "nonsense", "DATABASE_URL must be a URL of the form scheme://... (mysql, mysql2, sqlite)"),
        (
            "DATABASE_URL",
            "postgres://x/y",
            "DATABASE_URL must be a URL of the form scheme://... (mysql, mysql2, sqlite)",
        ),
        ("CELERY_BROKER_URL", "http://rabbit", "CELERY_BROKER_URL must be a URL of the form scheme://..."),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL of the form scheme://..."),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be one of true/false"),
        ("DISCORD_SHARD_COUNT", "many", "DISCORD_SHARD_COUNT must be a whole number"),
        ("DISCORD_GATEWAY_URL", "https://gateway", "DISCORD_GATEWAY_URL must be a URL"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG"),
        ("DJANGO_ADMIN_PATH", "/admin/", "DJANGO_ADMIN_PATH must not start with / and must end with /"),
        ("DJANGO_ADMIN_PATH", "admin", "DJANGO_ADMIN_PATH must not start with / and must end with /"),
        ("DJANGO_TRUSTED_ORIGINS", "popple.example.org", "DJANGO_TRUSTED_ORIGINS must hold origins"),
        ("DJANGO_TRUSTED_ORIGINS", "https://a.example, https://b.example/admin/", "DJANGO_TRUSTED_ORIGINS must hold"),
        ("DJANGO_LOGIN_FAILURE_LIMIT", "0", "DJANGO_LOGIN_FAILURE_LIMIT must be at least 1"),
        ("DJANGO_BEHIND_TLS_PROXY", "sure", "DJANGO_BEHIND_TLS_PROXY must be one of true/false"),
        ("REDIS_NAMESPACE", "a:b", "REDIS_NAMESPACE must be 1 to 64 letters, digits, dots, dashes or underscores"),
    ],
)
def test_malformed_variable_stops_with_one_line_naming_it(variable, value, problem, tmp_path):
    result = manage(
        "check", **{variable: value, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"} | {variable: value}
    )
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"popple: configuration error: {problem}")


def test_nothing_configured_is_a_working_default(tmp_path):
    result = manage("check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "key, debug, fine",
    [
        ("", True, True),
        ("", False, False),
        ("django-insecure-" + "x" * 50, False, False),
        ("short-key", False, False),
        ("a" * 60, False, False),
        ("Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj", False, False),  # 45: Django warns under 50
        ("Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj7Wq2e", False, True),
    ],
)
def test_secret_key_rules(key, debug, fine):
    assert (secret_key_problem(key, debug) is None) is fine


@pytest.mark.parametrize(
    "key",
    [
        "Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj",  # 45 characters
        "Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj7Wq2",  # 49
        "Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj7Wq2e",  # 50
        "abcde" * 10,  # 50, five different characters
        "abcd" * 13,  # 52, four
        "django-insecure-Zp3v8Qm1sX0yT7nK4rB2wC9dE6fG5hJ-uL_iO+aSdFgHj",
    ],
)
def test_the_web_process_refuses_exactly_the_keys_djangos_deployment_check_warns_about(key, settings):
    from django.core.checks.security.base import check_secret_key

    settings.SECRET_KEY = key
    assert (secret_key_problem(key, debug=False) is not None) == bool(check_secret_key(None))


def test_web_process_refuses_to_start_without_a_real_secret_key():
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", "import poppleproject.wsgi"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "popple: configuration error: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off"
    )


TOKEN_MUST_BE_ENCRYPTED = "must use {scheme}:// unless its host is this machine (the token travels in it)"


@pytest.mark.parametrize(
    "variable, value, fine",
    [
        ("DISCORD_API_BASE_URL", "https://discord.com/api/v10", True),
        ("DISCORD_API_BASE_URL", "https://proxy.example.org:8443/api/v10", True),
        ("DISCORD_API_BASE_URL", "http://127.0.0.1:8080/api/v10", True),  # the tests' fake Discord
        ("DISCORD_API_BASE_URL", "http://127.8.9.10/api", True),
        ("DISCORD_API_BASE_URL", "http://localhost:8080/api/v10", True),
        ("DISCORD_API_BASE_URL", "http://[::1]:8080/api/v10", True),
        ("DISCORD_API_BASE_URL", "http://discord.com/api/v10", False),
        ("DISCORD_API_BASE_URL", "http://10.0.0.5:8080/api/v10", False),
        ("DISCORD_API_BASE_URL", "http://localhost.example.org/api", False),
        ("DISCORD_API_BASE_URL", "http://127.0.0.1.example.org/api", False),
        ("DISCORD_GATEWAY_URL", "wss://gateway.discord.gg/", True),
        ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9000/", True),
        ("DISCORD_GATEWAY_URL", "ws://[::1]:9000/", True),
        ("DISCORD_GATEWAY_URL", "ws://gateway.discord.gg/", False),
        ("DISCORD_GATEWAY_URL", "ws://192.168.1.20:9000/", False),
    ],
)
def test_the_token_travels_encrypted_unless_to_this_machine(variable, value, fine, tmp_path):
    result = manage("check", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **{variable: value})
    if fine:
        assert result.returncode == 0, result.stderr
    else:
        scheme = "https" if variable == "DISCORD_API_BASE_URL" else "wss"
        assert result.returncode != 0
        assert result.stderr == (
            f"popple: configuration error: {variable} {TOKEN_MUST_BE_ENCRYPTED.format(scheme=scheme)}\n"
        )


def run_in_django(code, **variables):
    """Runs `code` in a process whose settings come from `variables`; returns what it printed."""
    result = manage("shell", "--no-imports", "-c", code, **variables)
    assert result.returncode == 0, result.stderr
    return result.stdout


SHOW_WHAT_THE_ERROR_PAGE_SHOWS = """
import os
from django.test import RequestFactory
from django.views.debug import get_default_exception_reporter_filter
reporter = get_default_exception_reporter_filter()
request = RequestFactory().get("/", **os.environ)  # runserver passes the environment in META
print(repr(reporter.get_safe_settings()))
print(repr(reporter.get_safe_request_meta(request)))
"""


def test_the_debug_error_page_shows_no_password(tmp_path):
    password = "pw-9f8e7d6c5b4a"
    shown = run_in_django(
        SHOW_WHAT_THE_ERROR_PAGE_SHOWS,
        DJANGO_DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        CELERY_BROKER_URL=f"amqp://popple:{password}@rabbit:5672//",
        REDIS_URL=f"redis://:{password}@redis:6379/0",
        FLOWER_BASIC_AUTH=f"admin:{password}",
        DISCORD_TOKEN=password,
        DJANGO_SECRET_KEY=password,
        TEST_MARIADB_URL=f"mysql://popple:{password}@db:3306/popple",
    )
    assert "CELERY_BROKER_URL" in shown
    assert "REDIS_URL" in shown
    assert "LOCATION" in shown
    assert "CELERY_RESULT_BACKEND" in shown
    assert "FLOWER_BASIC_AUTH" in shown
    assert password not in shown


CLIENT_ADDRESS = """
from django.test import RequestFactory
from axes.helpers import get_client_ip_address
for forwarded in [None, "203.0.113.5", "198.51.100.66, 203.0.113.5", "not-an-address, 203.0.113.5"]:
    meta = {"REMOTE_ADDR": "127.0.0.1"} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    print(get_client_ip_address(RequestFactory().post("/admin/login/", **meta)))
"""


@pytest.mark.parametrize(
    "behind_proxy, addresses",
    [
        # The address the proxy appended counts; what a client put before it does not.
        ("true", ["127.0.0.1", "203.0.113.5", "203.0.113.5", "203.0.113.5"]),
        # Without a proxy, X-Forwarded-For is whatever the client made up: ignored.
        ("false", ["127.0.0.1"] * 4),
    ],
)
def test_login_failures_are_counted_per_client_address(behind_proxy, addresses, tmp_path):
    printed = run_in_django(
        CLIENT_ADDRESS, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", DJANGO_BEHIND_TLS_PROXY=behind_proxy
    )
    assert printed.split() == addresses


def test_a_secret_may_come_from_a_file(tmp_path):
    # As the Kubernetes manifests mount them: the value is not in the process's environment.
    secret = tmp_path / "discord-token"
    secret.write_text("token-from-a-file\n")
    script = "from django.conf import settings; print(settings.DISCORD_TOKEN, settings.REDIS_URL)"
    done = manage("shell", "-c", script, DISCORD_TOKEN_FILE=secret, REDIS_URL_FILE=tmp_path / "absent")
    assert done.returncode != 0
    assert (
        done.stderr == f"popple: configuration error: REDIS_URL_FILE {tmp_path / 'absent'}: No such file or directory\n"
    )
    done = manage("shell", "-c", script, DISCORD_TOKEN_FILE=secret)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "token-from-a-file None"
