"""Test settings: Popple's own, plus a MariaDB database beside the default one.

The data layer's tests run the same code on both (a fixture pins the models to each in turn); the
end-to-end tests give the MariaDB one to real workers. Its URL comes from TEST_MARIADB_URL.
"""

from poppleproject.settings import *  # noqa: F403
from poppleproject.settings import BASE_DIR, DATABASES, database, env

# A file, not SQLite's shared in-memory database: threads writing at once need real locking.
(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-default.sqlite3")}
DATABASES["mariadb"] = database(
    "TEST_MARIADB_URL", env.str("TEST_MARIADB_URL", default="mysql://popple:popple@127.0.0.1:3306/popple")
)
DATABASES["mariadb"]["TEST"]["NAME"] = env.str("TEST_MARIADB_NAME", default="test_popple")

# The store's tests run on both databases in turn (testkit/databases.py).
DATABASE_ROUTERS = ["testkit.databases.PinnedDatabase"]

SECRET_KEY = "tests-only-secret-key-that-is-long-enough-0123456789"
# Created on its own when only the end-to-end tests run (Django assumes it depends on default).
DATABASES["mariadb"]["TEST"]["DEPENDENCIES"] = []

# The in-process tests (Django's test client, pytest-django's live server) speak plain HTTP; the
# web tests (tests/test_web.py) run gunicorn with the production settings, these included.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
