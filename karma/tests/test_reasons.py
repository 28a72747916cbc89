"""Reasons: read from a message, kept in the ledger, told by `why` and shown in the admin."""

import time

import pytest
from django.urls import reverse

from karma.models import Karma, LedgerEntry
from karma.parser import parse_message
from karma.router import forget_deleted, respond, why_lines
from testkit.messages import BOT_ID, chat, deletion, snowflake
from testkit.talk import reply_to

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text, changes, reasons",
    [
        ("alice++ for fixing the build", [("alice", 1)], {"alice": "fixing the build"}),
        ("alice++ because she fixed it.", [("alice", 1)], {"alice": "she fixed it"}),
        ("alice++ FOR the fix!", [("alice", 1)], {"alice": "the fix"}),
        # Several subjects in one sentence share its reason, those after the keyword too.
        ("alice++ bob++ for the release", [("alice", 1), ("bob", 1)], {"alice": "the release", "bob": "the release"}),
        ("alice++ for teaching me c++", [("alice", 1), ("c", 1)], {"alice": "teaching me c++", "c": "teaching me c++"}),
        # A sentence or a line ends a reason; the next one has its own, or none.
        (
            "alice++ for the fix. bob-- because he broke it\ncarol++",
            [("alice", 1), ("bob", -1), ("carol", 1)],
            {"alice": "the fix", "bob": "he broke it"},
        ),
        ("alice++. for nothing", [("alice", 1)], {}),
        # Code spans are not reasons, nor is a keyword inside one.
        ("alice++ for `make test`", [("alice", 1)], {}),
        ("alice++ for `make test` passing", [("alice", 1)], {"alice": "passing"}),
        ("alice++ `for the build`", [("alice", 1)], {}),
        # The keyword must follow a change.
        ("thanks for the fix, alice++", [("alice", 1)], {}),
        ("(the build server)++ for staying up", [("the build server", 1)], {"the build server": "staying up"}),
        # The first reason a name gets is its reason.
        ("alice++ for one\nalice++ for two", [("alice", 2)], {"alice": "one"}),
        ("alice++ for   lots   of   space  ", [("alice", 1)], {"alice": "lots of space"}),
    ],
)
def test_reasons_are_read(text, changes, reasons):
    assert parse_message(text, {}) == (changes, reasons)


def test_a_long_reason_is_cut_to_200_characters():
    _, reasons = parse_message("alice++ for " + "word " * 100, {})
    assert 195 <= len(reasons["alice"]) <= 200
    assert reasons["alice"].startswith("word word ")


def test_the_ledger_keeps_the_reason_of_each_change(guild):
    respond(chat("alice++ bob-- for the outage", guild_id=guild))
    rows = LedgerEntry.objects.filter(guild_id=guild).order_by("subject")
    assert list(rows.values_list("subject", "reason")) == [("alice", "the outage"), ("bob", "the outage")]


def say(guild, content, **kwargs):
    return reply_to(guild, content, message_id=snowflake(), **kwargs)


def test_why_tells_the_last_five_reasons_newest_first(guild):
    for n in range(7):
        say(guild, f"alice++ for fix {n}", author_id=800 + n, author_name=f"user_{n}")
    say(guild, "alice-- no reason")
    reply = say(guild, "@Popple why alice")
    rows = LedgerEntry.objects.filter(guild_id=guild).exclude(reason="").order_by("-id")[:5]
    assert reply.joiner == "\n"
    assert reply.text().splitlines() == [
        f"alice +1 from user\\_{6 - n} <t:{int(row.created_at.timestamp())}:R>: fix {6 - n}"
        for n, row in enumerate(rows)
    ]
    assert Karma.objects.get(guild_id=guild, subject="alice").karma == 6  # `why` changes nothing


def test_why_without_reasons_says_so(guild):
    say(guild, "bob++")
    assert say(guild, "@Popple why bob").text() == "No reasons recorded for bob yet."
    assert say(guild, "@Popple why (nobody at all)").text() == "No reasons recorded for nobody at all yet."
    assert say(guild, "@Popple why").reaction == "\N{BLACK QUESTION MARK ORNAMENT}"


def test_why_is_ping_safe_and_shows_markdown_as_typed(guild):
    mentions = {"42": "eve"}
    say(guild, "bob++ for **bold** <@42> @everyone", mentions=mentions, author_name="a_b")
    [line] = why_lines(guild, "bob")
    assert "from a\\_b " in line
    assert line.endswith(": \\*\\*bold\\*\\* <@42> @everyone")  # allowed mentions are none on every reply


def test_why_forgets_deleted_messages(guild):
    kept, deleted = say(guild, "bob++ for staying"), chat("bob++ for going", guild_id=guild, message_id=snowflake())
    respond(deleted)
    forget_deleted(deletion(guild, guild * 10, [deleted.message_id], time.time()))
    assert kept
    assert [line.rsplit(": ", 1)[1] for line in why_lines(guild, "bob")] == ["staying"]


def test_why_is_a_command_with_the_mention(guild):
    assert say(guild, f"<@{BOT_ID}> why bob").text() == "No reasons recorded for bob yet."


def test_the_admin_shows_reasons_in_the_ledger_and_on_a_subjects_page(admin_client, guild):
    say(guild, "alice++ for <b>the fix</b>", author_name="carol")
    ledger = admin_client.get(reverse("admin:karma_ledgerentry_changelist"), {"q": "the fix"})
    assert "&lt;b&gt;the fix&lt;/b&gt;" in ledger.content.decode()
    assert [row.subject for row in ledger.context["cl"].result_list] == ["alice"]
    row = Karma.objects.get(guild_id=guild, subject="alice")
    page = admin_client.get(reverse("admin:karma_karma_change", args=[row.pk])).content.decode()
    assert "+1 by carol: &lt;b&gt;the fix&lt;/b&gt;" in page
    bob = say(guild, "bob++") and Karma.objects.get(guild_id=guild, subject="bob")
    assert (
        "No reasons recorded yet."
        in admin_client.get(reverse("admin:karma_karma_change", args=[bob.pk])).content.decode()
    )
