"""GET /healthz: can this deployment reach its database and its broker?"""

import ipaddress

from django.db import connection
from django.http import JsonResponse

from poppleproject.celery import app as celery_app
from poppleproject.celery import tasks_run_inline


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker():
    with celery_app.connection_for_write(connect_timeout=3) as conn:
        conn.connect()


def healthz(request):
    checks = {"database": _database}
    if not tasks_run_inline():
        checks["broker"] = _broker
    report = {}
    for name, check in checks.items():
        try:
            check()
            report[name] = "ok"
        except Exception as exc:  # any failure means unhealthy; the class name says which kind
            report[name] = f"unreachable ({type(exc).__name__})"
    healthy = all(status == "ok" for status in report.values())
    return JsonResponse(report, status=200 if healthy else 503)


class LoopbackHealthCheck:
    """Answers /healthz asked from this machine, before anything checks the Host or the scheme.

    Probes call http://127.0.0.1:8000/healthz: plain HTTP, and a Host that DJANGO_ALLOWED_HOSTS
    need not list. Anyone else, a proxy on this machine included, goes through Django's checks
    like every other request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A proxy on the same machine also connects from loopback: what it forwards carries
        # X-Forwarded-For (README: the proxy must add it), and goes through Django's checks.
        from_this_machine = _loopback(request.META.get("REMOTE_ADDR", ""))
        if request.path_info == "/healthz" and from_this_machine and "HTTP_X_FORWARDED_FOR" not in request.META:
            return healthz(request)
        return self.get_response(request)


def _loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
