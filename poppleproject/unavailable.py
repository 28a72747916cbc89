"""A page asked for while the database is unreachable: 503 with Retry-After, and a line in the log.

Django would answer 500 ("Server Error") and log the connection error's traceback, as for a bug.
An outage is no bug: the visitor is told to come back shortly, and a proxy or a client that
reads Retry-After knows when; the operator reads one line that names the database. OperationalError
also covers a lock wait that timed out, as passing as a lost connection. A database error that is
not about reaching it (a bad query: ProgrammingError, IntegrityError) stays a 500.
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
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("%s %s: database unavailable (%s); answered 503", request.method, request.path, exception)
        response: HttpResponse
        if request.path.endswith(".json"):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER)
        return response
