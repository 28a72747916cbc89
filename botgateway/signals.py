"""What a Celery worker does about Discord when it starts and stops."""

from celery.signals import worker_init, worker_process_shutdown, worker_shutdown

from botgateway.discordapi import require_token
from botgateway.rest import get_sender


@worker_init.connect
def check_token(**kwargs):
    require_token()  # a worker that could not post replies stops at start, with one line


@worker_shutdown.connect  # the threads pool: the sender lives in the worker's own process
@worker_process_shutdown.connect  # the prefork pool: one sender per child process
def close_sender(**kwargs):
    get_sender().close()
