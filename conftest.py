"""Fixtures for every test folder, and the lanes: which tests need the machine's services.

A test needs MariaDB, RabbitMQ or Redis when it is marked `services` (or `e2e`): by hand, by a
parameter (testkit/databases.py: EACH_DATABASE), or below, by the fixtures it uses and the
databases it asks pytest-django for. `-m "not e2e and not services"` (scripts/test --fast) leaves
those out, and then the SQLite tests do not open MariaDB either.
"""

import os

import pytest
from celery import current_app
from django.core.cache import cache

from botgateway.delivery import courier
from poppleproject.celery import app
from testkit.databases import EACH_DATABASE, pinned
from testkit.fakediscord import FakeDiscord
from testkit.talk import new_guild

# Test processes of one run (pytest-xdist's gw0, gw1, ...) share the machine's services, each on
# its own part of them: the first on the usual RabbitMQ vhost and Redis database, the others on
# theirs (scripts/test sets up the vhosts); pytest-django gives each its own test databases.
# (Before testkit/stack.py reads them: no module imported above imports it.)
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
if _worker.startswith("gw") and _worker != "gw0":
    _n = int(_worker[2:])
    os.environ.setdefault("TEST_BROKER_URL", f"amqp://guest:guest@127.0.0.1:5672/popple-gw{_n}")
    os.environ.setdefault("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - 5 * _n}")

# Fixtures that reach a service: a test using one needs the services.
SERVICE_FIXTURES = {"stack_factory", "shared_redis"}  # tests/conftest.py: services, under stack_factory


def _databases(item):
    marker = item.get_closest_marker("django_db")
    return (marker.kwargs.get("databases") or ()) if marker else ()


@pytest.hookimpl(tryfirst=True)  # before -m selects
def pytest_collection_modifyitems(items):
    for item in items:
        databases = _databases(item)
        on_mariadb_only = "mariadb" in databases and "default" not in databases
        if on_mariadb_only or SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


@pytest.hookimpl(trylast=True)  # after -m selected
def pytest_collection_finish(session):
    """When no test of this run needs the services, the tests that ask for both databases but run
    on SQLite (their MariaDB case was left out) ask for SQLite alone: MariaDB is never opened."""
    if any(item.get_closest_marker("services") or item.get_closest_marker("e2e") for item in session.items):
        return
    for item in session.items:
        if "mariadb" in _databases(item):
            marker = item.get_closest_marker("django_db")
            databases = [alias for alias in marker.kwargs["databases"] if alias != "mariadb"]
            item.add_marker(pytest.mark.django_db(*marker.args, **{**marker.kwargs, "databases": databases}), False)


@pytest.fixture(params=EACH_DATABASE)
def database(request):
    """The database the models use in this test, each in turn: the test settings route them to it
    (testkit/databases.py), the store's raw SQL included."""
    with pinned(request.param):
        yield request.param


@pytest.fixture
def guild():
    """A server id of this test's own (testkit/talk.py). A module whose tests run on each database
    overrides it with one that also asks for `database`."""
    return new_guild()


@pytest.fixture(autouse=True)
def popples_celery_app_stays_current():
    """A Celery app made in a test (to publish, or to control workers) becomes the current one
    unless made with set_as_current=False: later tests in the process then publish their tasks
    through it to RabbitMQ instead of running them inline, and wait for replies in vain."""
    yield
    other = current_app._get_current_object()
    app.set_current()  # the next tests run as they should, whichever test this was
    assert other is app, "a test made another Celery app current"


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache (this process's memory in tests): pages cached by one
    test (the public servers, the admin's server filter) are not another's."""
    cache.clear()


@pytest.fixture
def discord(settings):
    """The fake Discord, and this process's replies pointed at it (no Redis: limits in memory).

    Replies to tasks run inline go through the real courier and REST client to the fake, over the
    wire; the courier's poller posts what had to be held.
    """
    fake = FakeDiscord().start()
    settings.DISCORD_TOKEN = fake.token
    settings.DISCORD_API_BASE_URL = fake.api_url
    settings.DISCORD_GLOBAL_RATE_LIMIT = fake.global_limit
    settings.REDIS_URL = None
    courier().start()
    yield fake
    courier().stop()
    fake.stop()
