"""Answers in the server's language (`@Popple config language de`, or Discord's preferred locale of
the server), through the router as the workers run it, on SQLite and on MariaDB alike."""

import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from karma import config, language
from karma.message import ADDED, ServerEvent
from karma.models import GuildSettings, SettingChange
from karma.replies import CHECK, QUESTION, REFUSED
from karma.retention import record
from karma.router import current_lines, respond_to_reaction
from karma.slash import SlashCommand, acknowledge, answer
from testkit import talk
from testkit.databases import DATABASES
from testkit.messages import reaction, snowflake

pytestmark = pytest.mark.django_db(databases=DATABASES)


@pytest.fixture
def guild(database):  # conftest.py's, on each database in turn
    return talk.new_guild()


def located(guild, locale):
    """The gateway saw the server, with Discord's preferred locale `locale` (a GUILD_CREATE)."""
    record(ServerEvent("joined", [guild], time.time(), [["home", None, locale]]))


def test_the_language_costs_karma_changes_no_query(guild, database):
    """`x++` reads the server's settings once, its language with its rules (the hot path)."""
    config.change(guild, "language", "de", "test")
    with CaptureQueriesContext(connections[database]) as queries:
        assert talk.say(guild, "x++") == ("x hat 1 karma.", None)
    settings_read = [q["sql"] for q in queries.captured_queries if "karma_guildsettings" in q["sql"]]
    assert len(settings_read) == 1
    assert "language" in settings_read[0]


def test_a_server_set_to_german_gets_german_answers(guild):
    assert talk.say(guild, "@Popple config language de") == ("language: de", CHECK)
    assert talk.say(guild, "tea++ coffee--") == ("tea hat 1 karma. coffee hat -1 karma.", None)
    assert talk.say(guild, "@Popple karma tea") == ("tea hat 1 karma.", None)
    assert talk.say(guild, "@Popple top 1") == ("* tea hat 1 karma.", None)
    assert talk.say(guild, "@Popple givers") == ("* user500 gab 1 karma.", None)
    assert talk.say(guild, "@Popple givers week") == ("* user500 gab 1 karma.", None)
    assert talk.say(guild, "@Popple why tea") == ("Noch keine Gründe für tea.", None)
    assert (
        talk.say(guild, "@Popple top foo")[0] == "Die Größe der Rangliste muss eine positive Zahl größer als null sein"
    )
    assert talk.say(guild, "@Popple season 9") == ("Es gibt keine Saison 9 (Saisons 1 bis 1).", QUESTION)
    assert talk.say(guild, "@Popple config budget 1") == ("budget: 1 Änderung pro Person und Stunde", CHECK)
    assert talk.say(guild, "@Popple config cooldown soon")[0].startswith("cooldown muss eine Zeit sein")
    assert talk.say(guild, "@Popple config colour red", can_manage=False)[0].startswith("Einstellungen: ")
    assert talk.say(guild, "a++", author_id=1) == ("a hat 1 karma.", None)
    refused = talk.say(guild, "b++", author_id=1)[0]
    assert refused.startswith("budget: 1 Änderung pro Person und Stunde; deine nächste in ")


def test_the_points_name_stays_the_servers_own_word(guild):
    config.change(guild, "language", "fr", "test")
    config.change(guild, "points", "cookie/cookies", "test")
    assert talk.say(guild, "tea++") == ("tea a 1 cookie.", None)
    assert talk.say(guild, "tea++") == ("tea a 2 cookies.", None)
    assert talk.say(guild, "@Popple top week") == ("Changements de la dernière semaine :\n* tea +2 cookies", None)
    assert talk.say(guild, "@Popple bot 1 month") == ("Changements du dernier mois :\n* tea +2 cookies", None)
    config.change(guild, "language", "es-ES", "test")
    assert talk.say(guild, "@Popple givers month")[0] == "* user500 dio 2 cookies."
    assert current_lines(guild, ["tea"])["tea"].text == "tea tiene 2 cookies."  # what delivery says when it asks


def test_a_reaction_and_a_refusal_are_said_in_the_language(guild):
    config.change(guild, "language", "pt-BR", "test")
    config.change(guild, "reactions", "👍", "test")
    assert respond_to_reaction(reaction(ADDED, guild, snowflake())).text() == "user500 tem 1 karma."
    assert talk.say(guild, "user500++", author_name="user500") == ("Você não pode dar karma a si mesmo.", None)
    config.change(guild, "announce", "off", "test")
    assert talk.say(guild, "user500++", author_name="user500") == (None, REFUSED)  # no words: nothing to translate


def test_the_default_is_discords_locale_of_the_server(guild):
    assert talk.say(guild, "x++") == ("x has 1 karma.", None)  # a server no gateway has described yet
    located(guild, "pt-BR")
    assert talk.say(guild, "x++") == ("x tem 2 karma.", None)
    assert talk.say(guild, "@Popple config")[0].splitlines()[10] == "language: auto (pt-BR)"
    config.change(guild, "language", "de", "test")
    assert talk.say(guild, "x++") == ("x hat 3 karma.", None)
    assert talk.say(guild, "@Popple config language auto") == ("language: auto", CHECK)
    assert talk.say(guild, "x++") == ("x tem 4 karma.", None)


@pytest.mark.parametrize(
    "locale, said",
    [
        ("en-US", "x has 1 karma."),
        ("en-GB", "x has 1 karma."),
        ("es-419", "x tiene 1 karma."),  # Latin American Spanish: Spanish is nearer than English
        ("fr", "x a 1 karma."),
        ("ja", "x has 1 karma."),  # a language Popple does not speak: English
        ("", "x has 1 karma."),
    ],
)
def test_discords_locales_map_to_a_language_popple_speaks(guild, locale, said):
    located(guild, locale)
    assert talk.say(guild, "x++") == (said, None)


def test_a_rename_keeps_the_locale_a_gateway_older_than_it_did_not_send(guild):
    located(guild, "de")
    record(ServerEvent("updated", [guild], time.time() + 10, [["renamed", None]]))
    assert GuildSettings.objects.get(guild_id=guild).locale == "de"


def test_a_locale_changed_in_discord_is_followed_at_connect(guild):
    located(guild, "de")
    record(ServerEvent("present", [guild], time.time() + 10, [["home", None, "fr"]]))
    assert talk.say(guild, "x++") == ("x a 1 karma.", None)


def test_a_language_popple_does_not_speak_is_refused_and_changes_are_audited_in_english(guild):
    said, reaction_ = talk.say(guild, "@Popple config language klingon")
    assert reaction_ == QUESTION
    assert said.startswith('language must be "auto"')
    assert said.endswith("en, de, fr, es-ES, pt-BR")
    assert talk.say(guild, "@Popple config language pt_br") == ("language: pt-BR", CHECK)
    assert talk.say(guild, "@Popple config budget 5") == ("budget: 5 alterações por pessoa por hora", CHECK)
    audited = SettingChange.objects.filter(guild_id=guild).order_by("id")
    assert [(c.setting, c.old, c.new) for c in audited] == [
        ("language", "auto", "pt-BR"),
        ("budget", "off", "5 changes per person per hour"),  # the admin reads it: English
    ]


def interaction(guild, command, options, locale="", can_manage=False):
    return SlashCommand(
        interaction_id=snowflake(),
        application_id=9,
        token="t",
        guild_id=guild,
        channel_id=7,
        user_id=8,
        user_name="alice",
        user_global_name="",
        user_nick="",
        can_manage=can_manage,
        command=command,
        options=options,
        locale=locale,
    )


def test_slash_answers_in_the_servers_language_and_refusals_in_the_clients(guild):
    config.change(guild, "language", "de", "test")
    assert answer(interaction(guild, "plus", {"name": "tea"})).content == "tea hat 1 karma."
    assert answer(interaction(guild, "top", {"size": 5})).content == "* tea hat 1 karma."
    assert answer(interaction(guild, "config", {"setting": "budget", "value": "off"}, can_manage=True)).content == (
        "budget: off"
    )
    # Refused at once, before any database: in the language of the person's own client.
    assert acknowledge(interaction(guild, "top", {"size": 0}, locale="fr")).refusal == (
        "La taille d'un classement est un nombre de 1 à 100."
    )
    assert acknowledge(interaction(0, "top", {}, locale="es-ES")).refusal == (
        "Los comandos de Popple funcionan en servidores, donde se guarda el karma, no en mensajes directos."
    )
    assert acknowledge(interaction(guild, "config", {"setting": "budget"})).refusal == (
        "Only members who can manage this server can change settings."
    )


def test_nothing_stays_in_the_language_of_the_last_answer(guild):
    talk.say(guild, "@Popple config language de")
    assert talk.say(guild, "x++") == ("x hat 1 karma.", None)
    assert translation.get_language() == "en-us"  # the worker's own language, as before the answer
    assert talk.say(talk.new_guild(), "x++") == ("x has 1 karma.", None)


def test_what_people_type_for_a_language():
    assert [language.parse(typed) for typed in ("de", "DE", "fr", "es", "es-ES", "pt", "pt_BR", "en", "auto")] == [
        "de", "de", "fr", "es-ES", "es-ES", "pt-BR", "pt-BR", "en", "",
    ]  # fmt: skip
    assert language.parse("ja") is None
    assert language.django_code("", "pt-BR") == "pt-br"
    assert language.django_code("de", "fr") == "de"  # the setting wins over Discord's locale
