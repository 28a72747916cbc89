"""Role rewards through the whole distributed path: a gateway, a karma worker and a reply worker as
the Procfile starts them, on RabbitMQ, MariaDB and Redis, against the double, which enforces Manage
Roles and the role hierarchy."""

import pytest
from celery import Celery

from botgateway.roles import notice_text
from karma.message import RoleChange
from karma.models import Karma
from poppleproject import rabbitmq
from testkit.stack import BROKER_URL
from tests.test_thanks import configure

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


def role_puts(fake, guild):
    return [path for method, path, _ in fake.rest_log if method == "PUT" and path.startswith(f"/guilds/{guild.id}/")]


def notices(fake, guild):
    return [m.content for m in fake.messages if m.channel_id in guild.channel_ids and m.content.startswith("I could")]


def test_roles_follow_karma_once_each_and_a_refusal_is_told_once(stack, fake_discord):
    fake = fake_discord
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    guild = fake.add_guilds(("rewarding",), alice, bob)["rewarding"]
    fake.add_member(guild, alice, manager=True)
    helper = fake.add_role(guild, "Helper", position=1)
    configure(fake, guild, alice, f"roles 10 <@&{helper}>")
    tea = fake.send(guild, bob, "tea++")
    # Once it is applied, Popple knows bob by his username (workers apply messages in parallel).
    assert fake.wait_until(lambda: fake.replies_to(tea), timeout=30)
    ten = fake.send(guild, alice, " ".join(["bob++"] * 10))
    assert fake.wait_until(lambda: helper in fake.roles_of(guild, bob), timeout=30)

    # The broker delivers the role task again, as after a worker died before acknowledging it.
    version = Karma.objects.using("mariadb").get(guild_id=guild.id, subject="bob").version
    again = RoleChange(guild.id, guild.channel_ids[0], ten, bob, "bob", version, [helper], [helper])
    publisher = Celery(broker=BROKER_URL, set_as_current=False)  # not the app later tests publish with
    publisher.conf.task_queues = rabbitmq.task_queues()  # Popple's queues, declared already
    for _ in range(2):
        publisher.send_task("karma.apply_roles", args=[again.to_payload()], queue="replies")
    stack.wait_idle()
    assert len(role_puts(fake, guild)) == 1

    fake.set_bot_permissions(guild, manage_roles=False)
    for text in ("bob--", "bob++", "bob--"):  # three crossings Popple may not follow
        said = fake.send(guild, alice, text)
        assert fake.wait_until(lambda said=said: fake.replies_to(said), timeout=30)
    stack.wait_idle()
    assert helper in fake.roles_of(guild, bob)
    assert notices(fake, guild) == [notice_text(helper)]

    fake.set_bot_permissions(guild, manage_roles=True)  # a moderator gives Popple Manage Roles
    fake.send(guild, alice, "bob--")  # 8: below the threshold again
    assert fake.wait_until(lambda: helper not in fake.roles_of(guild, bob), timeout=30)
    assert fake.role_changes == [(guild.id, bob, helper, "add"), (guild.id, bob, helper, "remove")]
    assert len(notices(fake, guild)) == 1
