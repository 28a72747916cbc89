"""What moderators do by hand: set or delete a subject's karma, revert ledger rows, merge one
subject into another (an alias), forget a person, redact a reason.

Each keeps karma exact while chat changes it: the subjects' rows are locked before they are read
(chat adds in the database under the same row locks, karma/ledger/writes.py), and every change of
karma is a ledger row that says which admin user made it.
"""

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, router, transaction
from django.db.models import QuerySet

from karma import modlog
from karma.ledger.writes import MAX_ALIAS_HOPS, retrying
from karma.models import Giver, Karma, LedgerEntry, LedgerReason, Member, SettingChange

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Rows that are not a karma change of their own to undo.
NOT_REVERTIBLE = (LedgerEntry.Source.REVERT, LedgerEntry.Source.MERGE)
ATTEMPTS = 8


def _retried(work: Callable[[], T]) -> T:
    """`work` in a transaction, run again when MySQL picked it as a deadlock's victim (following
    an alias takes locks out of chat's name order), after a short random wait, so that busy chat
    does not win every time."""

    def attempt():
        with transaction.atomic(using=router.db_for_write(Karma)):
            return work()

    return retrying(attempt, attempts=ATTEMPTS, jitter=0.05)


def _locked(guild_id: int, subject: str) -> Karma:
    """The row of the subject that counts for `subject` (itself, or the one it was merged into),
    locked, created when missing.

    Aliases are followed without locking them: only the row changed is locked, so that a revert
    never holds a lock out of the name order chat takes them in.
    """
    for _ in range(MAX_ALIAS_HOPS):
        target = Karma.objects.filter(guild_id=guild_id, subject=subject).values_list("merged_into", flat=True).first()
        if target is not None:
            subject = target
            continue
        rows = Karma.objects.select_for_update().filter(guild_id=guild_id, subject=subject)
        row = rows.first()
        if row is None:
            Karma.objects.bulk_create([Karma(guild_id=guild_id, subject=subject)], ignore_conflicts=True)
            row = rows.get()
        if row.merged_into is None:  # still: not merged while this waited for its lock
            return row
        subject = row.merged_into
    raise ValueError(f"{subject} is at the end of a chain of merges too long to follow")


def _change(row: Karma, delta: int, source: str, user: AbstractBaseUser | None, reverts: LedgerEntry | None = None):
    row.karma += delta
    row.version += 1
    row.save(update_fields=["karma", "version", "merged_into", "updated_at"])
    admin_ledger(row, delta, user, source, reverts)


def revert(entries: Iterable[LedgerEntry], user: AbstractBaseUser | None) -> int:
    """Undo each ledger row once, with a "revert" row of its own; how many were undone now.

    A row reverted before (or by another moderator at the same time: the revert's unique key) is
    skipped, as are reverts and merges themselves. A change to a subject merged since counts for
    the subject it was merged into, and is undone there.
    """
    undone: list[tuple[int, int, str]] = []  # (server, ledger row, subject) of the rows undone now
    for entry in entries:
        if entry.source in NOT_REVERTIBLE or not entry.delta:
            continue

        def undo(entry: LedgerEntry = entry) -> None:
            _change(_locked(entry.guild_id, entry.subject), -entry.delta, LedgerEntry.Source.REVERT, user, entry)

        try:
            _retried(undo)
        except IntegrityError:
            continue  # reverted already
        undone.append((entry.guild_id, entry.pk, entry.subject))
    logger.info("%s reverted %d ledger rows", _who(user), len(undone))
    modlog.reverted(_who(user), undone)
    return len(undone)


def merge(guild_id: int, source: str, target: str, user: AbstractBaseUser | None) -> int:
    """Merge subject `source` into `target` in one server; the karma moved.

    `target` gets `source`'s karma; `source` stays as an alias with none, its ledger kept, and its
    later changes count for `target` (karma/ledger/writes.py). Aliases of `source` follow it. ValueError
    says why a merge cannot be made; then nothing changed.
    """
    if source == target:
        raise ValueError("A subject cannot be merged into itself.")

    def work() -> int:
        if not Karma.objects.filter(guild_id=guild_id, subject=target).exists():
            Karma.objects.bulk_create([Karma(guild_id=guild_id, subject=target)], ignore_conflicts=True)
        # Locked in name order, as chat locks them.
        rows = Karma.objects.select_for_update().filter(guild_id=guild_id, subject__in=[source, target])
        locked = {row.subject: row for row in rows.order_by("subject")}
        alias, into = locked.get(source), locked[target]
        if alias is None:
            raise ValueError(f"{source} has no karma in this server.")
        if alias.merged_into is not None:
            raise ValueError(f"{source} is merged into {alias.merged_into} already.")
        if into.merged_into is not None:
            raise ValueError(f"{target} is merged into {into.merged_into}: merge into that.")
        moved = alias.karma
        alias.merged_into = target
        _change(alias, -moved, LedgerEntry.Source.MERGE, user)
        _change(into, moved, LedgerEntry.Source.MERGE, user)
        Karma.objects.filter(guild_id=guild_id, merged_into=source).update(merged_into=target)
        return moved

    moved = _retried(work)
    logger.info("%s merged a subject into another in server %s (%d karma moved)", _who(user), guild_id, moved)
    modlog.merged(guild_id, _who(user), source, target, moved)
    return moved


def unmerge(guild_id: int, subject: str, user: AbstractBaseUser | None = None) -> None:
    """Remove the alias: `subject` counts for itself again, from 0 (the karma merged stays where it
    went; revert the merge's rows to take it back)."""

    def work() -> None:
        row = Karma.objects.select_for_update().filter(guild_id=guild_id, subject=subject).first()
        if row is None or row.merged_into is None:
            raise ValueError(f"{subject} is not merged into another subject.")
        row.merged_into = None
        row.save(update_fields=["merged_into", "updated_at"])

    _retried(work)
    modlog.unmerged(guild_id, _who(user), subject)


def forget_user(user_id: int) -> int:
    """Remove a person's id and name, and the reasons they wrote, from every server's ledger, and
    their name from the settings history (a privacy request); the karma totals stay. Their Giver
    rows go too, and who they are to role rewards (their Member rows). How many ledger rows changed."""
    changed = LedgerEntry.objects.filter(author_id=user_id).update(author_id=None, author_name="", reason="")
    changed += LedgerReason.objects.filter(author_id=user_id).delete()[0]  # all a rolled-up reason holds
    Giver.objects.filter(author_id=user_id).delete()
    Member.objects.filter(user_id=user_id).delete()
    # Settings they changed in Discord: "name (id)" (karma/router.py, changed_by).
    SettingChange.objects.filter(changed_by__endswith=f" ({user_id})").update(changed_by="(forgotten)")
    logger.info("forgot a person: %d ledger rows no longer name them", changed)
    return changed


def redact_reasons(entries: QuerySet[LedgerEntry], user: AbstractBaseUser | None) -> int:
    """Blank the reasons of these ledger rows (free text, shown publicly: a moderator takes one
    down); the changes stay. How many rows had one."""
    redacted = entries.exclude(reason="").update(reason="")
    logger.info("%s redacted the reasons of %d ledger rows", _who(user), redacted)
    return redacted


def redact_rolled_up_reasons(reasons: QuerySet[LedgerReason], user: AbstractBaseUser | None) -> int:
    """Delete these reasons of rolled-up rows (karma/ledger/rollup.py): the reason is all they hold,
    their changes are counted in their days. How many."""
    redacted = reasons.delete()[0]
    logger.info("%s redacted %d reasons of rolled-up ledger rows", _who(user), redacted)
    return redacted


def _who(user: AbstractBaseUser | None) -> str:
    return f"admin {user.get_username()}" if user else "a command"


def admin_set_karma(guild_id: int, subject: str, karma: int, user: AbstractBaseUser) -> Karma:
    """Set a subject's karma from the admin, recording who did it in the ledger."""
    with transaction.atomic(using=router.db_for_write(Karma)):
        # The row is locked, so the recorded delta is exact even while chat changes it.
        row, created = Karma.objects.select_for_update().get_or_create(
            guild_id=guild_id, subject=subject, defaults={"karma": karma, "version": 1}
        )
        delta = karma if created else karma - row.karma
        if delta and not created:
            row.version += 1
        row.karma = karma
        row.save()
        if delta:
            admin_ledger(row, delta, user)
    return row


def admin_delete(rows: QuerySet[Karma], user: AbstractBaseUser) -> None:
    with transaction.atomic(using=router.db_for_write(Karma)):
        for row in rows.select_for_update():
            if row.karma:
                delta, row.karma = -row.karma, 0
                row.version += 1
                admin_ledger(row, delta, user)
            row.delete()


def admin_ledger(
    row: Karma,
    delta: int,
    user: AbstractBaseUser | None,
    source: str = LedgerEntry.Source.ADMIN,
    reverts: LedgerEntry | None = None,
) -> None:
    """The ledger row of a change made in the admin (an edit, a revert, a merge), `row` being the
    subject right after it."""
    LedgerEntry.objects.create(
        guild_id=row.guild_id,
        subject=row.subject,
        delta=delta,
        total=row.karma,
        version=row.version,
        source=source,
        admin_user=user,  # type: ignore[misc]  # any user model's user; stubs assume auth.User
        reverts=reverts,
    )
