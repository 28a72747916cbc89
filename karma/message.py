"""What crosses the queues between Discord and the domain, in both directions.

IncomingMessage: a chat message, as first sent or edited, from a gateway to the karma task
(queue `karma`).
Deletion: chat messages were deleted, from a gateway to the deletion task (queue `karma`).
ReactionEvent: someone added or removed a reaction, or a moderator removed a message's reactions,
from a gateway to the reaction task (queue `karma`).
ServerEvent: Popple joined, left or found servers, or a server was renamed, from a gateway to the
server task (queue `karma`).
Reply: the answer to one, from the karma task to the reply task (queue `replies`), in lines that
a message is split between and that answers to one channel can be merged by.
RoleChange: the roles one person should hold now, from the karma task to the role task (queue
`replies`: it shares the reply side's budget of Discord requests).
"""

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any, Self

# Characters in one chat message Popple sends: a Line holds at most this, and an answer is capped
# at a number of messages this long (karma/replies.py). Discord's limit: botgateway/splitting.py
# cuts replies into Discord messages, and its tests check that the two agree.
MESSAGE_LIMIT = 2000


def bot_prefixes(bot_id: int, bot_name: str) -> tuple[str, ...]:
    """How a message that addresses the bot starts: a mention of it, or `@Name` typed out."""
    return (f"<@{bot_id}>", f"<@!{bot_id}>", f"@{bot_name}")


def holds_sign(content: str) -> bool:
    """Whether `content` holds a karma sign: only such a version of a message can ask for karma."""
    return "++" in content or "--" in content


def may_matter(content: str, bot_id: int, bot_name: str) -> bool:
    """Whether Popple could do anything with `content`: it holds a karma sign or addresses the bot.

    Anything else is chat Popple ignores; the gateway drops it before it costs the outbox, the
    broker and a worker. It may say yes to more than matters, never less.
    """
    return holds_sign(content) or content.lstrip().startswith(bot_prefixes(bot_id, bot_name))


def check_fields(cls: type, payload: Any, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The payload's values for the dataclass's int, str and bool fields, checked by type.

    `optional` fields were added later: a payload from before them gets their defaults.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"payload must be an object, not {type(payload).__name__}")
    values = {}
    for field in fields(cls):
        if field.name not in payload:
            if field.name in optional:
                continue
            raise ValueError(f"payload has no {field.name}")
        value = payload[field.name]
        expected = field.type
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # JSON does not tell 3 from 3.0
        # bool is an int in Python; an id must not be True.
        if (expected is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0)) or (
            isinstance(expected, type) and expected is not int and not isinstance(value, expected)
        ):
            raise ValueError(f"payload field {field.name} is not a valid {getattr(expected, '__name__', expected)}")
        values[field.name] = value
    return values


@dataclass(frozen=True)
class IncomingMessage:
    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    author_name: str
    content: str  # as typed; `<@id>` mentions are resolved through `mentions`
    bot_id: int
    bot_name: str
    mentions: dict  # user id (str) -> username, for every user the message mentions
    can_manage: bool  # the author has Manage Server or Administrator
    # The other names the author goes by, "" when unknown: the self-karma rule refuses them all.
    author_global_name: str = ""  # the display name of their Discord account
    author_nick: str = ""  # their nickname in this server
    # Which version of the message this is: 0 as first sent, else when it was edited (Discord's
    # edited_timestamp, in microseconds since the epoch): the later edit is the higher.
    edited: int = 0
    # For an edit: whether the gateway forwarded the message as sent, holding a karma sign. Only
    # then may the message still be on its way, and an edit that arrives first wait for it
    # (karma/ledger/writes.py); otherwise the edit changes only a message the ledger counted, and leaves
    # no row. Payloads from gateways older than this field waited, as they still do.
    message_forwarded: bool = True
    # When the message was first sent, in seconds since the epoch (the gateway reads it from the
    # message's id): an edit later than EDIT_WINDOW after it changes nothing. 0: not said, in a
    # payload from a gateway older than this field (queued during a rolling upgrade). Such a
    # payload is applied rather than lost: that gateway forwarded only edits within EDIT_WINDOW of
    # the message (botgateway/forwarded.py, too_old), the same check the worker would make.
    sent_at: float = 0.0
    # The id this version's reply is held and posted under: an edit's is a new one, which sorts
    # where the edit happened (botgateway/snowflakes.py, edit_reply_id). 0: the message's own id,
    # as for a message as sent. An edit from a gateway older than this field changes karma as it
    # says, but its reply is not said: only the gateway can make an id for it.
    reply_id: int = 0
    # Whether the gateway reads plain chat (Discord's Message Content intent): without it `x++`
    # never arrives, and `@Popple config` says so. True in payloads from gateways older than this.
    reads_chat: bool = True
    # For thanks (karma/thanks.py): the person whose message this replies to (0: none, or a bot),
    # and which of the mentioned users are bots (ids, as in `mentions`).
    replied_to_id: int = 0
    replied_to_name: str = ""
    bots: list = dataclasses.field(default_factory=list)
    # The places the channel is within (a thread's channel, the category), for where karma counts
    # (karma/channels.py).
    within: list = dataclasses.field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        optional = (
            "author_global_name",
            "author_nick",
            "edited",
            "message_forwarded",
            "sent_at",
            "reply_id",
            "reads_chat",
            "replied_to_id",
            "replied_to_name",
            "bots",
            "within",
        )
        values = check_fields(cls, payload, optional=optional)
        if values.get("edited", 0) >= DELETED_REVISION:
            raise ValueError("payload field edited is not a valid time")
        if not _is_time(values.get("sent_at", 0.0), unknown=True):
            raise ValueError("payload field sent_at must be a time in seconds since the epoch")
        if values.get("reply_id", 0) >= 2**63:
            raise ValueError("payload field reply_id is not a valid id")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in values["mentions"].items()):
            raise ValueError("payload field mentions must map user ids to names")
        if not all(isinstance(user, str) for user in values.get("bots", [])):
            raise ValueError("payload field bots must list user ids")
        if not _are_ids(values.get("within", [])):
            raise ValueError("payload field within must list channel ids")
        if values.get("replied_to_id", 0) >= 2**63:
            raise ValueError("payload field replied_to_id is not a valid id")
        return cls(**values)


MAX_DELETED_PER_EVENT = 100  # Discord's bulk delete takes at most 100 messages
DELETED_REVISION = 2**62  # a deletion comes after every edit (as karma/models.py records it)


@dataclass(frozen=True)
class Deletion:
    """Chat messages of one channel were deleted (one, or a bulk delete): `at` is when the gateway
    saw it, in seconds since the epoch, to tell whether they could still be edited then.

    The gateway forwards only messages it forwarded a version of that held a karma sign;
    `not_forwarded` names those of them it forwarded an edit of but not the message as sent: their
    deletion changes only a message the ledger counted, and leaves no row (as for an edit's
    IncomingMessage.message_forwarded).

    `sent_at` says when each of `deleted` was sent, in its order (the gateway reads it from the
    ids): a message deleted later than EDIT_WINDOW after it was sent keeps its karma. Empty in a
    payload from a gateway older than the field: its deletions are applied, as that gateway
    forwarded only those of messages it had forwarded within EDIT_WINDOW (botgateway/forwarded.py).
    """

    guild_id: int
    channel_id: int
    deleted: list  # message ids
    at: float
    not_forwarded: list = dataclasses.field(default_factory=list)  # some of `deleted`
    sent_at: list = dataclasses.field(default_factory=list)  # seconds since the epoch, per message

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        values = check_fields(cls, payload, optional=("not_forwarded", "sent_at"))
        deleted, at, not_forwarded = values["deleted"], values["at"], values.get("not_forwarded", [])
        sent = values.get("sent_at", [])
        if not 0 < len(deleted) <= MAX_DELETED_PER_EVENT:
            raise ValueError(f"payload field deleted must list 1 to {MAX_DELETED_PER_EVENT} messages")
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in deleted):
            raise ValueError("payload field deleted must hold message ids")
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at <= 0:
            raise ValueError("payload field at must be a time in seconds since the epoch")
        if not all(isinstance(i, int) and not isinstance(i, bool) and i in deleted for i in not_forwarded):
            raise ValueError("payload field not_forwarded must hold ids of deleted messages")
        if sent and (len(sent) != len(deleted) or not all(_is_time(each) for each in sent)):
            raise ValueError("payload field sent_at must give the time each deleted message was sent")
        return cls(values["guild_id"], values["channel_id"], deleted, float(at), not_forwarded, [*map(float, sent)])

    def sent_times(self) -> dict[int, float]:
        """{message id: when it was sent} of the deleted messages the gateway gave a time for."""
        return dict(zip(self.deleted, self.sent_at, strict=False))

    @staticmethod
    def is_one(payload: Any) -> bool:
        """Whether a gateway's payload is a deletion (a chat message never has `deleted`)."""
        return isinstance(payload, dict) and "deleted" in payload


ADDED, REMOVED, CLEARED = "added", "removed", "cleared"
MAX_EMOJI_KEY = 64


@dataclass(frozen=True)
class ReactionEvent:
    """A reaction to a server message: added or removed by one person, or cleared (a moderator
    removed all the message's reactions, of `emoji` or of every emoji when it is "").

    Discord's reaction events carry no time, and the workers apply them in parallel: `stamp` is the
    order the gateway received them in (nanoseconds on its clock, rising strictly: every event of
    a server comes through one gateway process, its shard's), which the worker keeps per reaction
    (karma/models.py, Reaction). `emoji` is the key karma/emoji.py makes of it. An add names the
    message's author (Discord says who; the gateway knows their username) and the reacting person's
    names, for the rules; a removal names only who removed it. `reply_id` is the id its reply is
    held and posted under (botgateway/snowflakes.py, reaction_reply_id), for the reply names no
    message: a reaction is not a message.
    """

    kind: str  # ADDED, REMOVED or CLEARED
    guild_id: int
    channel_id: int
    message_id: int
    emoji: str
    stamp: int
    reply_id: int
    bot_id: int
    bot_name: str
    user_id: int = 0  # who reacted (0 for CLEARED)
    user_name: str = ""
    user_global_name: str = ""
    user_nick: str = ""
    author_id: int = 0  # the message's author (ADDED only)
    author_name: str = ""
    within: list = dataclasses.field(default_factory=list)  # as IncomingMessage.within

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        optional = tuple(field.name for field in fields(cls) if field.default is not dataclasses.MISSING)
        values = check_fields(cls, payload, optional=optional)
        event = cls(**values)
        if event.kind not in (ADDED, REMOVED, CLEARED):
            raise ValueError(f"payload field kind must be {ADDED}, {REMOVED} or {CLEARED}")
        if not 0 < event.stamp < DELETED_REVISION:  # the ledger's revision of its change
            raise ValueError("payload field stamp is not a valid order")
        ids = (event.guild_id, event.channel_id, event.message_id, event.reply_id, event.user_id, event.author_id)
        if max(ids) >= 2**63:
            raise ValueError("payload holds an id that is not a valid id")
        if len(event.emoji) > MAX_EMOJI_KEY or (not event.emoji and event.kind != CLEARED):
            raise ValueError("payload field emoji is not a valid emoji")
        if not _are_ids(event.within):
            raise ValueError("payload field within must list channel ids")
        if (event.kind == CLEARED) != (event.user_id == 0):
            raise ValueError("payload field user_id must name who reacted, but for a cleared message")
        if event.kind == ADDED and not (event.author_id and event.author_name):
            raise ValueError("payload must name the message's author for an added reaction")
        return event

    @staticmethod
    def is_one(payload: Any) -> bool:
        """Whether a gateway's payload is a reaction event (a chat message never has `emoji`)."""
        return isinstance(payload, dict) and "emoji" in payload and "stamp" in payload


JOINED, LEFT, PRESENT, UPDATED = "joined", "left", "present", "updated"
MAX_SERVERS_PER_EVENT = 1000  # a "present" event names at most this many servers
CLOCK_SKEW = 3600  # seconds a gateway's clock may be ahead of a worker's
MAX_SERVER_NAME = 100  # Discord's limit
MAX_ICON_HASH = 64
MAX_LOCALE = 16  # Discord's locales are codes such as `en-US`


@dataclass(frozen=True)
class ServerEvent:
    """Popple joined a server, left it (removed, or the server was deleted; not an outage), found
    servers it is in (at connect), or a server changed its name or icon: `at` is when the gateway
    saw it, in seconds since the epoch, so that a worker can tell an event that arrives late from
    a newer one. `names` gives each server's [name, icon hash or null, Discord's preferred locale],
    in the order of `guild_ids` (none for a leave, nor from gateways older than names; without the
    locale from gateways older than it)."""

    event: str  # JOINED, LEFT, PRESENT or UPDATED
    guild_ids: list  # one but for PRESENT
    at: float
    names: list = dataclasses.field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        if not self.names:
            del payload["names"]  # as before names: a worker not yet updated still reads it
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        if not isinstance(payload, dict):
            raise ValueError(f"payload must be an object, not {type(payload).__name__}")
        if set(payload) - {"names"} != {"event", "guild_ids", "at"}:
            raise ValueError("payload must have exactly the fields event, guild_ids and at (and names)")
        event, guild_ids, at = payload["event"], payload["guild_ids"], payload["at"]
        if event not in (JOINED, LEFT, PRESENT, UPDATED):
            raise ValueError(f"payload field event must be {JOINED}, {LEFT}, {PRESENT} or {UPDATED}")
        most = MAX_SERVERS_PER_EVENT if event == PRESENT else 1
        if not isinstance(guild_ids, list) or not 0 < len(guild_ids) <= most:
            raise ValueError(f"payload field guild_ids must list 1 to {most} servers")
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in guild_ids):
            raise ValueError("payload field guild_ids must hold server ids")
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at <= 0:
            raise ValueError("payload field at must be a time in seconds since the epoch")
        if at > time.time() + CLOCK_SKEW:  # it would outrank every later event of those servers
            raise ValueError("payload field at is in the future")
        names = payload.get("names", [])
        if not isinstance(names, list) or (names and (event == LEFT or len(names) != len(guild_ids))):
            raise ValueError("payload field names must give one [name, icon] per server (none for a leave)")
        if event == UPDATED and not names:
            raise ValueError("payload field names must give the server's new name")
        if not all(_is_name(name) for name in names):
            raise ValueError(
                "payload field names must hold [name, icon hash or null, locale] "
                f"(at most {MAX_SERVER_NAME} characters)"
            )
        return cls(event, guild_ids, float(at), [list(name) for name in names])

    @staticmethod
    def is_one(payload: Any) -> bool:
        """Whether a gateway's payload is a server event rather than a chat message (they share the
        gateway's outbox; a chat message never has an `event`)."""
        return isinstance(payload, dict) and "event" in payload


@dataclass(frozen=True)
class Line:
    """One sentence or board line of an answer: messages are split between lines, never inside one.

    `subject` and `version` say whose karma the line reports, as of which of its changes: when
    answers to one channel are merged, only the line with the highest version of a subject is said.
    Lines without a subject are always said.
    """

    text: str
    subject: str | None = None
    version: int = 0


def answers_someone(lines: Iterable[Line], reaction: str | None) -> bool:
    """Whether a reply answers someone, who waits for it: a reaction, or a line that reports no
    subject's karma (an answer to a command, a refusal). The reply side sends those first
    (karma/tasks.py: queue `answers`) and never drops them (botgateway/mailbox.py)."""
    return reaction is not None or any(line.subject is None for line in lines)


@dataclass(frozen=True)
class Reply:
    """The answer to one chat message: text in lines, and/or a reaction to the message."""

    channel_id: int
    message_id: int
    lines: tuple[Line, ...] = ()
    joiner: str = " "  # between lines: a space for sentences, a line break for a board
    reaction: str | None = None
    # The server: delivery reads a subject's karma there when a line may be stale (0: unknown, as in
    # replies queued before this field existed).
    guild_id: int = 0
    # Not in the payload: the roles the karma changes call for (karma/roles/follow.py), which the
    # karma task hands to the role task beside the reply (karma/tasks.py).
    roles: tuple = ()
    # When the changes its lines report began to be committed (time.time(); 0: not known, as for a
    # replay, an answer that read them, or replies queued before this field existed): delivery
    # need not read a subject a channel has no memory of if the memory began before then.
    made_at: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.lines or self.reaction)

    def answers(self) -> bool:
        """Whether someone waits for it (answers_someone); not an announcement alone."""
        return answers_someone(self.lines, self.reaction)

    def text(self) -> str:
        return self.joiner.join(line.text for line in self.lines)

    def to_payload(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "message_id": self.message_id,
            "lines": [[line.text, line.subject, line.version] for line in self.lines],
            "joiner": self.joiner,
            "reaction": self.reaction,
            "guild_id": self.guild_id,
            "made_at": self.made_at,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        values = check_fields(cls, payload, optional=("guild_id", "roles", "made_at"))
        if "roles" in values:
            raise ValueError("payload field roles is not part of a reply's payload")
        if values["joiner"] not in (" ", "\n"):
            raise ValueError("payload field joiner must be a space or a line break")
        if values["reaction"] is not None and not (isinstance(values["reaction"], str) and values["reaction"]):
            raise ValueError("payload field reaction must be an emoji or null")
        lines = values["lines"]
        if not isinstance(lines, list) or not all(_is_line(line) for line in lines):
            raise ValueError("payload field lines must be a list of [text, subject or null, version]")
        values["lines"] = tuple(Line(*line) for line in lines)
        if not values["lines"] and values["reaction"] is None:
            raise ValueError("payload has neither lines nor a reaction")
        return cls(**values)


MAX_ROLES = 10  # as karma/roles/rewards.py allows


@dataclass(frozen=True)
class RoleChange:
    """The roles of `managed` that a person should hold, as of their karma's `version`.

    The whole desired state, not a step: the reply side keeps the newest per (server, person) and
    makes only the difference with what it applied, so crossings that piled up (or a task delivered
    twice) cost one change. `channel_id` is where the karma changed: where moderators are told when
    Popple may not manage a role; `message_id` the message that changed it (for the logs).
    """

    guild_id: int
    channel_id: int
    message_id: int
    user_id: int
    # The karma name that earns them (the person's username) and its version (karma/models.py,
    # Karma.version): of two states of one name, the higher version is the newer.
    subject: str
    version: int
    wanted: list  # role ids
    managed: list  # role ids: every role the server's rewards give

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        values = check_fields(cls, payload)
        for name in ("wanted", "managed"):
            roles = values[name]
            if not (isinstance(roles, list) and len(roles) <= MAX_ROLES and all(_is_id(role) for role in roles)):
                raise ValueError(f"payload field {name} must be a list of at most {MAX_ROLES} role ids")
        if not set(values["wanted"]) <= set(values["managed"]):
            raise ValueError("payload field wanted must be among managed")
        if not all(_is_id(values[name]) for name in ("guild_id", "user_id")):
            raise ValueError("payload has an id that is not a valid id")
        return cls(**values)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _are_ids(value: list) -> bool:
    return len(value) <= 2 and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in value)


def _is_time(value: Any, unknown: bool = False) -> bool:
    """Whether `value` is a time in seconds since the epoch (or 0, when `unknown` may be said)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value > 0 or (unknown and value == 0)


def _is_name(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) in (2, 3)
        and isinstance(value[0], str)
        and len(value[0]) <= MAX_SERVER_NAME
        and (value[1] is None or (isinstance(value[1], str) and len(value[1]) <= MAX_ICON_HASH))
        and (len(value) == 2 or (isinstance(value[2], str) and len(value[2]) <= MAX_LOCALE))
    )


def _is_line(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and 0 < len(value[0]) <= MESSAGE_LIMIT
        and (value[1] is None or isinstance(value[1], str))
        and isinstance(value[2], int)
        and not isinstance(value[2], bool)
    )


def task_label(payload: Any) -> str:
    """What Flower and the workers' logs show of a task's payload: which message and channel, not
    the chat message (its contents, its author) nor the reply's text. Publishers hand it to Celery
    as `argsrepr`, which then skips its own repr of the payload (a tenth of a karma worker's CPU
    and a fifth of the gateway's: bench/costs.py --profile)."""
    if isinstance(payload, list):  # several chat messages or replies in one task
        return f"{len(payload)} of them, first: {task_label(payload[0])}" if payload else "(none)"
    if not isinstance(payload, dict):
        return "(hidden)"
    ids = {key: payload.get(key) for key in ("message_id", "interaction_id", "channel_id")}
    label = [f"{key}={value}" for key, value in ids.items() if isinstance(value, int)]
    if isinstance(payload.get("guild_ids"), list):  # a server event (ServerEvent)
        label.append(f"servers={len(payload['guild_ids'])}")
    if isinstance(payload.get("deleted"), list):  # deleted messages (Deletion)
        label.append(f"deleted={len(payload['deleted'])}")
    if payload.get("edited"):
        label.append("edited")
    if isinstance(payload.get("stamp"), int) and isinstance(payload.get("kind"), str):  # ReactionEvent
        label.append(f"reaction {payload['kind'][:8]}")
    return " ".join(label) or "(hidden)"
