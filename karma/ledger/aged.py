"""The ledger's old rows, walked a range of ids at a time from where the last complete walk
stopped: for the periodic passes over them (karma/retention.py forgets authors, karma/ledger/rollup.py
rolls rows up into days)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db.models import Max, Min, QuerySet

from karma.models import LedgerEntry

MARGIN = timedelta(hours=1)  # a row whose transaction committed late is walked again


def in_ranges(before: datetime, mark: str, size: int) -> Iterator[QuerySet[LedgerEntry]]:
    """The rows created before `before`, `size` ids at a time.

    Once every range was walked, the cache's `mark` says so, and the next walk starts there, less
    MARGIN (on the created_at index: a big ledger's years of rows walked before are not read again
    each hour). Without the mark (a fresh cache, an interrupted walk), from the start: slower once,
    never wrong. Each range is a short statement on the primary key: a LIMIT-ed "next old rows"
    would read the rows walked before again, each time.
    """
    old = LedgerEntry.objects.filter(created_at__lt=before)
    done_before = cache.get(mark)  # a POSIX timestamp: the cache holds JSON
    if isinstance(done_before, int | float):
        old = old.filter(created_at__gte=datetime.fromtimestamp(done_before, UTC) - MARGIN)
    bounds = old.aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is not None:
        for start in range(bounds["first"], bounds["last"] + 1, size):
            yield old.filter(id__gte=start, id__lt=start + size)
    cache.set(mark, before.timestamp(), timeout=None)
