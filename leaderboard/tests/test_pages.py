"""The public leaderboards through Django's test client, on SQLite and on MariaDB."""

import html
import json
import re
from urllib.parse import urljoin

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from karma import seasons
from karma.ledger import writes
from karma.models import GuildSettings, Karma
from karma.moderation import actions
from testkit.databases import DATABASES
from testkit.messages import chat

pytestmark = pytest.mark.django_db(databases=DATABASES)
PUBLIC, PRIVATE = 41, 42


@pytest.fixture
def servers(database):
    GuildSettings.objects.create(guild_id=PUBLIC, name="The <b>Café</b>", public=True)
    GuildSettings.objects.create(guild_id=PRIVATE, name="Secret club")
    for guild in (PUBLIC, PRIVATE):
        writes.apply_changes(chat("", guild_id=guild), [("popple", 3), ("coffee", -2), ("tea", 1)])
        writes.apply_changes(chat("", guild_id=guild), [("popple", 2), ("<script>alert(1)</script>", 4)])


def test_a_private_or_unknown_server_is_a_404_alike(client, servers):
    for guild in (PRIVATE, 999):
        for url in (f"/servers/{guild}/", f"/servers/{guild}.json", f"/servers/{guild}/popple/"):
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"Secret" not in response.content
    assert b"Secret club" not in client.get("/").content


def test_the_servers_page_lists_public_boards_escaped(client, servers):
    page = client.get("/").content.decode()
    assert "The &lt;b&gt;Café&lt;/b&gt;" in page
    assert "<b>Café" not in page
    assert f'href="/servers/{PUBLIC}/"' in page
    GuildSettings.objects.filter(guild_id=PUBLIC).update(public=False)
    cache.clear()  # (the list is cached for a minute; the board itself answers 404 at once)
    assert f"/servers/{PUBLIC}/" not in client.get("/").content.decode()
    assert client.get(f"/servers/{PUBLIC}/").status_code == 404


def test_a_board_shows_top_and_bottom_escaped(client, servers):
    response = client.get(f"/servers/{PUBLIC}/")
    page = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.cookies == {}
    top, bottom = page.split('id="bottom"')
    assert [name for name in ("popple", "&lt;script&gt;", "tea", "coffee") if name in top] == [
        "popple",
        "&lt;script&gt;",
        "tea",
        "coffee",
    ]
    assert top.index("popple") < top.index("&lt;script&gt;") < top.index("tea") < top.index("coffee")
    assert bottom.index("coffee") < bottom.index("tea") < bottom.index("&lt;script&gt;") < bottom.index("popple")


def test_the_json_board_pages_by_25(client, servers):
    writes.apply_changes(chat("", guild_id=PUBLIC), [(f"name {i:02}", 100 + i) for i in range(30)])
    board = json.loads(client.get(f"/servers/{PUBLIC}.json").content)
    assert board["server"] == {"id": str(PUBLIC), "name": "The <b>Café</b>"}
    assert board["subjects"] == 34
    assert board["top"]["pages"] == 2
    assert len(board["top"]["rows"]) == 25
    assert board["top"]["rows"][0] == {"rank": 1, "subject": "name 29", "karma": 129}
    assert board["bottom"]["rows"][0] == {"rank": 34, "subject": "coffee", "karma": -2}
    second = json.loads(client.get(f"/servers/{PUBLIC}.json", {"top": "2"}).content)["top"]
    assert [row["rank"] for row in second["rows"]] == list(range(26, 35))
    assert second["rows"][-1] == {"rank": 34, "subject": "coffee", "karma": -2}
    # A page past the end or not a number: the nearest page, not an error.
    assert json.loads(client.get(f"/servers/{PUBLIC}.json", {"top": "x"}).content)["top"]["page"] == 1
    assert json.loads(client.get(f"/servers/{PUBLIC}.json", {"top": "99"}).content)["top"]["page"] == 2


def test_a_subject_page_has_its_rank_and_a_chart_of_its_history(client, servers):
    response = client.get(f"/servers/{PUBLIC}/popple/")
    page = response.content.decode()
    assert "rank 1." in page
    assert page.count('class="point"') == 2  # one per change: +3, then +2
    assert 'data-karma="3"' in page
    assert 'data-karma="5"' in page
    assert client.get(f"/servers/{PUBLIC}/nobody/").status_code == 404


def test_a_name_with_a_slash_or_right_to_left_text_has_its_page(client, servers):
    writes.apply_changes(chat("", guild_id=PUBLIC), [("ci/cd", 2), ("שלום", 1)])
    board = client.get(f"/servers/{PUBLIC}/").content.decode()
    assert "<bdi>שלום</bdi>" in board
    assert f'href="/servers/{PUBLIC}/ci/cd/"' in board
    assert "ci/cd" in client.get(f"/servers/{PUBLIC}/ci/cd/").content.decode()


def test_a_merged_subject_leads_to_the_one_it_was_merged_into(client, servers):
    actions.merge(PUBLIC, "tea", "popple", None)
    response = client.get(f"/servers/{PUBLIC}/tea/")
    assert (response.status_code, response["Location"]) == (302, f"/servers/{PUBLIC}/popple/")
    assert "Also counted as: <bdi>tea</bdi>" in client.get(f"/servers/{PUBLIC}/popple/").content.decode()


def test_a_subject_page_says_why_without_saying_who(client, servers):
    writes.apply_changes(
        chat("", guild_id=PUBLIC, author_name="secret-giver"), [("tea", 1)], {"tea": "<b>warm</b> & kind"}
    )
    page = client.get(f"/servers/{PUBLIC}/tea/").content.decode()
    assert "+1" in page
    assert "&lt;b&gt;warm&lt;/b&gt; &amp; kind" in page  # escaped, never HTML
    assert "secret-giver" not in page


# Names whose links a browser, a proxy or Django's resolver would not give back as they are: a line
# break (stored before migration 0008 cleaned names; `.` does not match it in Django's patterns),
# path segments a browser resolves (`..`) or a proxy merges (`//`), escapes, a query, a fragment.
ODD_NAMES = ["foo\nbar", "tab\tbed", "..", ".", "a/../b", "./x", "/", "a//b", "ci/", "50%", "a%41", "%2e%2e", "why?"]


def test_every_stored_name_has_a_working_page(client, servers):
    for name in ODD_NAMES:
        Karma.objects.create(guild_id=PUBLIC, subject=name, karma=10, version=1)
    board = client.get(f"/servers/{PUBLIC}/")
    assert board.status_code == 200
    links = dict(re.findall(r'<a href="([^"]+)"><bdi>(.*?)</bdi></a>', board.content.decode()))
    shown = {" ".join(name.splitlines()) for name in ODD_NAMES}
    assert shown <= {html.unescape(name) for name in links.values()}
    base = "https://popple.example.org"
    for href, name in links.items():
        href = html.unescape(href)
        # As a browser resolves it (no dot segment), and as a proxy passes it (no empty segment).
        assert urljoin(f"{base}/servers/{PUBLIC}/", href) == base + href, href
        assert "//" not in href, href
        page = client.get(href)
        assert page.status_code == 200, href
        assert f"<h1><bdi>{name}</bdi></h1>" in page.content.decode(), href


def test_the_servers_page_is_paged_and_cached(client, database):
    listed = [GuildSettings(guild_id=900 + i, name=f"server {i:03}", public=True) for i in range(55)]
    GuildSettings.objects.bulk_create(listed)
    first = client.get("/").content.decode()
    assert re.findall(r"server \d+", first) == [f"server {i:03}" for i in range(50)]
    assert 'href="?page=2"' in first
    second = client.get("/", {"page": "2"}).content.decode()
    assert re.findall(r"server \d+", second) == [f"server {i:03}" for i in range(50, 55)]
    assert client.get("/", {"page": "99"}).content.decode() == second  # the nearest page, not an error
    # Asked again, from the cache: no query at all, however often it is asked.
    with CaptureQueriesContext(connections[database]) as queries:
        assert client.get("/").content.decode() == first
        assert client.get("/", {"page": "2"}).content.decode() == second
    assert len(queries) == 0


def test_seasons_have_their_own_boards_and_private_ones_stay_hidden(client, servers):
    assert "Seasons:" not in client.get(f"/servers/{PUBLIC}/").content.decode()  # one season only
    seasons.start(PUBLIC, "<i>Spring</i>", "test")
    seasons.start(PRIVATE, "", "test")
    writes.apply_changes(chat("", guild_id=PUBLIC), [("tea", 5), ("popple", -1)])
    board = client.get(f"/servers/{PUBLIC}/").content.decode()
    assert f'href="/servers/{PUBLIC}/seasons/2/">2 (&lt;i&gt;Spring&lt;/i&gt;)</a>' in board
    page = client.get(f"/servers/{PUBLIC}/seasons/2/")
    assert page["Content-Security-Policy"].startswith("default-src 'none'")
    text = page.content.decode()
    assert re.findall(r'<td class="number">([^<]+)<', text) == ["+5", "-1"]
    assert "still running" in text
    first = client.get(f"/servers/{PUBLIC}/seasons/1/").content.decode()
    # popple, <script>, tea, coffee
    assert re.findall(r'<td class="number">([^<]+)<', first) == ["+5", "+4", "+1", "-2"]
    for url in (f"/servers/{PUBLIC}/seasons/3/", f"/servers/{PRIVATE}/seasons/1/", f"/servers/{PRIVATE}/seasons/2/"):
        assert client.get(url).status_code == 404, url
