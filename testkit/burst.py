"""The burst: many people say `hot++` in one channel within a second; other servers talk right after.

It is how a busy Discord community meets Discord's limits (5 messages per 5 s per channel): the
tests check what users see (tests/test_discord_limits.py, tests/test_runbot.py), and
bench/burst.py measures it. Run it against a fake Discord that enforces Discord's limits.
"""

import statistics
import time
from dataclasses import dataclass


@dataclass
class Figures:
    cold_latencies: list  # seconds from each other server's message to its reply
    busy_seconds: float  # from the first `hot++` until the busy channel said the final count
    busy_messages: int  # messages posted in the busy channel
    requests: int  # REST requests Popple made during the scenario
    too_many: int  # of which answered 429

    def summary(self) -> dict:
        cold = sorted(self.cold_latencies)
        return {
            "cold p50 s": round(statistics.median(cold), 3),
            "cold p99 s": round(cold[min(len(cold) - 1, int(0.99 * len(cold)))], 3),
            "cold max s": round(cold[-1], 3),
            "busy channel fully reported after s": round(self.busy_seconds, 2),
            "messages in the busy channel": self.busy_messages,
            "Discord requests": self.requests,
            "429 answers": self.too_many,
        }


class Burst:
    def __init__(self, fake, name="burst", size=60, cold=10, cold_servers=3):
        self.fake = fake
        self.size = size
        self.people = [fake.add_user(f"{name}-person{n}") for n in range(size)]
        self.hot = fake.add_guild(f"{name}-hot")
        self.others = [fake.add_guild(f"{name}-cold{n}") for n in range(cold_servers)]
        for guild in (self.hot, *self.others):
            for person in self.people:
                fake.add_member(guild, person)
        self.cold_count = cold
        self.expected = f"hot has {size} karma."

    def send(self, gap=0.2):
        """The burst within about a second, then, after `gap`, one message each in other servers."""
        fake = self.fake
        self.requests_before = len(fake.rest_log)
        self.too_many_before = fake.too_many_requests()
        self.burst = []
        for person in self.people:
            self.burst.append(fake.send(self.hot, person, "hot++"))
            time.sleep(0.9 / self.size)
        time.sleep(gap)
        self.cold = [
            fake.send(self.others[n % len(self.others)], self.people[n], f"cold{n}++") for n in range(self.cold_count)
        ]
        return self

    def _reply_to(self, message_id):
        return next((m for m in self.fake.messages if m.nonce and m.nonce.startswith(f"{message_id}.")), None)

    def busy_channel(self):
        channel = self.hot.channel_ids[0]
        return [m for m in self.fake.messages if m.channel_id == channel]

    def done(self):
        said = self.busy_channel()
        return all(self._reply_to(m) for m in self.cold) and any(self.expected in m.content for m in said)

    def wait(self, timeout=60):
        return self.fake.wait_until(self.done, timeout=timeout)

    def figures(self):
        fake, said = self.fake, self.busy_channel()
        reported = next(m.at for m in said if self.expected in m.content)
        return Figures(
            cold_latencies=[self._reply_to(m).at - fake.sent_at[m] for m in self.cold],
            busy_seconds=reported - fake.sent_at[self.burst[0]],
            busy_messages=len(said),
            requests=len(fake.rest_log) - self.requests_before,
            too_many=fake.too_many_requests() - self.too_many_before,
        )
