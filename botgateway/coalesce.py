"""The next Discord request for a channel's held replies: one reply alone, or many merged.

While the channel's bucket can carry every held reply, each goes out on its own, as it would have
without holding. When it cannot (a burst in a busy channel), they are merged into as few messages
as possible: in order, split only between lines, each reply starting on a line of its own, and a
subject that several replies mention said once, with its latest value. Every post remembers which
version of each subject it said, so that a reply delivered late never contradicts it with an older
value (botgateway/delivery.py). Reactions go out after the text, one request each.
"""

from dataclasses import replace

from botgateway.mailbox import Held, Intent
from botgateway.splitting import DISCORD_MESSAGE_LIMIT, fit, joined

TEXT, REACTION = "text", "reaction"


def kind_of(held: list[Held]) -> str | None:
    """Which kind of request comes next (text before reactions), or None when nothing is held."""
    if any(entry.lines for entry in held):
        return TEXT
    if any(entry.reaction for entry in held):
        return REACTION
    return None


def next_post(held: list[Held], spare: int | None, limit: int = DISCORD_MESSAGE_LIMIT) -> Intent:
    """The intent for the next request: what to send and which held lines or reaction it covers.

    `spare` is how many more requests the bucket allows right now besides this one (None while
    the bucket is unknown: each reply alone, then).
    """
    with_text = [entry for entry in held if entry.lines]
    if not with_text:
        entry = next(entry for entry in held if entry.reaction)
        emoji = entry.reaction or ""  # never empty: the entry was chosen for its reaction
        return {"kind": REACTION, "message_id": entry.message_id, "emoji": emoji, "covers": {},
                "reaction_of": entry.message_id}  # fmt: skip
    merged = spare is not None and len(with_text) - 1 > spare
    if merged:
        candidates, superseded = _latest_only(with_text)
    else:
        candidates, superseded = with_text[:1], []
    pieces, origins = [], []
    said: dict[str, int] = {}
    for entry in candidates:
        for position, (index, line) in enumerate(entry.lines):
            pieces.append(("\n" if position == 0 else entry.joiner, line.text))
            origins.append((entry.message_id, index, line))
    count = fit(pieces, limit)
    sent = [(message_id, index) for message_id, index, _ in origins[:count]]
    for _, _, line in origins[:count]:
        if line.subject is not None:
            said[line.subject] = max(line.version, said.get(line.subject, line.version))
    covers: dict[str, list[int]] = {}
    for message_id, index in sent + superseded:
        covers.setdefault(str(message_id), []).append(index)
    first_message, first_index = sent[0]
    return {
        "kind": TEXT,
        "content": joined(pieces[: len(sent)]),
        "nonce": f"{first_message}.{first_index}",  # the same for every attempt at this message
        "message_id": first_message,
        "covers": covers,
        "reaction_of": None,
        "said": said,  # the version of each subject it says: later, older values are not said at all
    }


def _latest_only(held: list[Held]) -> tuple[list[Held], list[tuple[int, int]]]:
    """The replies without the lines a later line about the same subject replaces, and those lines."""
    latest: dict[str, tuple[int, int, int]] = {}  # subject -> (version, message id, index) of the line that stays
    for entry in held:
        for index, line in entry.lines:
            if line.subject is not None:
                mark = (line.version, entry.message_id, index)
                latest[line.subject] = max(latest.get(line.subject, mark), mark)
    kept, superseded = [], []
    for entry in held:
        lines = []
        for index, line in entry.lines:
            if line.subject is None or latest[line.subject][1:] == (entry.message_id, index):
                lines.append((index, line))
            else:
                superseded.append((entry.message_id, index))
        if lines:
            kept.append(replace(entry, lines=tuple(lines)))
    return kept, superseded
