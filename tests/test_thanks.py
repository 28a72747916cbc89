"""Thanks give karma through the whole distributed path: the fake Discord's messages, mentions and
replies, the gateway's filter, two karma workers (one killed mid-stream) and a reply worker as the
Procfile starts them."""

import re
import signal

import pytest

from karma.models import Karma
from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
PEOPLE = 20


@pytest.fixture(scope="module")
def fake_discord():
    fake = FakeDiscord()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(stack_factory):
    stack = stack_factory()
    stack.deployed("karma1", "worker")
    stack.deployed("karma2", "worker")
    stack.deployed("replies", "replies")
    stack.connected_gateway()
    return stack


def test_thanks_count_once_each_and_other_chat_is_not_forwarded(stack, fake_discord):
    fake = fake_discord
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    people = [fake.add_user(f"grateful{n}") for n in range(PEOPLE)]
    guild = fake.add_guilds(("thankful",), alice, bob, *people)["thankful"]
    fake.add_member(guild, alice, manager=True)
    bot = int(fake.bot["id"])
    configured = fake.send(guild, alice, f"<@{bot}> config thanks on", mentions=[bot])
    assert fake.wait_until(lambda: fake.reactions_to(configured), timeout=30)

    def karma():
        row = Karma.objects.using("mariadb").filter(guild_id=guild.id, subject="bob").first()
        return row.karma if row else 0

    asked = fake.send(guild, alice, "can someone review my change?")
    answered = fake.send(guild, bob, "done, one comment", reply_to=asked)
    thanked = fake.send(guild, alice, "thanks, fixed it", reply_to=answered)
    # (One at a time: a reply that a newer one's value overtook is left out.)
    assert fake.wait_until(lambda: fake.replies_to(thanked) == ["bob has 1 karma."], timeout=30)
    mentioned = fake.send(guild, alice, f"thanks <@{bob}>!", mentions=[bob])
    assert fake.wait_until(lambda: fake.replies_to(mentioned) == ["bob has 2 karma."], timeout=30)
    chatter = fake.send(guild, alice, f"<@{bob}> lunch at noon?", mentions=[bob])
    stack.wait_idle()
    assert fake.replies_to(chatter) == []

    for person in people:
        fake.send(guild, person, f"ty <@{bob}>", mentions=[bob])
    stack.processes["karma1"].kill()  # SIGKILL mid-stream: the broker hands its tasks to the other
    assert stack.processes["karma1"].popen.returncode == -signal.SIGKILL
    stack.deployed("karma1", "worker")
    stack.wait_idle()
    assert karma() == 2 + PEOPLE

    fake.edit(guild, mentioned, f"<@{bob}> oh, never mind")  # the thanks taken back
    stack.wait_idle()
    assert karma() == 1 + PEOPLE
    # The gateway dropped the chatter and the rest of the conversation (it logs its counts once
    # a minute, and as it stops): the configuration, two thanks, twenty and an edit went on.
    gateway = stack.processes["gateway"]
    gateway.stop()
    log = gateway.log()
    forwarded = sum(int(n) for n in re.findall(r"forwarded (\d+) messages, dropped", log))
    dropped = sum(int(n) for n in re.findall(r"dropped (\d+) without karma or a command", log))
    assert (forwarded, dropped) == (4 + PEOPLE, 3)
    assert "Traceback" not in log
