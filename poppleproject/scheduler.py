"""Celery beat's scheduler (CELERY_BEAT_SCHEDULER)."""

from pathlib import Path

from celery.beat import PersistentScheduler


class Scheduler(PersistentScheduler):
    """Celery beat's scheduler (CELERY_BEAT_SCHEDULER), which also creates the folder its schedule
    file goes in: var/ is not in the repository, and beat would not start without it."""

    def setup_schedule(self):
        # (celery-types' PersistentScheduler lists no schedule_filename.)
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
        super().setup_schedule()
