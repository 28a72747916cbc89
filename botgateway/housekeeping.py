"""The karma housekeeping that needs Discord's clock (queue `karma`, run by Celery beat).

A karma worker runs it like the rest of the housekeeping (karma/tasks.py); it lives here because
only a Discord id says when its message was sent, which the domain never decodes.
"""

import time

from celery import shared_task
from django.conf import settings

from botgateway.snowflakes import first_id_at
from karma import retention, tasks
from karma.tasks import no_arguments


@shared_task(name="karma.forget_message_versions", bind=True)
def forget_message_versions(self, *unexpected, **unknown):
    """Forget which versions of messages the ledger followed, once they are twice EDIT_WINDOW old:
    they can no longer be edited or deleted (late events get a margin); and the records of
    reactions that give nothing, as old."""
    no_arguments(self, (*unexpected, *unknown))
    retention.forget_versions(first_id_at(time.time() - 2 * settings.EDIT_WINDOW))
    # Reactions' records that give nothing, on the gateway's clock (their stamps), as old.
    retention.forget_reactions(time.time_ns() - 2 * settings.EDIT_WINDOW * 1_000_000_000)


# All the periodic tasks, in the order `runbot` runs them (CELERY_BEAT_SCHEDULE names them too).
HOUSEKEEPING = (*tasks.HOUSEKEEPING, forget_message_versions)
