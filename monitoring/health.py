"""Health checks for probes on the web's own machine: /livez (the process answers) and /healthz
(it can serve: its database answers).

Neither looks at RabbitMQ. A broker outage must not take the web down with it: the boards, the
admin and the /interactions fallback that answers from the database keep working, and a
liveness probe that failed on the broker restarted every web pod at once. The broker's health is
a metric instead (monitoring/metrics.py: popple_broker_up), where the processes that use it serve it.

Only the machine itself is answered (compose's health check, a Kubernetes exec probe): from
anywhere else both paths are not found. /healthz costs a database query, which nobody outside
should be able to make the web spend at will.
"""

import ipaddress

from django.db import connection
from django.http import HttpResponseNotFound, JsonResponse


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def livez(request):
    """The process answers: a liveness probe restarts the pod only when it does not."""
    return JsonResponse({"process": "ok"})


def healthz(request):
    """The database answers: a readiness probe sends no traffic to a pod whose database does not."""
    try:
        _database()
        report = {"database": "ok"}
    except Exception as exc:  # any failure means unhealthy; the class name says which kind
        report = {"database": f"unreachable ({type(exc).__name__})"}
    return JsonResponse(report, status=200 if report["database"] == "ok" else 503)


CHECKS = {"/livez": livez, "/healthz": healthz}


class LoopbackHealthCheck:
    """Answers the health checks asked from this machine, before anything checks the Host or the
    scheme; anyone else gets 404 for them.

    Probes call http://127.0.0.1:8000/healthz: plain HTTP, and a Host that DJANGO_ALLOWED_HOSTS
    need not list. A proxy on this machine also connects from loopback: what it forwards carries
    X-Forwarded-For (README: the proxy must add it), and is not answered.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        check = CHECKS.get(request.path_info)
        if check is None:
            return self.get_response(request)
        if _loopback(request.META.get("REMOTE_ADDR", "")) and "HTTP_X_FORWARDED_FOR" not in request.META:
            return check(request)
        return HttpResponseNotFound()


def _loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
