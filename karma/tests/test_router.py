"""The karma rules, message in, answer out, through the same router the workers run."""

import pytest

from karma import config, language
from karma.ledger import reads
from karma.models import Karma
from karma.replies import CHECK, QUESTION
from karma.router import respond
from testkit import answers
from testkit.messages import BOT_ID, chat, discord_messages
from testkit.rules import RULES
from testkit.talk import new_guild, say

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("content, reply", RULES)
def test_karma_rules(guild, content, reply):
    content = content.format(alice=42, bot=BOT_ID)
    assert say(guild, content, mentions={"42": "alice"}) == (reply, None)


@pytest.mark.parametrize("code", [code for code in language.SUPPORTED if code != language.ENGLISH])
@pytest.mark.parametrize("content, reply", RULES)
def test_karma_rules_in_every_language(guild, content, reply, code):
    """The same table, in a server that speaks another language: the same names and karma, said in
    it (testkit/answers.py reads the table's English answers and says them in that language)."""
    config.change(guild, "language", code, "test")
    content = content.format(alice=42, bot=BOT_ID)
    expected = answers.in_language(reply, language.DJANGO_CODES[code])
    assert say(guild, content, mentions={"42": "alice"}) == (expected, None)
    if reply and code == "de" and " has " in reply:
        assert expected != reply  # the table's announcements were translated, not passed through


def test_subjects_compare_exactly(guild):
    say(guild, "Popple++ popple++ popple++ café++ cafe-- (a b)++ (a  b)--")
    assert dict(Karma.objects.filter(guild_id=guild).values_list("subject", "karma")) == {
        "Popple": 1,
        "popple": 2,
        "café": 1,
        "cafe": -1,
        "a b": 1,
        "a  b": -1,
    }


def test_servers_do_not_share_karma(guild):
    other = new_guild()
    say(guild, "x++ x++")
    assert say(other, "x++") == ("x has 1 karma.", None)


def test_karma_accumulates_across_messages(guild):
    say(guild, "x++")
    assert say(guild, "x++ x++") == ("x has 3 karma.", None)


def test_karma_command_lists_each_name_once(guild):
    say(guild, "A++ A++ A++ (C D)-- alice++")
    text, _ = say(guild, f"<@{BOT_ID}> karma A B (C D) <@42> alice A", mentions={"42": "alice"})
    assert text == "A has 3 karma. B has 0 karma. C D has -1 karma. alice has 1 karma."


@pytest.mark.parametrize("prefix", [f"<@{BOT_ID}>", f"<@!{BOT_ID}>", "@Popple", f"  <@{BOT_ID}>"])
def test_command_prefixes(guild, prefix):
    assert say(guild, f"{prefix} karma x") == ("x has 0 karma.", None)


@pytest.mark.parametrize(
    "content",
    [f"hello <@{BOT_ID}> karma x", f"<@{BOT_ID}>karma x", "@Popplekarma x", "@popple karma x", "<@1> karma x"],
)
def test_not_commands(guild, content):
    assert say(guild, content) == (None, None)


def test_command_word_is_case_insensitive(guild):
    assert say(guild, "@Popple KARMA x") == ("x has 0 karma.", None)


def test_karma_without_names_reacts_with_a_question(guild):
    assert say(guild, "@Popple karma") == (None, QUESTION)
    assert say(guild, "@Popple karma   ") == (None, QUESTION)


def test_boards(guild):
    say(guild, "a++ a++ b++ c-- d++ d-- e++ e++ (f g)++ zero++ zero--")
    assert say(guild, "@Popple top") == (
        "* a has 2 karma.\n* e has 2 karma.\n* b has 1 karma.\n* f g has 1 karma.\n* c has -1 karma.",
        None,
    )
    assert say(guild, "@Popple top 2") == ("* a has 2 karma.\n* e has 2 karma.", None)
    assert say(guild, "@Popple bot 3") == ("* c has -1 karma.\n* b has 1 karma.\n* f g has 1 karma.", None)
    assert say(guild, "@Popple top 1 extra words") == ("* a has 2 karma.", None)


def test_board_default_size_is_ten(guild):
    say(guild, " ".join(f"s{i:02}++" for i in range(15)))
    text, _ = say(guild, "@Popple top")
    assert text.splitlines() == [f"* s{i:02} has 1 karma." for i in range(10)]


def test_empty_board(guild):
    assert say(guild, "@Popple top") == ("No one has any karma yet.", None)
    assert say(guild, "@Popple bot 5") == ("No one has any karma yet.", None)


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5", "00", "٣", "+3"])
def test_board_size_must_be_positive(guild, size):
    say(guild, "a++")
    assert say(guild, f"@Popple top {size}") == ("Board size must be a positive, non-zero number", None)
    assert say(guild, f"@Popple bot {size}") == ("Board size must be a positive, non-zero number", None)


def test_board_size_is_capped(guild):
    for first in range(0, 150, 15):
        say(guild, " ".join(f"s{i:03}++" for i in range(first, first + 15)))
    text, _ = say(guild, "@Popple top 99999999999999999999999999999")
    assert len(text.splitlines()) == 100


def test_a_message_changes_at_most_twenty_subjects(guild, settings):
    assert settings.MAX_SUBJECTS_PER_MESSAGE == 20
    text, _ = say(guild, " ".join(f"s{i:02}++" for i in range(30)) + " s00++")
    assert text == " ".join(f"s{i:02} has {2 if i == 0 else 1} karma." for i in range(20)) + (
        " (Only the first 20 names in a message count.)"
    )
    assert Karma.objects.filter(guild_id=guild).count() == 20


def test_a_board_of_long_names_fits_in_two_messages(guild):
    names = [f"{'_' * 120}{i:03}" for i in range(100)]
    for first in range(0, 100, 20):
        say(guild, " ".join(f"({name})++" for name in names[first : first + 20]))
    reply = respond(chat("@Popple bot 100", guild_id=guild))
    messages = discord_messages(reply)
    assert len(messages) == 2
    lines = "\n".join(messages).splitlines()
    shortened = "\\_" * 39 + "\N{HORIZONTAL ELLIPSIS}"
    assert lines[0] == f"* {shortened} has 1 karma."
    assert lines[-1] == f"\N{HORIZONTAL ELLIPSIS}and {100 - (len(lines) - 1)} more."
    assert Karma.objects.get(guild_id=guild, subject=names[0]).subject == names[0]  # kept whole


@pytest.mark.parametrize(
    "value, announce",
    [("on", True), ("off", False), ("yes", True), ("no", False), ("OFF", False), ("No thanks", False)],
)
def test_announce_setting(guild, value, announce):
    assert say(guild, f"@Popple announce {value}") == (None, CHECK)
    assert reads.announce_enabled(guild) is announce


@pytest.mark.parametrize("content", ["@Popple announce", "@Popple announce maybe", "@Popple announce onn"])
def test_announce_needs_a_valid_value(guild, content):
    assert say(guild, content) == ('Valid announce settings are: "on", "off", "yes", "no"', QUESTION)
    assert reads.announce_enabled(guild) is True


def test_glued_announce_is_not_a_command(guild):
    assert say(guild, "@Popple announceon") == (None, None)


def test_announce_off_changes_karma_silently(guild):
    say(guild, "@Popple announce off")
    assert say(guild, "x++ x++") == (None, None)
    assert say(guild, "@Popple karma x") == ("x has 2 karma.", None)
    assert say(guild, "@Popple top") == ("* x has 2 karma.", None)
    say(guild, "@Popple announce on")
    assert say(guild, "x++") == ("x has 3 karma.", None)


def test_only_managers_change_announce(guild):
    assert say(guild, "@Popple announce off", can_manage=False) == (
        "Only members who can manage this server can change announce.",
        QUESTION,
    )
    assert reads.announce_enabled(guild) is True
