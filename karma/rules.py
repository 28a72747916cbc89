"""The rules that keep a server's karma fair, applied to one message's changes.

Each is a server setting (karma/models.py, GuildSettings). With the defaults only self-karma is
refused; everything else behaves as Popple always has.

- Ignored names never count (compared without case), silently: they are words, not karma.
- Self-karma: `++` to one of your own names (username, display name, nickname) is refused;
  `--` to yourself is allowed.
- Max change: a message gives or takes at most that much karma per name.
- Cooldown: after changing a name, the same person cannot change it again for that long.
- Budget: one person makes at most that many changes an hour, all names together.

The first three need only the message (`screen`); the last two need the person's recent changes
from the ledger (`limit`, given those facts by karma/ledger/writes.py).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from karma.message import IncomingMessage
from karma.names import folded

HOUR = 3600  # seconds: the budget's window

Changes = Sequence[tuple[str, int]]  # (subject, delta)


@dataclass(frozen=True)
class Rules:
    allow_self_karma: bool = False
    cooldown: int = 0  # seconds; 0 is off
    budget: int = 0  # changes per hour; 0 is off
    max_change: int = 0  # per name per message; 0 is off
    ignored: frozenset[str] = frozenset()  # names as they compare without case (karma/names.py)

    @classmethod
    def of(cls, allow_self_karma: bool, cooldown: int, budget: int, max_change: int, ignored: Sequence[str]) -> "Rules":
        return cls(bool(allow_self_karma), cooldown, budget, max_change, frozenset(folded(n) for n in ignored))

    @property
    def counts_givers(self) -> bool:
        """Whether applying a message needs the person's recent changes."""
        return bool(self.cooldown or self.budget)


@dataclass(frozen=True)
class Refusal:
    """Why (part of) a change did not count."""

    rule: str  # SELF, MAX_CHANGE, COOLDOWN or BUDGET
    subject: str
    wait: float = 0.0  # seconds until the person may try again (cooldown, budget)
    limit: int = 0  # the setting's value


SELF, MAX_CHANGE, COOLDOWN, BUDGET = "self-karma", "max change", "cooldown", "budget"


def yourself(message: IncomingMessage) -> set[str]:
    """The names the author goes by, as they compare without case (a mention resolves to the username)."""
    names = (message.author_name, message.author_global_name, message.author_nick)
    return {folded(name) for name in names if name}


def screen(changes: Changes, message: IncomingMessage, rules: Rules) -> tuple[Changes, list[Refusal]]:
    """The changes the rules that need only the message let through, and the refusals."""
    kept, refusals = [], []
    mine = yourself(message)
    for subject, delta in changes:
        name = folded(subject)
        if name in rules.ignored:
            continue
        if delta > 0 and not rules.allow_self_karma and name in mine:
            refusals.append(Refusal(SELF, subject))
            continue
        if rules.max_change and abs(delta) > rules.max_change:
            refusals.append(Refusal(MAX_CHANGE, subject, limit=rules.max_change))
            delta = rules.max_change if delta > 0 else -rules.max_change
        kept.append((subject, delta))
    return kept, refusals


def limit(
    changes: Changes, since_last: dict[str, float], used: int, age_of: Callable[[int], float], rules: Rules
) -> tuple[Changes, list[Refusal]]:
    """The changes the cooldown and the budget let through, and the refusals.

    `since_last`: seconds since the person last changed each subject (those changed within the
    cooldown). `used`: how many changes they made in the last hour. `age_of(k)`: seconds since
    their k-th oldest change of the hour, asked only to say when a refused person may try again.
    """
    kept, refusals = [], []
    for subject, delta in changes:
        age = since_last.get(subject)
        if rules.cooldown and age is not None and age < rules.cooldown:
            refusals.append(Refusal(COOLDOWN, subject, wait=rules.cooldown - age, limit=rules.cooldown))
        else:
            kept.append((subject, delta))
    if rules.budget and used + len(kept) > rules.budget:
        left = max(rules.budget - used, 0)
        # One more change fits once enough of the hour's changes (this message's too, made now)
        # are an hour old: the (total - budget)-th oldest.
        oldest = used + left - rules.budget
        wait = max(HOUR - age_of(oldest), 0.0) if oldest < used else float(HOUR)
        refusals += [Refusal(BUDGET, subject, wait=wait, limit=rules.budget) for subject, _ in kept[left:]]
        kept = kept[:left]
    return kept, refusals
