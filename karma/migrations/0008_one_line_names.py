"""Names stored before names were one line (karma/names.py) lose their line breaks, tabs and other
control characters now: `(foo⏎bar)++` had made the subject `foo\\nbar`, whose public page answered
500 (Django's URL patterns do not match a line break).

As migration 0004 did: a name that changes is renamed; names that become one are merged, their
karma added up; a name with nothing left is removed. Every change is in the ledger, with the
source "merge": the old name gives up its karma, the clean one receives it. Old ledger rows keep
the names they had. Besides, aliases point at the clean name of the subject they were merged into,
and the ignored names and the edits waiting for their message (MessageVersion.pending) are cleaned.

The cleaning is copied here as it was when this migration was written, so that later changes to
karma/names.py do not change what this migration did.
"""

import re
import unicodedata
from collections import defaultdict

from django.db import migrations

_OTHER_INVISIBLE = set("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u180b\u180c\u180d\u180e\u034f")
_TAGS = range(0xE0020, 0xE0080)
_EMOJI_PARTS = {"So", "Sk", "Mn"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_GAP = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MAX_NAME_LENGTH = 128


def _emoji_part(char):
    return unicodedata.category(char) in _EMOJI_PARTS


def clean(name):
    if _CONTROL.search(name):
        name = _GAP.sub(lambda gap: " " if _CONTROL.search(gap.group()) else gap.group(), name)
    if name.isascii():
        return name.strip()
    name = unicodedata.normalize("NFC", name)
    kept = []
    for index, char in enumerate(name):
        if char == "\u200d":
            if 0 < index < len(name) - 1 and _emoji_part(name[index - 1]) and _emoji_part(name[index + 1]):
                kept.append(char)
        elif char in _OTHER_INVISIBLE:
            continue
        elif unicodedata.category(char) != "Cf" or ord(char) in _TAGS:
            kept.append(char)
    return "".join(kept).strip()


def clean_names(apps, schema_editor):
    db = schema_editor.connection.alias  # the database being migrated, whatever the routers say
    Karma = apps.get_model("karma", "Karma")
    _clean_aliases(Karma.objects.using(db))
    _merge_subjects(Karma.objects.using(db), apps.get_model("karma", "LedgerEntry").objects.using(db))
    _clean_ignored(apps.get_model("karma", "GuildSettings").objects.using(db))
    _clean_pending(apps.get_model("karma", "MessageVersion").objects.using(db))


def _clean_aliases(karma):
    """Aliases point at the name the subject they were merged into is about to have (or at nothing,
    when that name is their own or empty: they count for themselves again)."""
    for row in karma.exclude(merged_into=None).iterator():
        target = clean(row.merged_into)
        if target != row.merged_into:
            row.merged_into = target if target and target != clean(row.subject) else None
            row.save(update_fields=["merged_into"])


def _merge_subjects(karma, ledger):
    groups = defaultdict(list)
    for row in karma.iterator():
        cleaned = clean(row.subject)
        if cleaned != row.subject and len(cleaned) <= MAX_NAME_LENGTH:  # (NFC may lengthen a name)
            groups[(row.guild_id, cleaned)].append(row)

    def record(guild_id, subject, delta, total, version):
        ledger.create(guild_id=guild_id, subject=subject, delta=delta, total=total, version=version, source="merge")

    for (guild_id, cleaned), rows in groups.items():
        for row in rows:
            record(guild_id, row.subject, -row.karma, 0, row.version + 1)
            row.delete()
        if not cleaned:
            continue
        target, created = karma.get_or_create(guild_id=guild_id, subject=cleaned, defaults={"karma": 0})
        leads_to = {row.merged_into for row in rows}
        if created and len(leads_to) == 1 and None not in leads_to:
            target.merged_into = leads_to.pop()  # an alias renamed: still one, holding no karma
        moved = sum(row.karma for row in rows)
        if target.merged_into is not None and moved:
            # The clean name is an alias already: its karma goes where the alias leads (merges are
            # resolved to their end when made, karma/moderation.py).
            target, _ = karma.get_or_create(guild_id=guild_id, subject=target.merged_into, defaults={"karma": 0})
        target.karma += moved
        target.version += 1
        target.save()
        record(guild_id, target.subject, moved, target.karma, target.version)


def _clean_ignored(servers):
    for server in servers.iterator():
        ignored = list(dict.fromkeys(name for name in map(clean, server.ignored) if name))
        if ignored != server.ignored:
            server.ignored = ignored
            server.save(update_fields=["ignored"])


def _clean_pending(versions):
    """[[subject, delta, reason]] an edit asks for, names cleaned and added up as the parser would."""
    for version in versions.filter(pending__isnull=False).iterator():
        totals, reasons = {}, {}
        for subject, delta, reason in version.pending:
            name = clean(subject)
            if name and len(name) <= MAX_NAME_LENGTH:
                totals[name] = totals.get(name, 0) + delta
                if reason:
                    reasons.setdefault(name, reason)
        pending = [[name, delta, reasons.get(name, "")] for name, delta in totals.items() if delta]
        if pending != version.pending:
            version.pending = pending
            version.save(update_fields=["pending"])


class Migration(migrations.Migration):
    dependencies = [("karma", "0007_servers_public_moderation")]

    operations = [migrations.RunPython(clean_names, migrations.RunPython.noop)]
