"""Django system checks of karma's settings: run when a management command starts (runbot, migrate,
check, the web's `check --deploy`), and, tagged "popple", when a Celery worker starts
(poppleproject/worker_signals.py), before anything is deleted."""

from django.conf import settings
from django.core import checks

from karma.ledger.rollup import minimum_days


@checks.register("popple")
def ledger_detail_days(app_configs, **kwargs):
    """LEDGER_DETAIL_DAYS must leave the rows the rules and windows read in detail."""
    days, least = settings.LEDGER_DETAIL_DAYS, minimum_days(settings.EDIT_WINDOW)
    if 0 < days < least:
        return [
            checks.Error(
                f"LEDGER_DETAIL_DAYS is {days}: it must be 0 (never roll up) or at least {least}.",
                hint=(
                    "Rows older than it are rolled up into days and deleted, but edits and deletions "
                    f"(EDIT_WINDOW={settings.EDIT_WINDOW} s, twice for late events), the cooldown "
                    "(up to 7 days) and `top month` (30 days) read each row."
                ),
                id="karma.E001",
            )
        ]
    return []
