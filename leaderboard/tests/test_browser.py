"""The public boards and the moderators' tools in headless Chromium (Debian's package, as the
admin test drives it). Each page is saved as a screenshot under screenshots/ (ignored by git) for
people to look at."""

from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

from karma.ledger import writes
from karma.models import GuildSettings, Karma, LedgerEntry
from karma.tests.test_admin_browser import CHROMIUM, CHROMIUM_FLAGS
from testkit.messages import chat

SHOTS = Path(settings.BASE_DIR) / "screenshots"
PUBLIC, PRIVATE = 51, 52
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def servers(transactional_db):
    GuildSettings.objects.create(guild_id=PUBLIC, name="The Café ☕", public=True)
    GuildSettings.objects.create(guild_id=PRIVATE, name="Private", public=False)
    for day, delta in enumerate([3, 2, -1, 4, 1]):
        writes.apply_changes(chat("", guild_id=PUBLIC), [("the build server", delta)])
        LedgerEntry.objects.filter(guild_id=PUBLIC, total=sum([3, 2, -1, 4, 1][: day + 1])).update(
            created_at=f"2026-11-{day + 20:02d}T12:00:00Z"
        )
    names = ["coffee", "<img src=x onerror=alert(1)>", "שלום עולם", "a name that is rather long for a phone screen"]
    writes.apply_changes(chat("", guild_id=PUBLIC), [(name, 5 - i * 3) for i, name in enumerate(names)])
    writes.apply_changes(chat("", guild_id=PRIVATE), [("secret", 1)])


@contextmanager
def chromium():
    """Django's database calls refuse to run beside Playwright's event loop: check the database
    before or after this block."""
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def shot(page, name):
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_public_board_subject_chart_and_private_404(live_server, servers):
    with chromium() as browser:
        _public_pages(browser, live_server)


def _public_pages(browser, live_server):
    alerts = []
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme)
        page.on("dialog", lambda dialog: alerts.append(dialog.message))
        page.goto(f"{live_server.url}/")
        page.click("text=The Café ☕")
        assert page.inner_text("h1") == "The Café ☕"
        top = page.locator("#top tbody tr")
        assert top.nth(0).inner_text().split("\t") == ["1", "the build server", "9"]
        assert "<img src=x onerror=alert(1)>" in page.inner_text("#top")  # shown as text, not run
        shot(page, f"board-{scheme}")
        page.get_by_role("link", name="the build server", exact=True).first.click()
        assert "rank 1." in page.inner_text(".summary")
        points = page.locator("svg.chart circle.point")
        assert points.count() == 5
        assert [points.nth(i).get_attribute("data-karma") for i in range(5)] == ["3", "5", "4", "8", "9"]
        assert page.locator("svg.chart").bounding_box()["width"] > 300
        line_color = page.eval_on_selector("svg.chart .line", "e => getComputedStyle(e).stroke")
        background = page.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor")
        if scheme == "dark":
            assert background == "rgb(22, 24, 28)"
            assert line_color == "rgb(122, 167, 255)"
        else:
            assert background == "rgb(255, 255, 255)"
            assert line_color == "rgb(47, 111, 222)"
        shot(page, f"subject-{scheme}")
        page.close()
    assert alerts == []

    phone = browser.new_page(viewport=PHONE)
    for path, name in (
        (f"/servers/{PUBLIC}/", "board-phone"),
        (f"/servers/{PUBLIC}/the%20build%20server/", "subject-phone"),
    ):
        phone.goto(live_server.url + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, name)
    chart = phone.locator("svg.chart").bounding_box()
    assert 250 < chart["width"] <= PHONE["width"]

    response = phone.goto(f"{live_server.url}/servers/{PRIVATE}/")
    assert response.status == 404
    assert "Private" not in phone.content()
    shot(phone, "private-404")


def test_names_a_browser_would_rewrite_lead_to_their_pages(live_server, servers):
    # `..` and `a/../b` are dot segments a browser resolves; a line break was stored before
    # migration 0008 and matches no URL pattern unescaped.
    for name in ("..", "a/../b", "foo\nbar"):
        Karma.objects.create(guild_id=PUBLIC, subject=name, karma=100, version=1)
    with chromium() as browser:
        page = browser.new_page()
        for shown in ("..", "a/../b", "foo bar"):
            page.goto(f"{live_server.url}/servers/{PUBLIC}/")
            page.locator("#top").get_by_role("link", name=shown, exact=True).click()
            assert page.inner_text("h1") == shown
            assert page.inner_text(".summary").startswith("100 karma")


def test_moderators_revert_merge_and_export_in_the_admin(live_server, servers, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "correct horse battery")
    spam = chat("", guild_id=PUBLIC, author_id=666, author_name="spammer")
    writes.apply_changes(spam, [("coffee", 50)])
    with chromium() as browser:
        exported = _moderate(browser, live_server)
    assert '"subject": "the build server", "karma": 14' in exported
    totals = Karma.objects.filter(guild_id=PUBLIC, subject__in=["coffee", "the build server"])
    assert dict(totals.values_list("subject", "karma")) == {"coffee": 0, "the build server": 14}
    assert LedgerEntry.objects.get(source="revert").admin_user.username == "admin"


def _moderate(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")

    # The ledger, by server name and author; revert the spammer's change.
    page.goto(f"{live_server.url}/admin/karma/ledgerentry/")
    page.click('#changelist-filter a:text-is("The Café ☕ (51)")')
    page.fill("#searchbar", "spammer")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    assert page.locator("#result_list tbody tr").count() == 1
    page.check("#action-toggle")
    page.select_option("select[name=action]", "revert")
    shot(page, "admin-ledger-revert")
    page.click("button[name=index]")
    assert "Reverted 1 changes" in page.inner_text(".messagelist")

    # Merge one subject into another.
    page.goto(f"{live_server.url}/admin/karma/karma/?guild_id={PUBLIC}")
    page.check('#result_list tr:has(a:text-is("coffee")) input[name=_selected_action]')
    page.select_option("select[name=action]", "merge")
    page.click("button[name=index]")
    page.fill("#id_target", "the build server")
    shot(page, "admin-merge")
    page.click("input[name=apply]")
    assert "Merged coffee into the build server (5 karma moved)." in page.inner_text(".messagelist")
    assert (
        page.locator('#result_list tr:has(a:text-is("coffee")) .field-merged_into').inner_text() == "the build server"
    )
    shot(page, "admin-karma-merged")

    # Export the server.
    page.goto(f"{live_server.url}/admin/karma/guildsettings/")
    page.check(f'input[name=_selected_action][value="{PUBLIC}"]')
    page.select_option("select[name=action]", "export_json")
    shot(page, "admin-servers")
    with page.expect_download() as download:
        page.click("button[name=index]")
    return Path(download.value.path()).read_text()
