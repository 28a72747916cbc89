"""The public boards lead moderators to the dashboard, and back to the server once logged in; the
link is shown to those whose dashboard session says they manage the server, and to no one else."""

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import discord_api, session
from dashboard.tests.conftest import consent, local
from karma.models import GuildSettings

LINK = '">Manage this server</a>'


def public_board(world):
    cafe = world.cafe.id
    GuildSettings.objects.filter(guild_id=cafe).update(public=True)
    return f"/servers/{cafe}/"


def test_an_anonymous_visitor_sees_no_link_and_the_login_comes_back_to_the_server(world, test_client_callback, client):
    cafe = world.cafe.id
    with CaptureQueriesContext(connection) as queries:
        board = client.get(public_board(world)).content.decode()
    assert LINK not in board
    assert not [query for query in queries.captured_queries if "django_session" in query["sql"]]
    assert "sessionid" not in client.cookies  # the public page still sets no cookie

    asked = client.get(f"/dashboard/servers/{cafe}/")
    assert asked.status_code == 403
    assert "Log in with Discord to manage your servers. Nothing was changed." in asked.content.decode()
    assert f'name="next" value="/dashboard/servers/{cafe}/"' in asked.content.decode()
    started = client.post("/dashboard/login/discord/login/", {"next": f"/dashboard/servers/{cafe}/"})
    back = client.get(local(consent(world.discord, started["Location"], world.moderator)))
    assert back["Location"] == f"/dashboard/servers/{cafe}/"
    assert client.get(back["Location"]).status_code == 200


def test_a_manager_sees_the_link_without_asking_discord_again(world, log_in, client, monkeypatch):
    board = public_board(world)
    log_in(client, world.moderator)
    assert client.get("/dashboard/").status_code == 200  # where the login lands: Discord is asked
    stored = client.session
    stored[session.GUILDS_AT] = time.time() - 3600  # an answer older than the dashboard accepts
    stored.save()

    def asked(token):
        raise AssertionError("a public page asked Discord")

    monkeypatch.setattr(discord_api, "guilds", asked)
    assert f'<a href="/dashboard/servers/{world.cafe.id}/">Manage this server</a>' in client.get(board).content.decode()


def test_a_logged_in_member_without_manage_server_sees_no_link(world, log_in, client):
    board = public_board(world)
    log_in(client, world.member)
    assert client.get("/dashboard/").status_code == 200
    assert LINK not in client.get(board).content.decode()


def test_a_manager_of_another_server_sees_no_link(world, log_in, client):
    shop = world.shop.id  # the moderator owns it; they have no Manage Server in club
    GuildSettings.objects.filter(guild_id__in=[shop, world.club.id]).update(public=True)
    log_in(client, world.moderator)
    assert client.get("/dashboard/").status_code == 200
    assert LINK in client.get(f"/servers/{shop}/").content.decode()
    assert LINK not in client.get(f"/servers/{world.club.id}/").content.decode()


def test_without_the_dashboard_the_boards_do_not_link_to_it(client, settings, db):
    settings.DASHBOARD_ENABLED = False
    GuildSettings.objects.create(guild_id=77, name="Open", public=True)
    assert "Manage this server" not in client.get("/servers/77/").content.decode()
