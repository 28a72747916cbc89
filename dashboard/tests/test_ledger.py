"""The ledger's filters: name, person, source and days, each narrowing to this server's rows."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from dashboard.forms import LedgerFilter
from dashboard.tests.conftest import chat
from dashboard.views import LEDGER_PAGE, _ledger_rows
from karma.ledger import writes
from karma.models import LedgerEntry
from testkit.databases import DATABASES


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


def test_pages_of_the_ledger_go_back_from_the_last_row_shown(world, log_in, client):
    cafe = world.cafe.id
    for number in range(LEDGER_PAGE + 5):
        writes.apply_changes(chat("", guild_id=cafe), [(f"name {number}", 1)])
    log_in(client, world.moderator)
    first = client.get(f"/dashboard/servers/{cafe}/ledger/", {"source": "chat"})
    subjects = [entry.subject for entry in first.context["entries"]]
    assert subjects == [f"name {number}" for number in range(LEDGER_PAGE + 4, 4, -1)]
    older = re.search(r'href="\?([^"]*before=\d+)">Older', first.content.decode()).group(1).replace("&amp;", "&")
    second = client.get(f"/dashboard/servers/{cafe}/ledger/?{older}")
    assert [entry.subject for entry in second.context["entries"]] == [f"name {n}" for n in range(4, -1, -1)]
    assert "source=chat" in older  # the filters stay
    assert ">Older<" not in second.content.decode()
    assert ">Newest<" in second.content.decode()
    assert 'name="before"' not in second.content.decode()  # a new filter starts from the newest


def test_a_person_is_found_by_id_by_name_and_as_a_moderator_newest_first_in_pages(world, log_in, client):
    cafe = world.cafe.id
    log_in(client, world.moderator)  # the dashboard's user "mod", who reverts below
    for number in range(LEDGER_PAGE):
        # In turns: someone else who goes by "mod" in chat, and the moderator "mod" (by Discord id).
        author = (700, "mod") if number % 2 else (world.moderator, "moderator")
        writes.apply_changes(
            chat("", guild_id=cafe, author_id=author[0], author_name=author[1]), [(f"tea {number}", 1)]
        )
    writes.apply_changes(chat("", guild_id=cafe, author_id=602, author_name="bob"), [("coffee", 1)])
    bobs = LedgerEntry.objects.get(subject="coffee").id
    assert client.post(f"/dashboard/servers/{cafe}/revert/", {"entry": [bobs]}).status_code == 302
    ledger = f"/dashboard/servers/{cafe}/ledger/"

    def subjects(**query):
        answer = client.get(ledger, query)
        assert answer.status_code == 200
        return [(entry.subject, entry.source) for entry in answer.context["entries"]], answer.context["older"]

    by_name, older = subjects(person="mod")  # the chat name, and the moderator who reverted
    assert by_name == [("coffee", "revert")] + [(f"tea {n}", "chat") for n in range(LEDGER_PAGE - 1, 0, -2)]
    assert older is None
    by_id, older = subjects(person=str(world.moderator))
    assert by_id == [(f"tea {n}", "chat") for n in range(LEDGER_PAGE - 2, -1, -2)]
    both, older = subjects(person="mod", source="chat")
    assert both == by_name[1:]
    assert subjects(person="bob") == ([("coffee", "chat")], None)
    assert subjects(person="nobody") == ([], None)


def test_a_persons_pages_go_back_from_the_last_row_shown(world, log_in, client):
    cafe = world.cafe.id
    for number in range(LEDGER_PAGE + 5):
        author = (601, "ann") if number % 3 else (602, "601")  # a name that reads as another's id
        writes.apply_changes(chat("", guild_id=cafe, author_id=author[0], author_name=author[1]), [(f"n{number}", 1)])
    log_in(client, world.moderator)
    ledger = f"/dashboard/servers/{cafe}/ledger/"
    with CaptureQueriesContext(connection) as queries:
        first = client.get(ledger, {"person": "601"})
    # One query for each way of naming a person, each on an index: never an OR across the ways.
    assert not [query for query in queries.captured_queries if "ledgerentry" in query["sql"] and " OR " in query["sql"]]
    assert [entry.subject for entry in first.context["entries"]] == [f"n{n}" for n in range(LEDGER_PAGE + 4, 4, -1)]
    second = client.get(ledger, {"person": "601", "before": first.context["older"]})
    assert [entry.subject for entry in second.context["entries"]] == [f"n{n}" for n in range(4, -1, -1)]
    assert second.context["older"] is None


def index_read(database, sql):
    """The index the database reads the ledger's rows on for this query (None: a scan)."""
    with connections[database].cursor() as cursor:
        if database == "mariadb":
            cursor.execute(f"EXPLAIN {sql}")
            columns = [column[0] for column in cursor.description]
            steps = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            return next(step["key"] for step in steps if step["table"] == "karma_ledgerentry")
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        details = [row[-1] for row in cursor.fetchall() if "karma_ledgerentry" in row[-1]]
        return details[0].split(" INDEX ")[1].split(" ")[0] if " INDEX " in details[0] else None


@pytest.mark.django_db(databases=DATABASES)
def test_a_rare_source_and_a_rare_person_are_read_on_their_indexes(database):
    # Issue 25: without them, a page of a source or a person few rows have read the server's whole
    # ledger, newest first (0.7 s for a million rows on MariaDB; bench/dashboard.py).
    for number in range(300):
        writes.apply_changes(chat("", guild_id=5, author_id=601, author_name="ann"), [(f"n{number}", 1)])
    get_user_model().objects.db_manager(database).create_user("someone")
    with CaptureQueriesContext(connections[database]) as queries:
        for query in ({"source": "merge"}, {"person": "someone"}, {"person": "602"}):
            assert list(_ledger_rows(5, LedgerFilter(query))) == []
    ledger = [query["sql"] for query in queries.captured_queries if "karma_ledgerentry" in query["sql"]]
    # The source; the person by name and as a moderator (someone), by name and by Discord id (602).
    expected = ["ledger_source", "ledger_author", "admin_user_id", "ledger_author", "ledger_giver"]
    read = [index_read(database, sql) or "a scan" for sql in ledger]
    assert len(read) == len(expected)
    assert all(name in index for index, name in zip(read, expected, strict=True)), read
