"""The public boards lead moderators to the dashboard, and back to the server once logged in."""

from dashboard.tests.conftest import consent, local
from karma.models import GuildSettings


def test_a_public_board_links_to_manage_it_and_the_login_comes_back_there(world, test_client_callback, client):
    cafe = world.cafe.id
    GuildSettings.objects.filter(guild_id=cafe).update(public=True)
    board = client.get(f"/servers/{cafe}/").content.decode()
    assert f'<a href="/dashboard/servers/{cafe}/">Manage this server</a>' in board
    assert "sessionid" not in client.cookies  # the public page still sets no cookie

    asked = client.get(f"/dashboard/servers/{cafe}/")
    assert asked.status_code == 403
    assert "Log in with Discord to manage your servers. Nothing was changed." in asked.content.decode()
    assert f'name="next" value="/dashboard/servers/{cafe}/"' in asked.content.decode()
    started = client.post("/dashboard/login/discord/login/", {"next": f"/dashboard/servers/{cafe}/"})
    back = client.get(local(consent(world.discord, started["Location"], world.moderator)))
    assert back["Location"] == f"/dashboard/servers/{cafe}/"
    assert client.get(back["Location"]).status_code == 200


def test_without_the_dashboard_the_boards_do_not_link_to_it(client, settings, db):
    settings.DASHBOARD_ENABLED = False
    GuildSettings.objects.create(guild_id=77, name="Open", public=True)
    assert "Manage this server" not in client.get("/servers/77/").content.decode()
