"""Applies role rewards: gives and takes back members' roles, through the shared budget.

A karma worker hands over the whole set of roles a person should hold now (karma/message.py,
RoleChange); here they become `PUT`/`DELETE /guilds/{guild}/members/{user}/roles/{role}`, each
granted by the budget every reply process shares (botgateway/ratelimits.py), as a reply's post is.

Coalesced per person: the newest desired state of each (server, person) is kept (by the karma
subject's version: the newer wins, whatever order tasks arrive in), beside what was applied, and
only the difference is requested. So ten crossings that piled up while the budget was spent cost
one change; a task delivered twice, or an older one arriving late, costs none. Kept in Django's
cache when it is Redis (REDIS_URL: shared by every reply worker), else in this process's memory
(runbot), not in Django's memory cache, which forgets entries beyond 300 and would tell moderators
again. A person's state is changed by one process at a time (a claim in the same store); another
task for them tries again a moment later, and by then usually finds nothing left to do.

When Discord refuses (403: Popple lacks Manage Roles, or the role is not below Popple's highest
role; Discord answers 50013 for both), the moderators are told once, in the channel where the
karma changed, and not again until a change of that role has succeeded. What Redis forgets costs
at most one request per role again (Discord's PUT and DELETE are idempotent), or a notice said twice.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext_lazy

from botgateway.delivery import BACKOFF_SECONDS, TOKEN_REFUSED_PAUSE, courier
from botgateway.discordapi import redis_prefix
from botgateway.inline_retries import InlineRetries
from botgateway.ratelimits import Limits, Route
from botgateway.rest import DiscordRest, Unreachable
from botgateway.snowflakes import notice_id
from karma.ledger import reads
from karma.message import Line, Reply, RoleChange
from monitoring import metrics

logger = logging.getLogger(__name__)

# Discord's bucket for these routes is per server (its major parameter).
ROUTE = "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"
# How long one process may hold a person's state; every step of it is a request that times out
# well before (botgateway/rest.py). Another task for the person looks again after CLAIMED_WAIT.
CLAIM_SECONDS = 30
CLAIMED_WAIT = 1.0
KEEP_SECONDS = 90 * 24 * 3600  # what was applied to a person, remembered this long
MISSING_PERMISSIONS = 50013
# Said in the server's language, read when it is said (rarely: once per role).
NOTICE = gettext_lazy(
    "I could not give or take back the role {role}: I need the Manage Roles permission, and my highest role "
    "must be above it (Server Settings → Roles). I will say this once; role rewards for it wait until then."
)


class MemoryStore:
    """What this needs of a cache, in this process's memory, kept until the process ends (its
    claims are always given back: one process). A person's few entries: bounded by the members."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        with self._lock:
            if key in self._values:
                return False
            self._values[key] = value
            return True

    def get(self, key: str) -> Any:
        with self._lock:
            return self._values.get(key)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            self._values[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


_memory = MemoryStore()


def store() -> Any:
    """Where role states live: Redis through Django's cache when configured, else this process."""
    return cache if settings.REDIS_URL else _memory


def _key(change: RoleChange, what: str) -> str:
    return f"{redis_prefix()}roles:{change.guild_id}:{change.user_id}:{what}"


def _told_key(guild_id: int, role_id: int) -> str:
    return f"{redis_prefix()}roles-told:{guild_id}:{role_id}"


class RoleApplier:
    """Applies RoleChanges with `rest`, as far as `limits` allow; `say` posts a notice (a Reply)."""

    def __init__(self, limits: Limits, rest: DiscordRest, say: Callable[[Reply], None], states: Any = None) -> None:
        self.limits = limits
        self.rest = rest
        self.say = say
        self.states = states if states is not None else store()

    def apply(self, change: RoleChange, attempt: int = 0) -> float | None:
        """Bring the person's roles to the newest state known for them. None when done (or nothing
        more can be done); else the seconds to wait before trying again."""
        claim = _key(change, "claim")
        if not self.states.add(claim, True, CLAIM_SECONDS):
            return CLAIMED_WAIT  # another process is changing this person's roles
        try:
            return self._apply(change, attempt)
        finally:
            self.states.delete(claim)

    def _apply(self, change: RoleChange, attempt: int) -> float | None:
        desired = self.states.get(_key(change, "desired"))
        # Versions order the states of one name; a person renamed since has a new name whose
        # versions start again: the new name's state replaces the old one's.
        if desired is None or desired["subject"] != change.subject or change.version > desired["version"]:
            desired = change.to_payload()
            self.states.set(_key(change, "desired"), desired, KEEP_SECONDS)
        target = RoleChange.from_payload(desired)
        applied = self.states.get(_key(change, "applied")) or {"subject": "", "version": -1, "roles": {}}
        if applied.get("subject") == target.subject and applied["version"] >= target.version:
            return None  # applied already (a redelivered task, or one a newer change overtook)
        held: dict[str, bool] = applied["roles"]  # role id -> held, as far as Popple knows
        # The roles earned first, then those taken back: a person going up keeps a role throughout.
        steps = [(role, True) for role in target.wanted]
        steps += [(role, False) for role in target.managed if role not in target.wanted]
        # What is applied, until every step is settled.
        done = {"subject": applied.get("subject", ""), "version": applied["version"]}
        try:
            for role, give in steps:
                if held.get(str(role)) == give:
                    continue
                wait = self._request(target, role, give, held, attempt)
                if wait:
                    return wait
            done = {"subject": target.subject, "version": target.version}
        finally:
            # What was done so far is not done again, whether or not the rest waits.
            self.states.set(_key(change, "applied"), {**done, "roles": held}, KEEP_SECONDS)
        return None

    def _request(self, change: RoleChange, role: int, give: bool, held: dict[str, bool], attempt: int) -> float:
        """One request: 0 when it is settled (made, or refused for good); else the seconds to wait."""
        route = Route(ROUTE, change.guild_id)
        grant = self.limits.acquire(route, answer=False, server=change.guild_id)
        if grant.wait:
            return grant.wait
        try:
            answer = self.rest.member_role("PUT" if give else "DELETE", change.guild_id, change.user_id, role)
        except Unreachable as exc:
            metrics.DISCORD_REQUESTS.labels("role", "unreachable").inc()
            if attempt == 0:
                logger.warning("roles: Discord unreachable (%s); trying again with backoff", exc)
            return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
        metrics.DISCORD_REQUESTS.labels("role", str(answer.status)).inc()
        wait = self.limits.learn(route, answer)
        if answer.ok:
            held[str(role)] = give
            self.states.delete(_told_key(change.guild_id, role))  # a later refusal is news again
            return 0
        if answer.status == 429:
            return wait
        if answer.status == 401:
            logger.error("Discord refused DISCORD_TOKEN (401); no request for %d s", TOKEN_REFUSED_PAUSE)
            self.limits.pause(TOKEN_REFUSED_PAUSE)
            return TOKEN_REFUSED_PAUSE
        if answer.status >= 500:
            return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
        # Refused for good. What the member holds stays unknown: their next change tries again.
        held.pop(str(role), None)
        code = answer.body.get("code") if isinstance(answer.body, dict) else None
        if answer.status == 403:
            self._tell_once(change, role)
        else:  # 404: the member left, or the role was deleted
            logger.info("roles: role %s of member %s in server %s: Discord answered %s (%s)", role,
                        change.user_id, change.guild_id, answer.status, code)  # fmt: skip
        return 0

    def _tell_once(self, change: RoleChange, role: int) -> None:
        if not self.states.add(_told_key(change.guild_id, role), True, None):
            return  # told already, and nothing succeeded with this role since
        logger.warning("roles: server %s does not let Popple manage role %s", change.guild_id, role)
        with translation.override(reads.language_of(change.guild_id)):
            text = notice_text(role)
        self.say(Reply(change.channel_id, notice_id(time.time(), role), (Line(text),), guild_id=change.guild_id))


def notice_text(role: int) -> str:
    """What moderators are told of a role Popple may not manage, in the active language."""
    return str(NOTICE).format(role=f"<@&{role}>")


def applier() -> RoleApplier:
    """This process's, on its courier's budget and REST client: one budget for replies and roles."""
    delivery = courier()
    return RoleApplier(delivery.limits, delivery.rest, delivery.deliver)


# runbot: the thread that applies karma must not wait for Discord.
hand_over = InlineRetries(
    "roles",
    1,
    lambda change, attempt: applier().apply(change, attempt),
    lambda change: f"the roles of member {change.user_id}",
).hand_over
