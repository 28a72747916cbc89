"""Reading and changing karma in the database.

`using` names the database; callers leave it alone (the tests run the same code on SQLite and
MariaDB side by side).
"""

import logging

from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections, transaction
from django.utils import timezone

from karma.models import GuildSettings, Karma, LedgerEntry

# MySQL picks a victim when two transactions wait on each other (1213) and gives up after
# innodb_lock_wait_timeout (1205); it has rolled our transaction back, so running it again is safe.
_RETRYABLE_MYSQL_ERRORS = {1205, 1213}
_ATTEMPTS = 5

logger = logging.getLogger(__name__)


def apply_changes(message, changes, using=DEFAULT_DB_ALIAS):
    """Apply a message's karma changes once, in one transaction.

    `changes` is [(subject, delta)]; returns [(subject, karma after the change)] in the same order.
    Applying the same Discord message again changes nothing and returns what the first
    application returned: the ledger's unique (message, subject) key refuses the second copy.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return _apply_once(message, changes, using)
        except IntegrityError:
            replay = _replay(message, changes, using)
            if replay is None:
                raise
            return replay
        except OperationalError as exc:
            if exc.args[0] not in _RETRYABLE_MYSQL_ERRORS or attempt == _ATTEMPTS - 1:
                raise


def _apply_once(message, changes, using):
    subjects = [subject for subject, _ in changes]
    with transaction.atomic(using=using):
        _add_karma(message.guild_id, changes, using)
        totals = dict(
            Karma.objects.using(using)
            .filter(guild_id=message.guild_id, subject__in=subjects)
            .values_list("subject", "karma")
        )
        LedgerEntry.objects.using(using).bulk_create(
            LedgerEntry(
                guild_id=message.guild_id,
                channel_id=message.channel_id,
                message_id=message.message_id,
                author_id=message.author_id,
                author_name=message.author_name,
                subject=subject,
                delta=delta,
                total=totals[subject],
                source=LedgerEntry.Source.CHAT,
            )
            for subject, delta in changes
        )
    return [(subject, totals[subject]) for subject in subjects]


# The ORM cannot add to a column in an upsert, hence this one statement per engine. A read, then
# an INSERT or UPDATE, would deadlock between workers creating the same subject at once.
_UPSERT_CONFLICT = {
    "mysql": "ON DUPLICATE KEY UPDATE karma = karma + VALUES(karma), updated_at = VALUES(updated_at)",
    "sqlite": "ON CONFLICT (guild_id, subject) DO UPDATE SET karma = karma + excluded.karma, "
    "updated_at = excluded.updated_at",
}


def _add_karma(guild_id, changes, using):
    """Add each delta in the database, creating missing rows, in one statement."""
    connection = connections[using]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = sorted(changes)  # every transaction locks rows in the same order: none waits on another
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params = [value for subject, delta in rows for value in (guild_id, subject, delta, now)]
    table = connection.ops.quote_name(Karma._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (guild_id, subject, karma, updated_at) VALUES {values} "
            + _UPSERT_CONFLICT[connection.vendor],
            params,
        )


def _replay(message, changes, using):
    applied = dict(
        LedgerEntry.objects.using(using)
        .filter(message_id=message.message_id, source=LedgerEntry.Source.CHAT)
        .values_list("subject", "total")
    )
    if not applied:
        return None
    logger.info("message %s was applied before (redelivered); answering as the first time", message.message_id)
    return [(subject, applied[subject]) for subject, _ in changes if subject in applied]


def karma_of(guild_id, names, using=DEFAULT_DB_ALIAS):
    """[(name, karma)] for each name, 0 for names never seen."""
    known = dict(
        Karma.objects.using(using).filter(guild_id=guild_id, subject__in=names).values_list("subject", "karma")
    )
    return [(name, known.get(name, 0)) for name in names]


def board(guild_id, size, highest=True, using=DEFAULT_DB_ALIAS):
    """The `size` subjects with the most (or least) karma, ties by name; zeros are left out."""
    order = ("-karma" if highest else "karma", "subject")
    rows = Karma.objects.using(using).filter(guild_id=guild_id).exclude(karma=0).order_by(*order)
    return list(rows.values_list("subject", "karma")[:size])


def announce_enabled(guild_id, using=DEFAULT_DB_ALIAS):
    settings = GuildSettings.objects.using(using).filter(guild_id=guild_id).first()
    return settings.announce if settings else GuildSettings._meta.get_field("announce").default


def set_announce(guild_id, announce, using=DEFAULT_DB_ALIAS):
    GuildSettings.objects.using(using).update_or_create(guild_id=guild_id, defaults={"announce": announce})


def admin_set_karma(guild_id, subject, karma, user, using=DEFAULT_DB_ALIAS):
    """Set a subject's karma from the admin, recording who did it in the ledger."""
    with transaction.atomic(using=using):
        # The row is locked, so the recorded delta is exact even while chat changes it.
        row, created = (
            Karma.objects.using(using)
            .select_for_update()
            .get_or_create(guild_id=guild_id, subject=subject, defaults={"karma": karma})
        )
        delta = karma if created else karma - row.karma
        row.karma = karma
        row.save(using=using)
        if delta:
            _admin_ledger(guild_id, subject, delta, karma, user, using)
    return row


def admin_delete(rows, user, using=DEFAULT_DB_ALIAS):
    with transaction.atomic(using=using):
        for row in rows.select_for_update():
            if row.karma:
                _admin_ledger(row.guild_id, row.subject, -row.karma, 0, user, using)
            row.delete()


def _admin_ledger(guild_id, subject, delta, total, user, using):
    LedgerEntry.objects.using(using).create(
        guild_id=guild_id, subject=subject, delta=delta, total=total, source=LedgerEntry.Source.ADMIN, admin_user=user
    )
