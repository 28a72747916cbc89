"""The moderators' tools through the dashboard's forms: what they refuse, and the CSV exports."""

import csv
import io

from dashboard.tests.conftest import chat
from karma.ledger import writes
from karma.models import GuildSettings, Karma, LedgerEntry


def messages(response):
    return [str(message) for message in response.context["messages"]]


def test_a_merge_that_cannot_be_made_says_why_and_changes_nothing(world, log_in, client):
    cafe = world.cafe.id
    writes.apply_changes(chat("", guild_id=cafe), [("tea", 2)])
    log_in(client, world.moderator)
    client.get("/dashboard/")  # shows (and so clears) "Successfully signed in"
    merge = f"/dashboard/servers/{cafe}/merge/"
    assert messages(client.post(merge, {"source": "tea", "target": "tea"}, follow=True)) == [
        "A subject cannot be merged into itself."
    ]
    assert messages(client.post(merge, {"source": "nobody", "target": "tea"}, follow=True)) == [
        "nobody has no karma in this server."
    ]
    assert messages(client.post(merge, {"source": "", "target": "tea"}, follow=True)) == [
        "Give the name to merge and the name to merge it into."
    ]
    unmerge = f"/dashboard/servers/{cafe}/unmerge/"
    assert messages(client.post(unmerge, {"subject": "tea"}, follow=True)) == [
        "tea is not merged into another subject."
    ]
    assert not LedgerEntry.objects.filter(source="merge").exists()
    assert list(Karma.objects.filter(guild_id=cafe).values_list("subject", "karma", "merged_into")) == [
        ("tea", 2, None)
    ]


def test_csv_exports_are_this_servers_with_formulas_made_plain(world, log_in, client):
    cafe = world.cafe.id
    writes.apply_changes(chat("", guild_id=cafe, author_name="ann"), [("=HYPERLINK(x)", 1)])
    writes.apply_changes(chat("", guild_id=world.club.id), [("club only", 1)])
    log_in(client, world.moderator)
    karma = client.get(f"/dashboard/servers/{cafe}/export/karma.csv")
    assert karma["Content-Disposition"] == f'attachment; filename="popple-{cafe}-karma.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(karma.streaming_content).decode())))
    assert rows[0] == ["subject", "karma", "merged_into", "updated_at"]
    assert [row[:2] for row in rows[1:]] == [["'=HYPERLINK(x)", "1"]]
    ledger = b"".join(client.get(f"/dashboard/servers/{cafe}/export/ledger.csv").streaming_content).decode()
    assert "ann" in ledger
    assert "club only" not in ledger
    assert client.get(f"/dashboard/servers/{cafe}/export/secrets.txt").status_code == 404


def test_channels_are_set_as_discord_mentions(world, log_in, client):
    log_in(client, world.moderator)
    page = client.get(f"/dashboard/servers/{world.cafe.id}/").content.decode()
    assert "On the web, write a channel as &lt;#ID&gt;" in page
    # Each setting shown as `@Popple config` lists it.
    assert '<span class="current">auto (en)</span>' in page
    answer = client.post(f"/dashboard/servers/{world.cafe.id}/", {"setting": "channels", "value": "only <#123>"})
    assert answer.status_code == 302
    assert GuildSettings.objects.get(guild_id=world.cafe.id).channels == {"only": ["123"]}


def test_past_seasons_are_listed_and_shown_on_a_private_board(world, log_in, client):
    from karma import seasons

    cafe, club = world.cafe.id, world.club.id
    writes.apply_changes(chat("", guild_id=cafe), [("tea", 2)])
    seasons.start(cafe, "Spring", "mod (1)")
    writes.apply_changes(chat("", guild_id=cafe), [("coffee", 3)])
    log_in(client, world.moderator)
    board = client.get(f"/dashboard/servers/{cafe}/board/").content.decode()
    assert f'href="/dashboard/servers/{cafe}/seasons/2/">2 (Spring)</a>' in board
    first = client.get(f"/dashboard/servers/{cafe}/seasons/1/")
    assert first.status_code == 200
    assert [row[0] for row in first.context["rows"]] == ["tea"]  # the board is private: here only
    assert [row[0] for row in client.get(f"/dashboard/servers/{cafe}/seasons/2/").context["rows"]] == ["coffee"]
    assert client.get(f"/dashboard/servers/{cafe}/seasons/3/").status_code == 404
    assert client.get(f"/dashboard/servers/{club}/seasons/1/").status_code == 403  # not Manage Server there


def test_the_ledger_says_what_was_rolled_up_and_exports_it(world, log_in, client, settings):
    from datetime import timedelta

    from django.core.cache import cache

    from karma.ledger import rollup

    settings.LEDGER_DETAIL_DAYS = 90
    cache.delete(rollup.ROLLED_UP_BEFORE)  # an earlier test's run: this one walks the whole ledger
    cafe = world.cafe.id
    log_in(client, world.moderator)
    assert b"kept as one row per name and day" not in client.get(f"/dashboard/servers/{cafe}/ledger/").content
    writes.apply_changes(chat("", guild_id=cafe), [("tea", 2)])
    old = rollup.cutoff(90) - timedelta(days=3)
    LedgerEntry.objects.filter(guild_id=cafe).update(created_at=old)
    assert rollup.roll_up(90) == 1
    page = client.get(f"/dashboard/servers/{cafe}/ledger/").content.decode()
    assert f"Changes before {rollup.cutoff(90).date().isoformat()} are kept as one row per name and day" in page
    rolled = client.get(f"/dashboard/servers/{cafe}/export/ledger-rollup.csv")
    rows = list(csv.reader(io.StringIO(b"".join(rolled.streaming_content).decode())))
    assert rows[0] == ["day", "subject", "delta", "changes", "total", "last_at"]
    assert [row[:4] for row in rows[1:]] == [[old.date().isoformat(), "tea", "2", "1"]]
