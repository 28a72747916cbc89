"""The message a gateway hands to the workers: everything needed to answer it, nothing more."""

from dataclasses import asdict, dataclass, fields
from typing import Any, Self


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

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Any) -> Self:
        """Build from a task payload; ValueError names the first field that is missing or wrong."""
        if not isinstance(payload, dict):
            raise ValueError(f"payload must be an object, not {type(payload).__name__}")
        values = {}
        for field in fields(cls):
            if field.name not in payload:
                raise ValueError(f"payload has no {field.name}")
            value = payload[field.name]
            expected = field.type
            # bool is an int in Python; an id must not be True.
            if (expected is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0)) or (
                expected is not int and not isinstance(value, expected)
            ):
                raise ValueError(f"payload field {field.name} is not a valid {expected.__name__}")
            values[field.name] = value
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in values["mentions"].items()):
            raise ValueError("payload field mentions must map user ids to names")
        return cls(**values)
