import asyncio

from django.conf import settings
from django.core.management import call_command
from django.db import InterfaceError, OperationalError, connection

from botgateway.delivery import courier, stop_courier
from botgateway.housekeeping import HOUSEKEEPING
from botgateway.management.commands import rungateway
from poppleproject.celery import run_tasks_inline


class Command(rungateway.Command):
    help = "Run all of Popple in this one process: the gateway, with karma tasks executed inline."
    destination = "database"

    def prepare(self):
        call_command("migrate", verbosity=0)
        # One process, whatever is configured: the tasks run here, on the same code path, and
        # this process posts the replies its courier holds.
        run_tasks_inline()
        courier().start()

    def finish(self):
        stop_courier()

    def publish(self, payloads):
        # While the database is away, the message stays in the outbox, which says so once and tries
        # again with backoff. Checked here first (the query also replaces a connection the server
        # dropped), so that the task does not log a traceback for each attempt.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        task, argument = self.task_of(payloads)
        result = task.apply(args=(argument,))
        # A database that is away keeps the message in the outbox, to be tried again; any other
        # failure was logged by Celery, and the message is dropped rather than retried forever.
        if result.failed() and isinstance(result.result, (OperationalError, InterfaceError)):
            raise result.result

    async def _run(self, client, token):
        # No Celery beat in one process: the housekeeping runs here, on the same interval.
        housekeeping = asyncio.create_task(self._housekeep())
        try:
            await super()._run(client, token)
        finally:
            housekeeping.cancel()

    async def _housekeep(self):
        while True:
            await asyncio.sleep(settings.HOUSEKEEPING_INTERVAL)
            # In a thread: the database work must never hold up the gateway's event loop. A task
            # that fails is logged by Celery, and the next run tries again.
            await asyncio.to_thread(self._run_housekeeping)

    @staticmethod
    def _run_housekeeping():
        for task in HOUSEKEEPING:
            task.apply()
