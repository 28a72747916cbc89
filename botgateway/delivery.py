"""Delivers replies to Discord without ever waiting on Discord's clock.

`Courier.deliver` holds a reply in its channel's mailbox and posts what the channel holds as far as
the shared budget allows right now; what cannot go out yet stays held, and the channel is due
again when its bucket refills. A poller thread in every delivering process claims due channels
and posts for them. So a reply task takes milliseconds whatever Discord's limits say, a busy
channel never slows the others, and replies that pile up in a channel go out merged
(botgateway/coalesce.py).

What a channel is told of a subject never goes back in the subject's order of versions, however
replies are reordered on their way (two karma workers, two reply workers, redeliveries): a line
about a subject the channel was told of in a newer version is left out, and a line about a subject
it has no memory of (Redis restarted empty, or a quiet channel) says the subject's karma as the
database has it now. So losing Redis costs at most a value said twice, never an older one.

An announcement is worth little once it is stale: one that waited longer than ANNOUNCE_MAX_DELAY
for Discord's budget (a saturated global limit, an outage) goes out only merged into a post that
carries something fresh, or is dropped, and counted either way. Answers to commands always go out.
"""

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from botgateway.coalesce import REACTION, TEXT, kind_of, next_post
from botgateway.discordapi import redis_prefix, require_token
from botgateway.known_versions import KnownVersions
from botgateway.mailbox import LEASE_SECONDS, MEMORY_SINCE, Held, Intent, Mailbox, mailbox_for, remaining
from botgateway.ratelimits import Limits, Route, limits_for
from botgateway.rest import DiscordRest, Unreachable
from karma.message import Line, Reply
from karma.router import current_lines, current_versions
from monitoring import metrics

logger = logging.getLogger(__name__)

ROUTES = {
    TEXT: "POST /channels/{channel_id}/messages",
    REACTION: "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
}
POLL_SECONDS = 0.05  # how often a poller looks for due channels while some are due or busy
# Idle, a poller sleeps until the next channel is due, this long at most: a process that died
# holding a channel's lease is taken over that much later. (Polling 20 times a second whatever
# the traffic cost each reply process a Redis script per 50 ms: bench/README.md.)
IDLE_POLL_SECONDS = 1.0
BACKOFF_SECONDS = (1, 2, 5, 10, 30)  # between attempts at a post Discord did not answer properly
TOKEN_REFUSED_PAUSE = 60  # a refused token: every request counts towards Discord's ban of the IP
HANDOVER_LIMIT = 1000  # replies handed over (runbot) that may wait for a posting thread
DATABASE_PAUSE = 5  # a line that must be checked against the database waits this long for it
# How far apart the clocks of the karma workers (a reply's made_at) and Redis (a channel memory's
# start) may be for delivery to trust that memory (_checked_against); NTP keeps them within ms.
CLOCKS_APART_MS = 5000


def announces(entry: Held) -> bool:
    """Whether a held reply announces karma (it has a line about a subject), rather than answers a
    command or says why not: answers go first when the global budget runs short (ratelimits.py,
    reserve)."""
    return any(line.subject is not None for _, line in entry.lines)


class _LeaseLost(Exception):
    """The channel's lease ran out while this process held it: someone else carries on."""


_T = TypeVar("_T")


class Courier:
    def __init__(
        self,
        mailbox: Mailbox,
        limits: Limits,
        rest: DiscordRest,
        threads: int = 4,
        current: Callable[[int, Iterable[str]], dict[str, Line]] = current_lines,
        max_delay: float = 60.0,
        versions: Callable[[int, Iterable[str]], dict[str, int]] = current_versions,
    ) -> None:
        self.mailbox = mailbox
        self.max_delay = max_delay  # seconds an announcement may wait to be posted on its own
        self.limits = limits
        self.rest = rest
        self.current = current  # (server id, subjects) -> {subject: the Line that says it now}
        self.versions = versions  # (server id, subjects) -> {subject: its version now}
        self.known = KnownVersions()
        self._database_down = False
        self._poller: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a channel of this process's is due sooner than the poller thought
        # The poller claims only as many due channels as it has threads free to post for them.
        self._threads = threads
        self._free = threading.Semaphore(threads)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="courier")
        self._handover_slots = threading.Semaphore(HANDOVER_LIMIT)

    def deliver(self, reply: Reply) -> None:
        """Hold `reply` and post what its channel holds, as far as the budget allows now.

        When someone else is posting for the channel, they go on with this reply too.
        """
        if not reply:
            return  # nothing to say
        self.start()  # held replies need a poller in this process (a no-op once started)
        token, held, said = self.mailbox.add(reply)
        if token is None and not held:  # an announcement the full mailbox refused
            metrics.ANNOUNCEMENTS_LATE.labels("dropped").inc(len(reply.lines))
            return
        if token is None or held:
            metrics.REPLIES_HELD.inc()
        if token is None:
            return  # someone else is posting for the channel; they post this reply too
        channel_id = reply.channel_id
        if not held:
            told: dict[str, int] = {}
            try:
                wait = self._post_directly(reply, token, said, told)
            except _LeaseLost:
                return
            if wait:
                self.mailbox.give_back(channel_id, token, wait, told)
                self._wake.set()
                return
            if not self.mailbox.finish(channel_id, token, told):
                return  # the usual case: one reply, posted, nothing else held meanwhile
        self._post_held(channel_id, token)

    def hand_over(self, reply: Reply) -> None:
        """Deliver `reply` from this process's posting threads; returns at once.

        For one process that does everything (runbot): the thread that applies karma must not wait
        for Discord. At most HANDOVER_LIMIT replies wait for a thread; beyond, this waits too (the
        gateway's outbox keeps what arrives meanwhile).
        """
        self.start()
        self._handover_slots.acquire()
        self._pool.submit(self._deliver_handed_over, reply)

    def _deliver_handed_over(self, reply: Reply) -> None:
        try:
            self.deliver(reply)
        except Exception:
            logger.exception("replies: posting the reply to message %s failed", reply.message_id)
        finally:
            self._handover_slots.release()

    def flush(self, channel_id: int) -> None:
        """Post what the channel holds, unless someone else is posting for it already."""
        token = self.mailbox.lease(channel_id)
        if token is not None:
            self._post_held(channel_id, token)

    def _post_held(self, channel_id: int, token: str) -> None:
        """With the channel's lease: post until it holds nothing or the budget is spent."""
        # The lease runs out after LEASE_SECONDS (each step renews it, and a request times out
        # well before): a long run of posts hands over to a poller all the same.
        hand_over_at = time.monotonic() + LEASE_SECONDS / 3
        due_in = None
        ours = True  # the lease, to give back
        try:
            while True:
                wait = self._post_next(channel_id, token)
                if wait is None:
                    if self.mailbox.finish(channel_id, token):
                        continue  # more arrived meanwhile
                    ours = False  # given back, with nothing left
                    return
                if wait == 0 and time.monotonic() > hand_over_at:
                    wait = 0.001  # due again at once: a poller carries on
                if wait:
                    due_in = wait
                    return
        except _LeaseLost:
            ours = False
        finally:
            if ours:
                self.mailbox.give_back(channel_id, token, due_in)
                self._wake.set()

    def _post_directly(self, reply: Reply, token: str, said: dict[str, int], told: dict[str, int]) -> float:
        """The channel held nothing: make the reply's first request without writing it down first.

        Should this process die meanwhile, the broker delivers the reply task again, which is
        enough: the same request is made, with the same nonce. What is left of the reply (all of it
        when Discord did not take it) is held as usual. `said` is what the channel was told of the
        reply's subjects; `told` gets what this post tells it. Returns the seconds to wait, or 0.
        """
        checked = self._checked_against([Held.of(reply)], said)
        if checked is None:  # the database cannot say whether the reply is stale: it waits for it
            self._checked(self.mailbox.hold(reply.channel_id, token, Held.of(reply)))
            return DATABASE_PAUSE
        fresh, _ = checked
        if not fresh:
            metrics.REPLIES_COALESCED.inc()  # the channel was told as much or more already
            return 0
        entry = fresh[0]
        kind = TEXT if entry.lines else REACTION  # a fresh entry has lines or a reaction
        route = Route(ROUTES[kind], reply.channel_id)
        grant = self.limits.acquire(route, answer=not announces(entry), server=reply.guild_id)
        intent: Intent = {**next_post([entry], grant.spare), "attempts": 0}
        left: Held | None = entry

        def posted() -> None:
            nonlocal left
            left = remaining([entry], intent)[entry.message_id]

        wait = grant.wait or self._make(reply.channel_id, token, kind, route, intent, posted)
        if left is not entry:
            told.update(intent.get("said", {}))
        if left is not None:
            metrics.REPLIES_HELD.inc()
            self._checked(self.mailbox.hold(reply.channel_id, token, left))
        return wait

    def _post_next(self, channel_id: int, token: str) -> float | None:
        """Make the channel's next request. None: nothing held; 0: go on; else seconds to wait."""
        state = self._checked(self.mailbox.state(channel_id, token))
        intent = state.intent
        held = state.held
        late: dict[int, list[int]] = {}
        if intent is None:
            checked = self._checked_against(state.held, state.said)
            if checked is None:
                return DATABASE_PAUSE
            held, outdated = checked
            if outdated:
                dropped: Intent = {"covers": outdated, "reaction_of": None}
                self._checked(self.mailbox.commit(channel_id, token, dropped, state))
                # Replies left out whole: the channel was told as much already.
                kept = {entry.message_id for entry in held}
                metrics.REPLIES_COALESCED.inc(sum(1 for entry in state.held if entry.message_id not in kept))
                return 0
            late = self._late(held)
            if late and not self._fresh_besides(held, late):  # nothing fresh to merge them into
                dropped = {"covers": {str(message_id): indices for message_id, indices in late.items()},
                           "reaction_of": None}  # fmt: skip
                self._checked(self.mailbox.commit(channel_id, token, dropped, state))
                metrics.ANNOUNCEMENTS_LATE.labels("dropped").inc(sum(map(len, late.values())))
                return 0
            kind = kind_of(held)
            if kind is None:
                return None
        else:
            kind = intent["kind"]
            if kind == TEXT and not intent.get("answer") and self._all_late(held, intent):
                # A post that failed until all it says is stale: given up, as if it had been made
                # (what it would have said is not remembered as said).
                given_up: Intent = {"covers": intent["covers"], "reaction_of": None}
                self._checked(self.mailbox.commit(channel_id, token, given_up, state))
                metrics.ANNOUNCEMENTS_LATE.labels("dropped").inc(sum(map(len, intent["covers"].values())))
                return 0
            if intent.get("not_before", 0) > time.time():  # backing off after errors
                return intent["not_before"] - time.time()
        route = Route(ROUTES[kind], channel_id)
        # A channel that holds an answer goes as one (its next post carries it, or soon will).
        answer = intent.get("answer", False) if intent else not all(map(announces, held))
        server = next((entry.guild_id for entry in state.held if entry.guild_id), 0)  # whose share it is
        grant = self.limits.acquire(route, answer=answer, server=server)
        if grant.wait:
            return grant.wait
        if intent is None:
            # Written down before it is made: whoever takes over after a crash makes the same post
            # (same content, same nonce), which Discord then recognises.
            # Late lines go out merged with the fresh ones, in the same post or not at all.
            intent = {**next_post(held, 0 if late else grant.spare), "attempts": 0}
            intent["answer"] = answer
            covered = {(int(message_id), index) for message_id, indices in intent["covers"].items()
                       for index in indices}  # fmt: skip
            merged = sum(1 for message_id, indices in late.items() for index in indices
                         if (message_id, index) in covered)  # fmt: skip
            if merged:
                metrics.ANNOUNCEMENTS_LATE.labels("merged").inc(merged)
            self._checked(self.mailbox.set_intent(channel_id, token, intent))
        return self._make(
            channel_id,
            token,
            kind,
            route,
            intent,
            lambda: self._checked(self.mailbox.commit(channel_id, token, intent, state)),
        )

    def _late(self, held: list[Held]) -> dict[int, list[int]]:
        """The announcement lines that waited longer than max_delay: {message id: [indices]}."""
        oldest = time.time() - self.max_delay
        return {
            entry.message_id: [index for index, line in entry.lines if line.subject is not None]
            for entry in held
            if entry.since and entry.since < oldest and any(line.subject is not None for _, line in entry.lines)
        }

    def _all_late(self, held: list[Held], intent: Intent) -> bool:
        """Whether every line `intent` covers is a late announcement."""
        late = self._late(held)
        return all(
            set(indices) <= set(late.get(int(message_id), ())) for message_id, indices in intent["covers"].items()
        )

    @staticmethod
    def _fresh_besides(held: list[Held], late: dict[int, list[int]]) -> bool:
        """Whether a line besides the late ones is held (a fresh one, or an answer) to post them with."""
        return any(index not in late.get(entry.message_id, ()) for entry in held for index, _ in entry.lines)

    def _make(
        self, channel_id: int, token: str, kind: str, route: Route, intent: Intent, posted: Callable[[], object]
    ) -> float:
        """Make the request `intent` describes; `posted()` notes that it need not be made again.

        Returns 0 to go on, or the seconds to wait before the channel's next request.
        """
        try:
            if kind == TEXT:
                answer = self.rest.create_message(channel_id, intent["content"], intent["nonce"])
            else:
                answer = self.rest.add_reaction(channel_id, intent["message_id"], intent["emoji"])
        except Unreachable as exc:
            metrics.DISCORD_REQUESTS.labels(kind, "unreachable").inc()
            return self._later(channel_id, token, intent, f"Discord unreachable ({exc})")
        metrics.DISCORD_REQUESTS.labels(kind, str(answer.status)).inc()
        wait = self.limits.learn(route, answer)
        if answer.ok:
            if len(intent["covers"]) > 1:  # one message for several replies
                metrics.REPLIES_COALESCED.inc(len(intent["covers"]) - 1)
            posted()
            return 0
        if answer.status == 429:
            metrics.DISCORD_RATE_LIMITED.labels(answer.headers.get("X-RateLimit-Scope") or "unknown").inc()
            return wait
        if answer.status == 401:
            logger.error("Discord refused DISCORD_TOKEN (401); no request for %d s", TOKEN_REFUSED_PAUSE)
            self.limits.pause(TOKEN_REFUSED_PAUSE)
            return TOKEN_REFUSED_PAUSE
        if answer.status >= 500:
            return self._later(channel_id, token, intent, f"Discord answered {answer.status}")
        # 403/404 and friends: the channel is gone or closed to us; trying again cannot help.
        what = "reply to" if kind == TEXT else "reaction to"
        logger.warning(
            "%s message %s in channel %s dropped: Discord answered %s",
            what,
            intent["message_id"],
            channel_id,
            answer.status,
        )
        posted()
        return 0

    def _checked_against(
        self, held: list[Held], said: dict[str, int]
    ) -> tuple[list[Held], dict[str, list[int]]] | None:
        """The held replies as the channel may be told them now, and the lines to leave out.

        `said` is the version of each subject the channel was told last. A line about an older or
        the same version is left out; a line about a subject the channel has no memory of says the
        subject's karma as it is now, if that is newer (unless the memory began before the line's
        changes were made: then nothing newer was said). The database has the last word: a memory
        that is ahead of it is not of this database (a fresh one) and is not believed (unless this
        process saw the database reach it lately: botgateway/known_versions.py). Returns (replies,
        {message id: [indices left out]}), or None when the database cannot be asked.
        """
        asked: defaultdict[int, set[str]] = defaultdict(set)
        since = said.get(MEMORY_SINCE)  # the channel's memory notes every post since then (ms)
        for entry in held:
            # Made after the memory began (with room for clocks that differ): a subject it has no
            # memory of was never said in a newer version than the line's.
            remembered = since is not None and entry.made * 1000 - CLOCKS_APART_MS >= since
            for _, line in entry.lines:
                subject = line.subject
                if not entry.guild_id or subject is None:
                    continue
                self.known.saw(entry.guild_id, subject, line.version)  # its karma task read it so
                # Not in the channel's memory (and perhaps forgotten), or the memory says it is
                # stale: the database decides.
                if (subject not in said and not remembered) or (
                    subject in said
                    and said[subject] >= line.version
                    and not self.known.reached(entry.guild_id, subject, said[subject])
                ):
                    asked[entry.guild_id].add(subject)
        try:
            versions = {guild_id: self._versions(guild_id, subjects) for guild_id, subjects in asked.items()}
        except DatabaseError as exc:
            self._database_is_down(exc)
            return None
        kept: list[tuple[Held, list[tuple[int, Line]]]] = []
        left_out: dict[str, list[int]] = {}
        behind: defaultdict[int, set[str]] = defaultdict(set)  # kept lines the database is ahead of
        for entry in held:
            lines, latest = [], versions.get(entry.guild_id, {})
            for index, line in entry.lines:
                told = said.get(line.subject) if line.subject is not None else None
                known = latest.get(line.subject) if line.subject is not None else None
                if told is not None and told >= line.version and (known is None or known >= told):
                    left_out.setdefault(str(entry.message_id), []).append(index)
                    continue
                if known is not None and line.subject is not None and known > line.version:
                    behind[entry.guild_id].add(line.subject)
                lines.append((index, line))
            kept.append((entry, lines))
        try:  # what the database says now of those, in a second look-up (needed only then)
            now = {guild_id: self.current(guild_id, subjects) for guild_id, subjects in behind.items()}
        except DatabaseError as exc:
            self._database_is_down(exc)
            return None
        if self._database_down and asked:
            logger.info("replies: the database is reachable again")
            self._database_down = False
        fresh = [
            replace(
                entry, lines=tuple((index, self._newest(now.get(entry.guild_id, {}), line)) for index, line in lines)
            )
            for entry, lines in kept
            if lines or entry.reaction
        ]
        return fresh, left_out

    @staticmethod
    def _newest(now: dict[str, Line], line: Line) -> Line:
        newer = now.get(line.subject) if line.subject is not None else None
        return newer if newer is not None and newer.version > line.version else line

    def _database_is_down(self, exc: DatabaseError) -> None:
        close_old_connections()  # a broken connection is not used again
        if not self._database_down:
            logger.warning("replies: the database is unreachable (%s); announcements wait for it", exc)
            self._database_down = True

    def _versions(self, guild_id: int, subjects: set[str]) -> dict[str, int]:
        """The database's version of each subject (merged and unknown ones left out), noted as seen."""
        versions = self.versions(guild_id, subjects)
        for subject, version in versions.items():
            self.known.saw(guild_id, subject, version)
        return versions

    @staticmethod
    def _checked(result: _T | None) -> _T:
        if result is None or result is False:
            raise _LeaseLost
        return result

    def _later(self, channel_id: int, token: str, intent: Intent, problem: str) -> float:
        """Try the same post again after a backoff, which replies arriving meanwhile respect."""
        attempts = intent["attempts"]
        wait = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS) - 1)]
        if attempts == 0:
            logger.warning("channel %s: %s; trying again with backoff", channel_id, problem)
        later: Intent = {**intent, "attempts": attempts + 1, "not_before": time.time() + wait}
        self._checked(self.mailbox.set_intent(channel_id, token, later))
        return wait

    # The poller --------------------------------------------------------------------------------

    def start(self) -> "Courier":
        """Start this process's poller, which posts for due channels (once per process)."""
        with self._start_lock:
            if self._poller is None and not self.stopped:
                self._poller = threading.Thread(target=self._poll, name="courier-poller", daemon=True)
                self._poller.start()
        return self

    def _poll(self) -> None:
        failing = False
        pause = POLL_SECONDS
        while not self._stopping.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            if self._stopping.is_set():
                break
            free = 0
            while self._free.acquire(blocking=False):
                free += 1
            pause = POLL_SECONDS  # busy, or someone's channel is due: look again soon
            try:
                channels, following = self.mailbox.claim_due_next(free) if free else ([], 0.0)
                if free and not channels:  # idle until the next channel is due
                    pause = min(max(following if following is not None else IDLE_POLL_SECONDS, POLL_SECONDS),
                                IDLE_POLL_SECONDS)  # fmt: skip
            except RedisError as exc:
                channels = []
                if not failing:
                    logger.warning("replies: Redis unreachable (%s); held replies wait for it", exc)
                    failing = True
                self._stopping.wait(1)
            except Exception:
                channels = []
                logger.exception("replies: looking for due channels failed")
            else:
                if failing:
                    logger.info("replies: Redis reachable again")
                    failing = False
            for channel_id in channels:
                self._pool.submit(self._flush_logged, channel_id)
            for _ in range(free - len(channels)):
                self._free.release()

    def _flush_logged(self, channel_id: int) -> None:
        try:
            self.flush(channel_id)
        except RedisError as exc:
            logger.warning("replies: channel %s waits for Redis (%s)", channel_id, exc)
        except Exception:
            logger.exception("replies: posting for channel %s failed", channel_id)
        finally:
            self._free.release()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(5)
        self._pool.shutdown(wait=True)
        self.rest.close()


_courier: Courier | None = None
_courier_key: tuple[object, ...] = ()  # what _courier was made for: this process and its settings
_lock = threading.Lock()


def courier() -> Courier:
    """This process's courier, for its settings (a forked worker process makes its own)."""
    global _courier, _courier_key
    key = (
        os.getpid(),
        settings.REDIS_URL,
        settings.DISCORD_API_BASE_URL,
        settings.DISCORD_TOKEN,
        settings.DISCORD_GLOBAL_RATE_LIMIT,
        settings.ANNOUNCE_MAX_DELAY,
        settings.REDIS_NAMESPACE,
    )
    with _lock:
        if _courier is None or _courier_key != key or _courier.stopped:
            prefix = redis_prefix()
            _courier = Courier(
                mailbox_for(settings.REDIS_URL, prefix),
                limits_for(settings.REDIS_URL, settings.DISCORD_GLOBAL_RATE_LIMIT, prefix),
                DiscordRest(settings.DISCORD_API_BASE_URL, require_token()),
                max_delay=settings.ANNOUNCE_MAX_DELAY,
            )
            _courier_key = key
        return _courier


def stop_courier() -> None:
    """Stop this process's courier, if it has one (a worker that never posted has none)."""
    with _lock:
        if _courier is not None and _courier_key[0] == os.getpid():
            _courier.stop()
