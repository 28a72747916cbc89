"""docker-compose.yml, the Procfile and .env.example describe the same deployment.

There is no Docker engine here, so the compose file is read, not run.
"""

import re

import pytest
import yaml
from django.db import connections

from testkit.processes import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
ENV_EXAMPLE = re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
SETTINGS = (ROOT / "poppleproject" / "settings.py").read_text()
POPPLE_SERVICES = ["migrate", "web", "worker", "replies", "beat", "gateway", "flower"]


def test_every_process_has_a_service():
    assert set(SERVICES) == {"rabbitmq", "mariadb", "redis", *POPPLE_SERVICES}
    assert set(PROCFILE) == {"release", "web", "worker", "replies", "beat", "gateway", "flower"}


@pytest.mark.parametrize("service, process", [("migrate", "release"), ("web", "web"), ("worker", "worker"),
                                              ("replies", "replies"), ("beat", "beat"),
                                              ("gateway", "gateway"), ("flower", "flower")])  # fmt: skip
def test_compose_runs_the_procfile_commands(service, process):
    assert SERVICES[service]["command"] == PROCFILE[process]


@pytest.mark.parametrize("service", POPPLE_SERVICES)
def test_popple_services_read_dot_env_and_reach_the_services(service):
    config = SERVICES[service]
    assert config["env_file"] == ".env"
    assert set(config["environment"]) == {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}
    assert "@mariadb:3306" in config["environment"]["DATABASE_URL"]
    assert "rabbitmq:5672" in config["environment"]["CELERY_BROKER_URL"]


@pytest.mark.parametrize("service", ["worker", "replies"])
def test_workers_scale_freely(service):
    worker = SERVICES[service]
    assert "ports" not in worker
    assert "container_name" not in worker


def test_karma_and_replies_have_their_own_workers():
    assert " -Q karma " in PROCFILE["worker"]
    assert " -Q replies " in PROCFILE["replies"]


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
    assert SERVICES["migrate"]["depends_on"]["mariadb"] == {"condition": "service_healthy"}
    assert "/healthz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_every_variable_is_documented_and_used():
    compose_variables = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    settings_variables = set(re.findall(r'_(?:str|url|int|bool)\(\s*"([A-Z_]+)"', SETTINGS))
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
