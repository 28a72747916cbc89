"""The dashboard through gunicorn behind the TLS proxy, as .env.example's production example runs
the web process: a Discord login whose session is as guarded as the admin's, and no secret in
the web's log."""

import re

import pytest

from dashboard.tests.conftest import consent, local
from karma.models import GuildSettings, SettingChange
from tests.test_web import HOST, ORIGIN, PRODUCTION, Browser, web  # noqa: F401 (web: the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, databases=["mariadb"])]


def test_a_discord_login_behind_the_proxy_gets_the_admins_cookies(web, fake_discord, tmp_path):  # noqa: F811
    fake = fake_discord
    moderator = fake.add_user("webmod")
    guild = fake.add_guild("On the web")
    fake.add_member(guild, moderator, manager=True)
    GuildSettings.objects.using("mariadb").create(guild_id=guild.id, name="On the web")
    fake.oauth.redirect_uris.add(f"https://{HOST}/dashboard/login/discord/login/callback/")
    base = web(**PRODUCTION, DISCORD_API_BASE_URL=fake.api_url, **fake.oauth.environment())
    browser = Browser(base)

    response, page = browser.request("GET", "/dashboard/")
    assert response.status == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = {"csrfmiddlewaretoken": token}
    response, _ = browser.request("POST", "/dashboard/login/discord/login/", form, Origin=ORIGIN)
    assert response.status == 302
    back = consent(fake, response.headers["Location"], moderator)
    assert back.startswith(f"https://{HOST}/dashboard/login/discord/login/callback/?code=")
    response, _ = browser.request("GET", local(back))
    assert (response.status, response.headers["Location"]) == (302, "/dashboard/")
    [session] = [cookie for cookie in response.headers.get_all("Set-Cookie") if cookie.startswith("sessionid=")]
    assert "; Secure" in session
    assert "; HttpOnly" in session
    assert "; SameSite=Lax" in session

    response, page = browser.request("GET", "/dashboard/")
    assert b"On the web" in page
    response, page = browser.request("GET", f"/dashboard/servers/{guild.id}/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = {"csrfmiddlewaretoken": token, "setting": "cooldown", "value": "5m"}
    response, _ = browser.request("POST", f"/dashboard/servers/{guild.id}/", form, Origin=ORIGIN)
    assert response.status == 302
    assert SettingChange.objects.using("mariadb").get(guild_id=guild.id).changed_by == f"webmod ({moderator})"

    log = (tmp_path / "web-0.log").read_text()
    assert "Listening at" in log  # the web process's own log
    access_token = next(iter(fake.oauth.tokens))
    assert access_token not in log
    assert fake.oauth.client_secret not in log
    assert browser.cookies["sessionid"] not in log
