"""Create Popple's vhost, accounts, queues and limits on RabbitMQ (poppleproject/rabbitmq.py).

Through RabbitMQ's management HTTP API, as its administrator; safe to run again (it puts the same
state, and changes passwords and limits in place). Compose runs it before any Popple process
starts; scripts/test runs it for the tests.

    RABBITMQ_MANAGEMENT_URL=http://admin:PASSWORD@rabbitmq:15672 \
    RABBITMQ_GATEWAY_PASSWORD=... RABBITMQ_WORKER_PASSWORD=... (one per role; KEDA's optional) \
    python manage.py setup_rabbitmq

Passwords come from the environment only (or from files: RABBITMQ_WEB_PASSWORD_FILE=/path, as
Kubernetes mounts them), never from the command line (which `ps` shows).
"""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from poppleproject import rabbitmq, variables

WAIT_SECONDS = 120  # RabbitMQ's health check passes a little before its HTTP API answers


def account(role):
    """The RabbitMQ user name of a role, as the broker URLs in .env.example spell it."""
    return f"popple-{role}"


def password_variable(role):
    return f"RABBITMQ_{role.upper()}_PASSWORD"


class ManagementAPI:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.username or parts.password is None:
            raise CommandError("RABBITMQ_MANAGEMENT_URL must look like http://USER:PASSWORD@HOST:15672")
        self.user = urllib.parse.unquote(parts.username)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}/api"
        credentials = f"{self.user}:{urllib.parse.unquote(parts.password)}".encode()
        self.authorization = "Basic " + base64.b64encode(credentials).decode()

    def call(self, method, path, body=None):
        request = urllib.request.Request(  # noqa: S310 (the scheme was checked: http or https)
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": self.authorization, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (likewise)
                return response.read()
        except urllib.error.HTTPError as error:
            reason = error.read().decode(errors="replace")[:300]
            raise CommandError(f"RabbitMQ refused {method} {path}: {error.code} {reason}") from None

    def wait_until_up(self):
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                return self.call("GET", "/overview")
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"RabbitMQ's management API at {self.base} is unreachable: {exc}") from None
                time.sleep(2)


def quoted(name):
    return urllib.parse.quote(name, safe="")


class Command(BaseCommand):
    help = "Create or update Popple's vhost, accounts, queues and queue limits on RabbitMQ."

    def add_arguments(self, parser):
        # Another vhost lets two Popples (or two test runs) share one RabbitMQ without meeting.
        parser.add_argument("--vhost", default=rabbitmq.VHOST, help=f"the vhost to set up (default {rabbitmq.VHOST})")

    def handle(self, *args, **options):
        passwords = {role: variables.value(password_variable(role)) for role in rabbitmq.PERMISSIONS}
        roles = [role for role in rabbitmq.PERMISSIONS if passwords[role] or role not in rabbitmq.OPTIONAL_ROLES]
        missing = [password_variable(role) for role in roles if len(passwords[role]) < 12]
        if missing:
            raise CommandError(f"set {', '.join(missing)} (at least 12 characters each)")
        api = ManagementAPI(variables.value("RABBITMQ_MANAGEMENT_URL"))
        api.wait_until_up()

        vhost = quoted(options["vhost"])
        api.call("PUT", f"/vhosts/{vhost}", {"description": "Popple"})
        # The administrator declares the queues below, so it needs every right on the vhost.
        api.call("PUT", f"/permissions/{vhost}/{quoted(api.user)}", {"configure": ".*", "write": ".*", "read": ".*"})
        for role in roles:
            configure, write, read = rabbitmq.PERMISSIONS[role]
            user = quoted(account(role))
            api.call("PUT", f"/users/{user}", {"password": passwords[role], "tags": ""})
            api.call("PUT", f"/permissions/{vhost}/{user}", {"configure": configure, "write": write, "read": read})

        quorum = {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": "quorum"}}
        api.call("PUT", f"/exchanges/{vhost}/{rabbitmq.DEAD_LETTERS}", {"type": "fanout", "durable": True})
        api.call("PUT", f"/queues/{vhost}/{rabbitmq.DEAD_LETTERS}", quorum)
        api.call("POST", f"/bindings/{vhost}/e/{rabbitmq.DEAD_LETTERS}/q/{rabbitmq.DEAD_LETTERS}", {"routing_key": ""})
        for queue in rabbitmq.task_queues():
            api.call("PUT", f"/exchanges/{vhost}/{queue.exchange.name}", {"type": "topic", "durable": True})
            api.call("PUT", f"/queues/{vhost}/{queue.name}", quorum)
            api.call("POST", f"/bindings/{vhost}/e/{queue.exchange.name}/q/{queue.name}", {"routing_key": queue.name})
        policy = rabbitmq.queue_policy(settings.RABBITMQ_DELIVERY_LIMIT, settings.RABBITMQ_MAX_QUEUE_LENGTH)
        pattern = "^(" + "|".join(rabbitmq.TASK_QUEUES) + ")$"
        api.call(
            "PUT", f"/policies/{vhost}/task-queues", {"pattern": pattern, "apply-to": "queues", "definition": policy}
        )
        api.call(
            "PUT",
            f"/policies/{vhost}/{rabbitmq.DEAD_LETTERS}",
            {
                "pattern": f"^{rabbitmq.DEAD_LETTERS}$",
                "apply-to": "queues",
                "definition": rabbitmq.dead_letter_policy(settings.RABBITMQ_MAX_QUEUE_LENGTH),
            },
        )
        self.stdout.write(
            f"RabbitMQ: vhost {options['vhost']}, accounts "
            + ", ".join(account(role) for role in roles)
            + f"; queues {', '.join(rabbitmq.TASK_QUEUES)} (delivery limit {policy['delivery-limit']}, "
            f"at most {policy['max-length']} messages) and {rabbitmq.DEAD_LETTERS}"
        )
