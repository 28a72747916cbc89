import pytest

from karma.parser import parse_changes, parse_names

MENTIONS = {"42": "alice", "43": "bob the builder"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Popple++", [("Popple", 1)]),
        ("coffee--", [("coffee", -1)]),
        ("(the build server)++", [("the build server", 1)]),
        ("(the  build server)++", [("the  build server", 1)]),  # inner spaces as typed
        # line breaks, tabs and other control characters: one space with the spaces around them
        ("(foo\nbar)++", [("foo bar", 1)]),
        ("(the build \r\n\t server)++ (a\x00b)++", [("the build server", 1), ("a b", 1)]),
        ("(caf\u00e9\u2028bar)++ (x\x85y)++", [("caf\u00e9 bar", 1), ("x y", 1)]),
        ("a++ a++", [("a", 2)]),
        ("a++ a--", []),
        ("a++ b++ a--", [("b", 1)]),
        ("b++ a++ b++", [("b", 2), ("a", 1)]),
        ("a++ b-- c++", [("a", 1), ("b", -1), ("c", 1)]),
        # parentheses
        ("(a (b) c)++", [("a (b) c", 1)]),
        ("()++", []),
        ("( )++", []),
        ("(unclosed word++", [("word", 1)]),
        ("(unclosed (x)++", [("x", 1)]),
        ("(nothing) (something)++", [("something", 1)]),
        ("(a)b++", []),
        ("(a)++b", []),
        ("(a)++!", [("a", 1)]),
        ("(a)+++", []),
        # the sign ends the token; sentence punctuation may follow
        ("no++karma", []),
        ("Thanks, Popple++!", [("Popple", 1)]),
        ("Popple++.", [("Popple", 1)]),
        ("great work team--?!", [("team", -1)]),
        ("++", []),
        ("-- ++ --", []),
        # @ and mentions
        ("@hi++", [("hi", 1)]),
        ("(@hi)++", [("@hi", 1)]),
        ("<@42>++", [("alice", 1)]),
        ("<@!42>--", [("alice", -1)]),
        ("<@43>++", [("bob the builder", 1)]),
        ("<@999>++", []),
        ("(<@42>)++", [("<@42>", 1)]),
        ("<@&7>++ <#8>++", [("<@&7>", 1), ("<#8>", 1)]),
        # signs inside names
        ("++++", [("++", 1)]),
        ("c++--", [("c++", -1)]),
        ("c++++", [("c++", 1)]),
        # exact comparison
        ("Popple++ popple++ café++ cafe++", [("Popple", 1), ("popple", 1), ("café", 1), ("cafe", 1)]),
        ("🎉++ 🎉++", [("🎉", 2)]),
        # code is never karma
        ("`a++`", []),
        ("`a++` b++", [("b", 1)]),
        ("x`a++`y++", [("y", 1)]),
        ("```\na++\n``` b++", [("b", 1)]),
        ("`` a` ++ `` b++", [("b", 1)]),
        ("`unclosed a++", []),
        ("b++ `unclosed a++", [("b", 1)]),
        ("b++ ``` a++ ` c++", [("b", 1)]),
        ("(a `code` b)++", [("b)", 1)]),  # code splits the text: "(a " is unclosed, then "b)++"
        # length
        ("x" * 128 + "++", [("x" * 128, 1)]),
        ("x" * 129 + "++", []),
        ("(" + "y" * 129 + ")++", []),
        ("", []),
        ("just chatting", []),
    ],
)
def test_parse_changes(text, expected):
    assert parse_changes(text, MENTIONS) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A B (C D)", ["A", "B", "C D"]),
        ("a a", ["a"]),
        ("<@42> alice @alice", ["alice"]),
        ("(x) `code` y", ["x", "y"]),
        ("", []),
        ("x" * 129, []),
    ],
)
def test_parse_names(text, expected):
    assert parse_names(text, MENTIONS) == expected


@pytest.mark.parametrize(
    "text, changes",
    [
        ("ad\u200bmin++", [("admin", 1)]),
        ("cafe\u0301++ café++", [("café", 2)]),  # NFC: one name, however it was typed
        ("(\u202eevil\u202c)++", [("evil", 1)]),
        ("\u200b++ (\u2066\u2069)++", []),  # empty once cleaned: counts for nothing
        ("(\u200b spaced \u200b)++", [("spaced", 1)]),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467++", [("\U0001f468\u200d\U0001f469\u200d\U0001f467", 1)]),
        ("a\u200db++", [("ab", 1)]),  # a joiner outside an emoji sequence hides nothing
    ],
)
def test_names_cannot_masquerade(text, changes):
    assert parse_changes(text, {}) == changes
