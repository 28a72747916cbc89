"""A page asked for while the database is unreachable: 503 with Retry-After, and no traceback.

Django would answer 500 ("Server Error") and log the connection error's traceback, as for a bug.
An outage is no bug: the visitor is told to come back shortly, and a proxy or a client that
reads Retry-After knows when; the operator reads a line that names the database's error (beside
Django's own "Service Unavailable" line, which it writes for every 5xx). Only errors
that say so count (lost or refused connections, a lock wait timed out): mysqlclient and SQLite
raise OperationalError for a missing table or column too, which is a bug, and stays a 500.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER = 30  # seconds: about how long a database restart takes
MESSAGE = "Popple's database is unavailable for a moment. Try again shortly."


class DatabaseUnavailable:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not unavailable(exception):
            return None
        logger.warning("%s %s: database unavailable (%s); answered 503", request.method, request.path, exception)
        response: HttpResponse
        if request.path.endswith(".json"):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER)
        return response


# MySQL's codes for a server not reached, gone away or lost mid-query, too many connections, a lock
# wait timed out; SQLite's words for a locked or unopenable file.
_MYSQL_CODES = {2002, 2003, 2005, 2006, 2013, 1040, 1205}
_SQLITE_WORDS = ("database is locked", "unable to open database")


def unavailable(exc: BaseException) -> bool:
    if isinstance(exc, InterfaceError):
        return True  # the connection is closed or unusable
    if not isinstance(exc, OperationalError):
        return False
    code = exc.args[0] if exc.args else None
    return code in _MYSQL_CODES or any(words in str(exc) for words in _SQLITE_WORDS)
