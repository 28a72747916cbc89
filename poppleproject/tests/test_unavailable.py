from django.db import InterfaceError, OperationalError

from poppleproject.unavailable import unavailable


def test_an_outage_is_unavailable_and_a_bad_query_is_a_bug():
    assert unavailable(OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)"))
    assert unavailable(OperationalError(2013, "Lost connection to server during query"))
    assert unavailable(OperationalError(1205, "Lock wait timeout exceeded"))
    assert unavailable(OperationalError("database is locked"))
    assert unavailable(InterfaceError(0, ""))
    # A missed migration: both databases say OperationalError, and it must stay a 500 with its traceback.
    assert not unavailable(OperationalError(1054, "Unknown column 'karma_karma.x' in 'field list'"))
    assert not unavailable(OperationalError("no such table: karma_karma"))
