"""What the dashboard refuses, each with a clear page and nothing changed: people without Manage
Server, forged server ids in URLs and forms, OAuth answers that do not check out, a permission
lost after login, POSTs without CSRF, sessions that ended; and too many failed logins."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from dashboard import discord_api, session
from dashboard.tests.conftest import chat, consent, local
from karma.ledger import writes
from karma.models import GuildSettings, LedgerEntry, SettingChange


def unchanged(guild_id):
    assert GuildSettings.objects.get(guild_id=guild_id).cooldown == 0
    assert not SettingChange.objects.filter(guild_id=guild_id).exists()


def refused(response, status, text):
    assert response.status_code == status, response.content
    assert text in response.content.decode()
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert response["Cache-Control"] == "no-store"


def test_a_member_without_manage_server_sees_no_server_and_changes_nothing(world, log_in, client):
    assert log_in(client, world.member).status_code == 302
    home = client.get("/dashboard/")
    assert "Popple is in none of the servers where you have Manage Server." in home.content.decode()
    cafe = world.cafe.id
    refused(client.get(f"/dashboard/servers/{cafe}/"), 403, "Discord does not say you have Manage Server there")
    answer = client.post(f"/dashboard/servers/{cafe}/", {"setting": "cooldown", "value": "5m"})
    refused(answer, 403, "Nothing was changed.")
    unchanged(cafe)


@pytest.mark.parametrize("page", ["", "board/", "ledger/", "export/karma.json"])
def test_forged_server_ids_in_urls_are_refused_alike(world, log_in, client, page):
    log_in(client, world.moderator)
    # The Club (Popple is in it; the moderator is a plain member there) and a server that does not
    # exist get the same answer: a forged id learns nothing.
    for guild_id in (world.club.id, 4242424242):
        refused(client.get(f"/dashboard/servers/{guild_id}/{page}"), 403, "You cannot manage this server")


def test_forged_ids_in_forms_are_refused(world, log_in, client):
    log_in(client, world.moderator)
    cafe, club = world.cafe.id, world.club.id
    writes.apply_changes(chat("", guild_id=club), [("club thing", 5)])
    writes.apply_changes(chat("", guild_id=cafe), [("cafe thing", 5)])
    theirs = LedgerEntry.objects.get(guild_id=club).id
    ours = LedgerEntry.objects.get(guild_id=cafe).id
    # Another server's ledger row, posted to a server the moderator manages: nothing is reverted,
    # not even the row that was this server's.
    answer = client.post(f"/dashboard/servers/{cafe}/revert/", {"entry": [ours, theirs]})
    refused(answer, 400, "Some of those changes are not this server&#x27;s: nothing was reverted.")
    refused(client.post(f"/dashboard/servers/{cafe}/revert/", {"entry": "x"}), 400, "not changes of the ledger")
    refused(client.post(f"/dashboard/servers/{club}/revert/", {"entry": theirs}), 403, "You cannot manage")
    refused(client.post(f"/dashboard/servers/{club}/", {"setting": "cooldown", "value": "5m"}), 403, "You cannot")
    refused(client.post(f"/dashboard/servers/{cafe}/", {"setting": "guild_id", "value": "1"}), 400, "no setting")
    assert not LedgerEntry.objects.filter(source="revert").exists()
    unchanged(club)
    unchanged(cafe)


def test_a_bad_value_gets_the_settings_help_and_changes_nothing(world, log_in, client):
    log_in(client, world.moderator)
    answer = client.post(f"/dashboard/servers/{world.cafe.id}/", {"setting": "cooldown", "value": "forever"})
    assert answer.status_code == 400
    assert "cooldown must be a time (60, 90s, 5m or 1h; at most 7 days) or &quot;off&quot;" in answer.content.decode()
    unchanged(world.cafe.id)


@pytest.mark.parametrize("extra", [{"process": "connect"}, {"scope": "email,guilds.join"}, {"auth_params": "x=1"}])
def test_a_login_asking_more_than_the_dashboard_does_is_refused(world, test_client_callback, client, extra):
    refused(client.post("/dashboard/login/discord/login/", extra), 400, "This login was not started by the dashboard.")
    refused(client.post("/dashboard/login/discord/login/?process=connect"), 400, "not started by the dashboard")


def test_a_replayed_or_missing_state_is_refused(world, test_client_callback, client):
    oauth = world.discord.oauth
    callback = local(
        consent(world.discord, client.post("/dashboard/login/discord/login/")["Location"], world.moderator)
    )
    assert client.get(callback).status_code == 302  # the first time: logged in
    client.post("/dashboard/logout/")
    refused(client.get(callback), 401, "Login failed")  # the same state again
    without_state = callback.split("&state=")[0]
    refused(client.get(without_state), 401, "Login failed")
    refused(client.get(callback.replace("state=", "state=forged")), 401, "Login failed")
    assert len(oauth.exchanges) == 1  # none of them reached Discord with the code
    refused(client.get(f"/dashboard/servers/{world.cafe.id}/"), 403, "Log in with Discord")


def test_an_expired_code_and_a_denied_consent_log_no_one_in(world, test_client_callback, client):
    discord = world.discord
    location = client.post("/dashboard/login/discord/login/")["Location"]
    callback = local(consent(discord, location, world.moderator))
    discord.oauth.expire_codes()
    refused(client.get(callback), 401, "Login failed")
    assert discord.oauth.exchanges[-1][1] == 400  # Discord refused the code
    location = client.post("/dashboard/login/discord/login/")["Location"]
    cancelled = client.get(local(consent(discord, location, world.moderator, decision="cancel")), follow=True)
    refused(cancelled, 403, "You cancelled the login at Discord.")
    refused(client.get(f"/dashboard/servers/{world.cafe.id}/"), 403, "Log in with Discord")


def test_the_login_asks_for_identify_and_guilds_with_pkce(world, test_client_callback, client):
    location = client.post("/dashboard/login/discord/login/")["Location"]
    assert location.startswith(world.discord.oauth.authorize_url + "?")
    query = parse_qs(urlsplit(location).query)
    assert set(query["scope"][0].split()) == {"identify", "guilds"}
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 12
    # A GET does not start a login: a link elsewhere cannot log anyone in.
    assert client.get("/dashboard/login/discord/login/").status_code != 302


def test_a_permission_lost_after_login_is_refused_once_discords_answer_is_a_minute_old(world, log_in, client):
    log_in(client, world.moderator)
    cafe = world.cafe.id
    assert client.get(f"/dashboard/servers/{cafe}/").status_code == 200
    world.discord.add_member(world.cafe, world.moderator, manager=False)  # Manage Server taken away
    stored = client.session
    stored[session.GUILDS_AT] = time.time() - 61  # the cached answer is older than FRESH_FOR
    stored.save()
    answer = client.post(f"/dashboard/servers/{cafe}/", {"setting": "cooldown", "value": "5m"})
    refused(answer, 403, "You cannot manage this server")
    unchanged(cafe)


def test_a_moderator_in_more_servers_than_discord_gives_at_once_sees_them_all(world, log_in, client):
    discord = world.discord
    for number in range(discord_api.PAGE + 1):  # past one page of Discord's answer
        discord.add_member(discord.add_guild(f"busy {number}", with_bot=False), world.member)
    late = discord.add_guild("Late")  # the newest id: on the second page
    GuildSettings.objects.create(guild_id=late.id, name="Late")
    discord.add_member(late, world.member, manager=True)
    log_in(client, world.member)
    home = client.get("/dashboard/")
    assert [guild["name"] for guild in home.context["servers"]] == ["Late"]
    assert discord.oauth.guild_reads == 2


def test_a_token_discord_no_longer_accepts_ends_the_session(world, log_in, client):
    log_in(client, world.moderator)
    assert client.session.get_expiry_age() == session.SESSION_HOURS * 3600
    world.discord.oauth.tokens.clear()  # revoked at Discord (the person deauthorised the app)
    stored = client.session
    stored[session.GUILDS_AT] = 0
    stored.save()
    refused(client.get("/dashboard/"), 403, "Discord no longer accepts your login: log in again.")
    refused(client.get(f"/dashboard/servers/{world.cafe.id}/"), 403, "Log in with Discord")


def test_a_post_without_csrf_is_refused(world, log_in):
    client = Client(enforce_csrf_checks=True)
    started = client.get("/dashboard/")
    token = started.cookies["csrftoken"].value
    location = client.post("/dashboard/login/discord/login/", {"csrfmiddlewaretoken": token})["Location"]
    client.get(local(consent(world.discord, location, world.moderator)))
    answer = client.post(f"/dashboard/servers/{world.cafe.id}/", {"setting": "cooldown", "value": "5m"})
    assert answer.status_code == 403
    assert "CSRF verification failed" in answer.content.decode()
    unchanged(world.cafe.id)
    # A login cannot be started without it either.
    assert Client(enforce_csrf_checks=True).post("/dashboard/login/discord/login/").status_code == 403


def test_a_logged_out_session_is_refused(world, log_in, client):
    log_in(client, world.moderator)
    token = client.session[session.TOKEN]
    cookie = client.cookies["sessionid"].value
    client.post("/dashboard/logout/")
    assert world.discord.oauth.revoked == [token]
    # The old session cookie, replayed: a session that no longer exists.
    replayed = Client()
    replayed.cookies["sessionid"] = cookie
    refused(replayed.post(f"/dashboard/servers/{world.cafe.id}/", {"setting": "cooldown", "value": "5m"}), 403,
            "Log in with Discord")  # fmt: skip
    unchanged(world.cafe.id)


def test_failed_logins_lock_the_address_out(world, test_client_callback, client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        refused(client.get("/dashboard/login/discord/login/callback/?code=x&state=forged"), 401, "Login failed")
    refused(client.post("/dashboard/login/discord/login/"), 429, "Logins from your address failed too often")
    # Another address is not locked out.
    assert Client(REMOTE_ADDR="10.0.0.9").post("/dashboard/login/discord/login/").status_code == 302


def test_a_change_by_get_is_refused(world, log_in, client):
    log_in(client, world.moderator)
    answer = client.get(f"/dashboard/servers/{world.cafe.id}/revert/", {"entry": "1"})
    assert answer.status_code == 405
    assert answer["Content-Security-Policy"].startswith("default-src 'none'")


def test_without_its_variables_the_dashboard_is_off(client, settings, db):
    settings.DASHBOARD_ENABLED = False
    refused(client.get("/dashboard/"), 404, "The dashboard is off")
    refused(client.post("/dashboard/login/discord/login/"), 404, "The dashboard is off")
