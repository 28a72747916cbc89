"""Routes Popple's models to one of the test databases, so the store runs unchanged on each.

The test settings install PinnedDatabase; `pinned("mariadb")` sends every query of the models
(the store's raw SQL included: it asks the router too) to MariaDB until the block ends. Outside a
block Django's default database is used, as in production.
"""

from contextlib import contextmanager

import pytest

DATABASES = ["default", "mariadb"]  # the data layer's tests run on each (conftest.py: database)
# The same, to parametrize tests with: the MariaDB case needs the service (the fast lane skips it).
EACH_DATABASE = [pytest.param("default"), pytest.param("mariadb", marks=pytest.mark.services)]
_alias = None  # a module global, not a context variable: test threads must see it too


class PinnedDatabase:
    def db_for_read(self, model, **hints):
        return _alias

    def db_for_write(self, model, **hints):
        return _alias


@contextmanager
def pinned(alias):
    global _alias
    previous, _alias = _alias, alias
    try:
        yield alias
    finally:
        _alias = previous
