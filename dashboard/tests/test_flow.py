"""A moderator's whole visit in Chromium, against the Discord double: log in with Discord, see
exactly the servers they manage, change a setting and see Popple obey it in chat, revert a burst,
merge a name, export, log out."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dashboard.tests.browser import chromium, log_in, shot
from dashboard.tests.conftest import chat
from dashboard.views import BOT_PERMISSIONS
from karma import router
from karma.ledger import writes
from karma.models import GuildSettings, Karma, LedgerEntry, SettingChange

PHONE = {"width": 375, "height": 740}


def texts(page, selector):
    """What the elements say, from the document alone (innerText would depend on whether the
    style sheet has been applied yet)."""
    return [" ".join(text.split()) for text in page.locator(selector).all_text_contents()]


def test_a_moderator_logs_in_changes_a_setting_and_popple_obeys(world, callback, live_server):
    cafe = world.cafe.id
    with chromium() as browser:
        page = browser.new_page(color_scheme="dark", viewport=PHONE)
        log_in(page, live_server.url, "mod")
        assert page.url == f"{live_server.url}/dashboard/"
        # Popple is in the Café (Manage Server) and the Shop (owned); not the Club (a plain member);
        # the Garden (Administrator) has no Popple: an invite.
        assert page.locator("#managed li").all_inner_texts() == ["The Café", "Shop"]
        assert page.locator("#invites li").all_inner_texts() == ["Garden: invite Popple"]
        invite = parse_qs(urlsplit(page.get_attribute("#invites a", "href")).query)
        assert invite["permissions"] == [str(BOT_PERMISSIONS)]
        assert invite["guild_id"] == [str(world.garden.id)]
        assert invite["scope"] == ["bot applications.commands"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "home-phone-dark")

        page.click("text=The Café")
        assert page.inner_text("#setting-ignore .current") == "(none)"
        page.fill("#value-ignore", "add coffee, c")
        page.click("#setting-ignore button")
        assert page.inner_text(".messages") == "ignore: coffee, c"
        assert page.inner_text("#setting-ignore .current") == "coffee, c"
        # The ignore list in full, each name with its own button.
        page.fill("#value-ignore", "add tea")
        page.click("#setting-ignore button")
        assert texts(page, "#ignored li") == ["coffee Remove", "c Remove", "tea Remove"]
        page.click("button[aria-label='stop ignoring tea']")
        assert page.inner_text(".messages") == "ignore: coffee, c"
        # Bad input: the setting's own help, and nothing changes.
        page.fill("#value-cooldown", "forever")
        page.click("#setting-cooldown button")
        assert "cooldown must be a time" in page.inner_text(".messages")
        assert page.inner_text("#setting-cooldown .current") == "off"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "settings-phone-dark")
        page.close()

    assert GuildSettings.objects.get(guild_id=cafe).ignored == ["coffee", "c"]
    change = SettingChange.objects.filter(guild_id=cafe).order_by("id").first()
    assert (change.setting, change.old, change.new) == ("ignore", "(none)", "coffee, c")
    assert SettingChange.objects.filter(guild_id=cafe).count() == 3  # added coffee and c, tea, removed tea
    assert change.changed_by == f"mod ({world.moderator})"  # as chat records who changed it
    # Popple obeys it: an ignored name counts nothing, the others count.
    router.respond(chat("coffee++ tea++", guild_id=cafe))
    assert dict(Karma.objects.filter(guild_id=cafe).values_list("subject", "karma")) == {"tea": 1}
    assert world.discord.oauth.exchanges[-1][1] == 200
    assert world.discord.oauth.tokens  # in use, until logout


def test_revert_a_burst_merge_export_and_log_out(world, callback, live_server):
    cafe = world.cafe.id
    for _ in range(3):
        writes.apply_changes(chat("", guild_id=cafe, author_id=666, author_name="spammer"), [("coffee", 10)])
    writes.apply_changes(chat("", guild_id=cafe, author_id=501, author_name="kind"), [("tea", 2)], {"tea": "brewing"})
    writes.apply_changes(chat("", guild_id=cafe), [("the tea", 1)])
    writes.apply_changes(chat("", guild_id=world.shop.id), [("shop secret", 7)])
    with chromium() as browser:
        page = browser.new_page(color_scheme="light")
        log_in(page, live_server.url, "mod")
        page.goto(f"{live_server.url}/dashboard/servers/{cafe}/ledger/")
        assert page.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
        page.fill("#id_person", "spammer")
        page.click(".filters button")
        assert page.locator("#ledger tbody tr").count() == 3
        for box in page.locator("#ledger input[name=entry]").all():
            box.check()
        shot(page, "ledger-revert")
        page.click("text=Revert the selected changes")
        assert page.inner_text(".messages") == "Reverted 3 changes."
        assert page.locator("#ledger input[name=entry]").count() == 0  # reverted once only
        page.fill("#id_person", "")
        page.fill("#id_name", "tea")
        page.click(".filters button")
        assert "brewing" in page.inner_text("#ledger")

        phone = browser.new_page(viewport=PHONE, color_scheme="dark")
        log_in(phone, live_server.url, "mod")
        phone.goto(f"{live_server.url}/dashboard/servers/{cafe}/ledger/")
        assert phone.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor") == "rgb(22, 24, 28)"
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, "ledger-phone-dark")
        phone.click("button:text-is('Log out')")
        phone.close()

        page.click("nav >> text=Board")
        page.fill("input[name=source]", "the tea")
        page.fill("input[name=target]", "tea")
        page.click("button:text-is('Merge')")
        assert page.inner_text(".messages") == "Merged the tea into tea (1 karma moved)."
        assert page.locator("#top tbody tr").all_inner_texts() == ["tea\t3"]
        assert texts(page, "#aliases li") == ["the tea counts for tea Unmerge"]
        shot(page, "board")
        page.click("#aliases button:text-is('Unmerge')")
        assert page.inner_text(".messages") == "the tea counts for itself again, from 0."
        assert page.locator("#aliases").count() == 0

        with page.expect_download() as download:
            page.click("text=JSON")
        exported = json.loads(Path(download.value.path()).read_text())
        page.click("button:text-is('Log out')")
        assert page.locator("button:text-is('Log in with Discord')").count() == 1
        page.goto(f"{live_server.url}/dashboard/servers/{cafe}/ledger/")
        assert "Log in with Discord" in page.inner_text(".refusal")

    assert exported["server"] == {"id": cafe, "name": "The Café"}
    assert {row["subject"]: row["karma"] for row in exported["karma"]} == {"coffee": 0, "tea": 3, "the tea": 0}
    assert "shop secret" not in json.dumps(exported)  # one server's data only
    reverts = LedgerEntry.objects.filter(guild_id=cafe, source="revert")
    assert reverts.count() == 3
    assert {row.admin_user.username for row in reverts} == {"mod"}
    assert Karma.objects.get(guild_id=cafe, subject="the tea").merged_into is None  # unmerged
    assert world.discord.oauth.revoked
    assert not world.discord.oauth.tokens
