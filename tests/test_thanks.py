"""Thanks give karma through the whole distributed path: the fake Discord's messages, mentions and
replies, the gateway's filter, two karma workers (one killed mid-stream) and a reply worker as the
Procfile starts them."""

import re
import signal

import pytest

from karma.models import Karma
from karma.replies import CHECK
from testkit.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]
PEOPLE = 20
BURST = 30


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
    return stack


@pytest.fixture
def gateway(stack, request):
    """A gateway of the test's own, so that a test can stop it to read what it counted."""
    gateway = stack.connected_gateway(f"gateway-{request.node.originalname}")
    yield gateway
    gateway.stop()


def configure(fake, guild, manager, *settings):
    bot = int(fake.bot["id"])
    for setting in settings:
        message = fake.send(guild, manager, f"<@{bot}> config {setting}", mentions=[bot])
        assert fake.wait_until(lambda message=message: fake.reactions_to(message) == [CHECK], timeout=30)


def test_thanks_count_once_each_and_other_chat_is_not_forwarded(stack, gateway, fake_discord):
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
    gateway.stop()
    log = gateway.log()
    forwarded = sum(int(n) for n in re.findall(r"forwarded (\d+) messages, dropped", log))
    dropped = sum(int(n) for n in re.findall(r"dropped (\d+) without karma or a command", log))
    assert (forwarded, dropped) == (4 + PEOPLE, 3)
    assert "Traceback" not in log


def test_the_fair_karma_rules_hold_for_thanks_through_two_workers(stack, gateway, fake_discord):
    fake = fake_discord
    ann, ben, cat, dan = (fake.add_user(name) for name in ("ann", "ben", "cat", "dan"))
    helpers = [fake.add_user(f"helper{n}") for n in range(6)]
    guilds = fake.add_guilds(("fair", "frugal"), ann, ben, cat, dan, *helpers)
    fair, frugal = guilds["fair"], guilds["frugal"]
    for guild in guilds.values():
        fake.add_member(guild, ann, manager=True)
    configure(fake, fair, ann, "thanks on", "cooldown 1h", "ignore add cat")
    configure(fake, frugal, ann, "thanks on", "budget 3")

    def karma(guild):
        return dict(Karma.objects.using("mariadb").filter(guild_id=guild.id).values_list("subject", "karma"))

    # One person's burst of thanks to one person, spread over two workers: the cooldown lets one by.
    burst = [fake.send(fair, ann, f"thanks <@{ben}>", mentions=[ben]) for _ in range(BURST)]
    ignored = fake.send(fair, ann, f"thanks <@{cat}>", mentions=[cat])
    notes = fake.send(fair, dan, "my notes")
    to_self = fake.send(fair, dan, "thanks, past me", reply_to=notes)
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in burst), timeout=60)
    # A reply that thanks, then is edited not to: the edit takes its +1 back.
    fix = fake.send(fair, ben, "the fix is in")
    works = fake.send(fair, dan, "thanks, works now", reply_to=fix)
    assert fake.wait_until(lambda: fake.replies_to(works) == ["ben has 2 karma."], timeout=30)
    fake.edit(fair, works, "works now")
    # A budget of 3 an hour: six thanks to six people, three count.
    spent = [fake.send(frugal, ann, f"ty <@{helper}>", mentions=[helper]) for helper in helpers]
    assert fake.wait_until(lambda: all(fake.replies_to(m) for m in spent), timeout=60)
    # Deleting a thanks that counted takes its +1 back (the gateway followed it as it would a `++`).
    counted = [m for m in spent if fake.replies_to(m)[0].endswith(" has 1 karma.")]
    fake.delete(frugal, counted[0])
    # (The edit and the deletion pass the gateway's outbox first: waited for, then checked as final.)
    assert fake.wait_until(lambda: karma(fair) == {"ben": 1} and sum(karma(frugal).values()) == 2, timeout=30)
    stack.wait_idle()

    replies = [fake.replies_to(m)[0] for m in burst]
    assert replies.count("ben has 1 karma.") == 1
    assert sum(reply.startswith("cooldown: you can change ben again in ") for reply in replies) == BURST - 1
    assert fake.replies_to(ignored) == fake.replies_to(to_self) == []
    assert karma(fair) == {"ben": 1}
    replies = [fake.replies_to(m)[0] for m in spent]
    assert sum(reply.startswith("budget: ") for reply in replies) == 3
    assert len(counted) == 3
    assert sum(karma(frugal).values()) == 2
