"""docker-compose.yml, the Procfile and .env.example describe the same deployment.

There is no Docker engine here, so the compose file is read, not run.
"""

import json
import re

import pytest
import yaml
from django.db import connections

from poppleproject import rabbitmq
from testkit.processes import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
ENV_EXAMPLE = re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
SETTINGS = (ROOT / "poppleproject" / "settings.py").read_text()
SETUP_RABBITMQ = (ROOT / "monitoring" / "management" / "commands" / "setup_rabbitmq.py").read_text()
POPPLE_SERVICES = ["migrate", "web", "worker", "replies", "beat", "gateway", "flower"]
# Which RabbitMQ account each process uses (poppleproject/rabbitmq.py).
BROKER_ACCOUNTS = {"web": "web", "worker": "worker", "replies": "worker", "beat": "beat", "gateway": "gateway",
                   "flower": "flower"}  # fmt: skip


def environment(service):
    return SERVICES[service].get("environment", {})


def test_every_process_has_a_service():
    assert set(SERVICES) == {"rabbitmq", "rabbitmq-setup", "mariadb", "redis", *POPPLE_SERVICES}
    assert set(PROCFILE) == {"release", "web", "worker", "replies", "beat", "gateway", "flower"}


@pytest.mark.parametrize("service, process", [("migrate", "release"), ("web", "web"), ("worker", "worker"),
                                              ("replies", "replies"), ("beat", "beat"),
                                              ("gateway", "gateway"), ("flower", "flower")])  # fmt: skip
def test_compose_runs_the_procfile_commands(service, process):
    assert SERVICES[service]["command"] == PROCFILE[process]


def test_no_service_gets_the_whole_dot_env():
    assert not [name for name, config in SERVICES.items() if "env_file" in config]


@pytest.mark.parametrize("service, role", BROKER_ACCOUNTS.items())
def test_each_process_uses_its_own_broker_account(service, role):
    url = environment(service)["CELERY_BROKER_URL"]
    assert url.startswith(f"amqp://popple-{role}:${{RABBITMQ_{role.upper()}_PASSWORD:?")
    assert url.endswith("@rabbitmq:5672/popple")
    assert role in rabbitmq.PERMISSIONS


@pytest.mark.parametrize(
    "variable, services",
    [
        ("MARIADB_ROOT_PASSWORD", {"mariadb"}),
        ("RABBITMQ_ADMIN_PASSWORD", {"rabbitmq", "rabbitmq-setup"}),
        ("DISCORD_TOKEN", {"gateway", "replies"}),
        ("DJANGO_SECRET_KEY", {"web"}),
        ("FLOWER_BASIC_AUTH", {"flower"}),
        ("DATABASE_URL", {"migrate", "web", "worker", "replies"}),
    ],
)
def test_secrets_reach_only_the_services_that_use_them(variable, services):
    holders = {name for name in SERVICES if variable in json.dumps(SERVICES[name].get("environment", {}))}
    assert holders == services


def test_reply_workers_may_only_read_the_database():
    assert environment("replies")["DATABASE_URL"].startswith("mysql://popple-replies:${MARIADB_REPLIES_PASSWORD:?")
    assert "./deploy/mariadb:/docker-entrypoint-initdb.d:ro" in SERVICES["mariadb"]["volumes"]
    script = (ROOT / "deploy" / "mariadb" / "replies-account.sh").read_text()
    assert re.findall(r"^GRANT .*$", script, re.MULTILINE) == ["GRANT SELECT ON popple.* TO 'popple-replies'@'%';"]


def test_redis_keeps_held_replies_across_a_restart():
    assert "--appendonly yes" in " ".join(SERVICES["redis"]["command"])
    assert any(volume.endswith(":/data") for volume in SERVICES["redis"]["volumes"])


def test_redis_has_a_password_that_every_client_uses():
    # Open, anyone on compose's network could read the held replies and plant their own.
    redis = SERVICES["redis"]
    assert '--requirepass "$$REDISCLI_AUTH"' in " ".join(redis["command"])
    assert redis["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    clients = {name for name in POPPLE_SERVICES if "REDIS_URL" in environment(name)}
    assert clients == {"web", "replies", "gateway"}
    for name in clients:
        assert environment(name)["REDIS_URL"] == "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0"


def test_only_loopback_ports_are_published():
    published = [port for config in SERVICES.values() for port in config.get("ports", [])]
    assert published
    assert all(port.startswith("127.0.0.1:") for port in published), published
    assert "127.0.0.1:8000:8000" in SERVICES["web"]["ports"]
    assert "127.0.0.1:5555:5555" in SERVICES["flower"]["ports"]


@pytest.mark.parametrize("service", ["worker", "replies"])
def test_workers_scale_freely(service):
    worker = SERVICES[service]
    assert "ports" not in worker
    assert "container_name" not in worker


def test_karma_and_replies_have_their_own_workers():
    assert " -Q karma " in PROCFILE["worker"]
    assert " -Q answers,replies " in PROCFILE["replies"]  # answers to commands have a queue of their own
    consumed = {queue for name in ("worker", "replies") for queue in consumed_by(PROCFILE[name])}
    assert consumed == set(rabbitmq.TASK_QUEUES)  # every task queue has its workers


def consumed_by(command):
    return command.split(" -Q ")[1].split()[0].split(",")


def test_beat_keeps_its_schedule_where_the_image_lets_it_write():
    # The image's popple user can write var/ only (Dockerfile).
    assert "--schedule var/" in PROCFILE["beat"]
    assert "--schedule var/" in SERVICES["beat"]["command"]


def test_start_order_waits_for_health_and_migrations():
    for name, config in SERVICES.items():
        for dependency, condition in config.get("depends_on", {}).items():
            assert dependency in SERVICES
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits for {dependency}'s health"
    for name in ["web", "worker", "replies", "beat", "gateway", "flower"]:
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert SERVICES[name]["depends_on"]["rabbitmq-setup"] == {"condition": "service_completed_successfully"}
    assert SERVICES["rabbitmq-setup"]["command"] == "python manage.py setup_rabbitmq"
    assert SERVICES["migrate"]["depends_on"]["mariadb"] == {"condition": "service_healthy"}
    assert "/healthz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_every_variable_is_documented_and_used():
    compose_variables = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    settings_variables = set(re.findall(r'_(?:str|url|int|bool)\(\s*"([A-Z_]+)"', SETTINGS))
    settings_variables |= set(re.findall(r'(?:environ\.get|variables\.value)\("([A-Z_]+)"', SETUP_RABBITMQ))
    documented = set(ENV_EXAMPLE)
    assert compose_variables <= documented
    assert settings_variables <= documented
    # Each documented variable is read by Popple or by the compose file.
    assert documented <= settings_variables | compose_variables


@pytest.mark.django_db(databases=["mariadb"])
def test_compose_runs_the_database_the_tests_run():
    image, _, tag = SERVICES["mariadb"]["image"].partition(":")
    with connections["mariadb"].cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        [version] = cursor.fetchone()
    assert image == "mariadb"
    assert "MariaDB" in version
    assert version.startswith(tag + "."), f"compose runs {tag}, the tests ran {version}"
