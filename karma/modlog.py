"""The moderators' log: when a server sets one (`@Popple config log #mod-log`), Popple posts there
what changed its karma or its settings other than chat: settings changes (chat, slash, admin),
new seasons, reverts and merges, and people whose changes the cooldown or the budget refused more
than `logrefusals` times in an hour.

A log line is a reply like any other (karma.tasks: the post_log task hands it to the reply task),
so it goes through the shared budget, is held while Discord's limits say so, and goes out merged
with the others that piled up in the log channel meanwhile: that is the batching. It is never
dropped as stale (it says no karma value, like an answer). Its id is made from the event (when it
happened, and what it was), so an event posted twice, by a redelivered task, is posted once.
"""

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from karma.message import Line, Reply
from karma.replies import escape_markdown

DISCORD_EPOCH_MS = 1_420_070_400_000
REVERTED = "\N{LEFTWARDS ARROW WITH HOOK}\N{VARIATION SELECTOR-16}"
REFUSALS_WINDOW = 3600  # seconds: refusals are counted per person per clock hour


def log_id(at: datetime, key: str) -> int:
    """An id for the log line of one event, shaped like a Discord snowflake (ids in the mailbox and
    nonces are per message): the event's time, and 22 bits of what it was."""
    milliseconds = int(at.timestamp() * 1000) - DISCORD_EPOCH_MS
    return (milliseconds << 22) | (zlib.crc32(key.encode()) & 0x3FFFFF)


def post(guild_id: int, channel_id: int | None, text: str, key: str, at: datetime | None = None) -> None:
    """Post `text` in the server's log channel once the transaction commits (nothing if it has
    none). `key` names the event: the same key at the same time is the same post."""
    if not channel_id:
        return
    reply = Reply(channel_id, log_id(at or timezone.now(), key), (Line(text),), guild_id=guild_id)
    payload = reply.to_payload()
    from karma.tasks import post_log  # the task module imports the domain; imported when used

    transaction.on_commit(lambda: post_log.delay(payload))


def log_channel(guild_id: int) -> int | None:
    """The server's log channel, read for events that did not read its settings already."""
    from karma.models import GuildSettings

    return GuildSettings.objects.filter(guild_id=guild_id).values_list("log_channel", flat=True).first()


def setting_changed(guild_id: int, channel_id: int | None, change_id: int, at: datetime, line: str) -> None:
    post(guild_id, channel_id, f"\N{GEAR}\N{VARIATION SELECTOR-16} {line}", f"setting:{change_id}", at)


def reverted(by: str, entries: Iterable[tuple[int, int, str]]) -> None:
    """Log reverts: `entries` are (server, ledger id, subject) of the rows undone, by whom."""
    per_server: dict[int, list[tuple[int, str]]] = {}
    for guild_id, entry_id, subject in entries:
        per_server.setdefault(guild_id, []).append((entry_id, subject))
    for guild_id, undone in per_server.items():
        names = sorted({subject for _, subject in undone})
        shown = ", ".join(escape_markdown(name) for name in names[:5]) + (" and more" if len(names) > 5 else "")
        changes = f"{len(undone)} change{'s' if len(undone) != 1 else ''}"
        text = f"{REVERTED} {escape_markdown(by)} reverted {changes} to {shown}."
        post(guild_id, log_channel(guild_id), text, f"revert:{min(entry for entry, _ in undone)}")


def merged(guild_id: int, by: str, source: str, target: str, moved: int) -> None:
    text = (
        f"\N{TWISTED RIGHTWARDS ARROWS} {escape_markdown(by)} merged {escape_markdown(source)} into "
        f"{escape_markdown(target)} ({moved} moved)."
    )
    post(guild_id, log_channel(guild_id), text, f"merge:{source}:{target}")


def unmerged(guild_id: int, by: str, subject: str) -> None:
    text = f"\N{TWISTED RIGHTWARDS ARROWS} {escape_markdown(by)} unmerged {escape_markdown(subject)}."
    post(guild_id, log_channel(guild_id), text, f"unmerge:{subject}")


def refusals(
    guild_id: int, channel_id: int | None, threshold: int, author_id: int, author: str, rules: list[str]
) -> None:
    """Count a person's refusals by the cooldown or the budget this hour; the one that reaches the
    server's threshold is logged (once an hour per person, however many follow).

    Counted in Django's cache (Redis when configured, shared by the workers): a count lost with it
    costs at most a line late, never a line twice in one hour for the same count.
    """
    if not channel_id or not threshold or not rules:
        return
    hour = int(timezone.now().timestamp()) // REFUSALS_WINDOW
    key = f"popple:refusals:{guild_id}:{author_id}:{hour}"
    cache.add(key, 0, REFUSALS_WINDOW)
    try:
        count = cache.incr(key, len(rules))
    except ValueError:  # expired between add and incr
        return
    if count - len(rules) < threshold <= count:
        which = " and ".join(sorted(set(rules)))
        text = (
            f"\N{NO ENTRY SIGN} {escape_markdown(author)} ({author_id}) hit the {which} {threshold} times "
            "within the hour."
        )
        at = datetime.fromtimestamp(hour * REFUSALS_WINDOW, tz=UTC)  # the same id for the same hour's line
        post(guild_id, channel_id, text, f"refusals:{author_id}:{hour}", at)
