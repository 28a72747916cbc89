"""One real browser session: log in to the admin and edit a subject's karma in headless Chromium."""

import shutil

import pytest
from playwright.sync_api import sync_playwright

from karma.ledger import writes
from karma.models import Karma, LedgerEntry
from testkit.messages import chat

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's services, which this network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.django_db(transaction=True)
def test_log_in_and_edit_karma(live_server, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "correct horse battery")
    writes.apply_changes(chat("", guild_id=1), [("the build server", 2)])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "correct horse battery")
        page.click("input[type=submit]")
        page.click('#content-main a[href="/admin/karma/karma/"]')
        page.fill("#searchbar", "build")
        page.press("#searchbar", "Enter")
        page.click('#result_list a:text-is("the build server")')
        page.fill("#id_karma", "42")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist")
        assert "was changed successfully" in page.inner_text(".messagelist")
        browser.close()

    assert Karma.objects.get(subject="the build server").karma == 42
    entry = LedgerEntry.objects.get(source="admin")
    assert (entry.subject, entry.delta, entry.admin_user.username) == ("the build server", 40, "admin")
