"""The ledger's filters: name, person, source and days, each narrowing to this server's rows."""

from dashboard.tests.conftest import chat
from karma.ledger import writes
from karma.models import LedgerEntry


def shown(response):
    return [line.strip() for line in response.content.decode().split("<td>") if line.startswith(("coffee", "tea"))]


def test_filters_by_name_person_source_and_day(world, log_in, client):
    cafe = world.cafe.id
    writes.apply_changes(
        chat("", guild_id=cafe, author_id=601, author_name="ann"), [("coffee", 1)], {"coffee": "beans"}
    )
    writes.apply_changes(chat("", guild_id=cafe, author_id=602, author_name="bob"), [("tea", 2)])
    writes.apply_changes(chat("", guild_id=world.club.id, author_id=601, author_name="ann"), [("coffee", 9)])
    LedgerEntry.objects.filter(subject="tea").update(created_at="2026-11-02T23:59:59Z")
    LedgerEntry.objects.filter(subject="coffee").update(created_at="2026-11-03T00:00:00Z")
    log_in(client, world.moderator)
    ledger = f"/dashboard/servers/{cafe}/ledger/"

    def rows(**query):
        answer = client.get(ledger, query)
        assert answer.status_code == 200
        return [(entry.subject, entry.delta) for entry in answer.context["entries"]]

    assert rows() == [("tea", 2), ("coffee", 1)]  # this server's only, newest first
    assert rows(name="coffee") == [("coffee", 1)]
    assert rows(person="bob") == [("tea", 2)]
    assert rows(person="601") == [("coffee", 1)]
    assert rows(source="chat", until="2026-11-02") == [("tea", 2)]
    assert rows(since="2026-11-03") == [("coffee", 1)]
    assert rows(source="revert") == []
    assert "beans" in client.get(ledger, {"name": "coffee"}).content.decode()
    refused = client.get(ledger, {"since": "yesterday"})
    assert refused.status_code == 400
    assert "Enter a valid date." in refused.content.decode()
