"""The dashboard with the distributed stack: a setting changed on the web is obeyed by the real
gateway and workers, through RabbitMQ, in the double's chat."""

import pytest

from dashboard.tests.conftest import CALLBACK, consent, local, turn_on
from karma.models import GuildSettings, SettingChange
from testkit.databases import pinned

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


def test_a_setting_changed_in_the_dashboard_is_obeyed_in_chat(stack_factory, fake_discord, settings, client):
    fake = fake_discord
    guild = fake.add_guild("dashboard")
    moderator = fake.add_user("moderator")
    fake.add_member(guild, moderator, manager=True)
    stack = stack_factory()
    stack.deployed("karma1", "worker")
    stack.deployed("replies1", "replies")
    stack.connected_gateway()
    turn_on(settings, fake)
    fake.oauth.redirect_uris.add("http://testserver" + CALLBACK)
    with pinned("mariadb"):
        # The gateway tells the workers it is in the server; then the dashboard knows it.
        assert fake.wait_until(lambda: GuildSettings.objects.filter(guild_id=guild.id, left_at=None).exists())
        started = client.post("/dashboard/login/discord/login/")
        assert client.get(local(consent(fake, started["Location"], moderator))).status_code == 302
        changed = client.post(f"/dashboard/servers/{guild.id}/", {"setting": "ignore", "value": "add coffee"})
        assert changed.status_code == 302
        assert SettingChange.objects.get(guild_id=guild.id).changed_by == f"moderator ({moderator})"

    message = fake.send(guild, moderator, "coffee++ tea++")
    assert fake.wait_until(lambda: fake.replies_to(message))
    assert fake.replies_to(message) == ["tea has 1 karma."]
