"""Subjects stored before names were cleaned (karma/names.py) are cleaned now.

A name that changes is renamed; names that become one are merged, their karma added up; a name
with nothing left is removed. Every change is in the ledger, with the source "merge": the old
name gives up its karma, the clean one receives it. Old ledger rows keep the names they had.

The cleaning is copied here as it was when this migration was written, so that later changes to
karma/names.py do not change what this migration did.
"""

import unicodedata
from collections import defaultdict

from django.db import migrations

_OTHER_INVISIBLE = set("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u180b\u180c\u180d\u180e\u034f")
_TAGS = range(0xE0020, 0xE0080)
_EMOJI_PARTS = {"So", "Sk", "Mn"}
MAX_NAME_LENGTH = 128


def _emoji_part(char):
    return unicodedata.category(char) in _EMOJI_PARTS


def clean(name):
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
    LedgerEntry = apps.get_model("karma", "LedgerEntry")
    groups = defaultdict(list)
    for row in Karma.objects.using(db).iterator():
        cleaned = clean(row.subject)
        if cleaned != row.subject and len(cleaned) <= MAX_NAME_LENGTH:  # (NFC may lengthen a name)
            groups[(row.guild_id, cleaned)].append(row)

    def record(guild_id, subject, delta, total, version):
        LedgerEntry.objects.using(db).create(
            guild_id=guild_id, subject=subject, delta=delta, total=total, version=version, source="merge"
        )

    for (guild_id, cleaned), rows in groups.items():
        for row in rows:
            record(guild_id, row.subject, -row.karma, 0, row.version + 1)
            row.delete(using=db)
        if not cleaned:
            continue
        moved = sum(row.karma for row in rows)
        target, _ = Karma.objects.using(db).get_or_create(guild_id=guild_id, subject=cleaned, defaults={"karma": 0})
        target.karma += moved
        target.version += 1
        target.save(using=db)
        record(guild_id, cleaned, moved, target.karma, target.version)


class Migration(migrations.Migration):
    dependencies = [("karma", "0003_fair_karma")]

    operations = [migrations.RunPython(clean_names, migrations.RunPython.noop)]
