"""Driving the dashboard in headless Chromium (Debian's package, as the admin's test drives it):
logging in through the double's consent page. Screenshots go to screenshots/ (ignored by git)."""

from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from playwright.sync_api import sync_playwright

from karma.tests.test_admin_browser import CHROMIUM, CHROMIUM_FLAGS

SHOTS = Path(settings.BASE_DIR) / "screenshots"


@contextmanager
def chromium():
    """Django's database calls refuse to run beside Playwright's event loop: check the database
    before or after this block."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / f"dashboard-{name}.png", full_page=True)


def log_in(page, base_url, user_name, decision="Authorize"):
    """From the dashboard's page to Discord's consent and back, as `user_name`."""
    page.goto(f"{base_url}/dashboard/")
    page.click("button:text-is('Log in with Discord')")
    page.wait_for_url("**/oauth2/authorize**")
    page.select_option("select[name=user]", label=user_name)
    page.click(f"button:text-is('{decision}')")
    page.wait_for_load_state()
