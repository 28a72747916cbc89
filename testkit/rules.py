"""The karma rules as (message, reply) pairs, checked in-process and through the distributed path.

`{alice}` is the id of a user named alice, `{bot}` the bot's id (its name is Popple). A reply of
None means the bot stays silent.
"""

RULES = [
    ("Popple++", "Popple has 1 karma."),
    ("coffee--", "coffee has -1 karma."),
    ("(the build server)++", "the build server has 1 karma."),
    ("a++ a++", "a has 2 karma."),
    ("a++ a--", None),
    ("b++ a++ c-- b++", "b has 2 karma. a has 1 karma. c has -1 karma."),
    ("(a (b) c)++", "a (b) c has 1 karma."),
    ("()++", None),
    ("(unclosed word++", "word has 1 karma."),
    ("(nothing) (something)++", "something has 1 karma."),
    ("no++karma", None),
    ("Thanks, Popple++!", "Popple has 1 karma."),
    ("@hi++", "hi has 1 karma."),
    ("(@hi)++", "@hi has 1 karma."),
    ("<@{alice}>++", "alice has 1 karma."),
    ("<@!{alice}>--", "alice has -1 karma."),
    ("<@{bot}>++", "Popple has 1 karma."),
    ("++++", "++ has 1 karma."),
    ("c++--", "c++ has -1 karma."),
    ("Popple++ popple++ café++ cafe++", "Popple has 1 karma. popple has 1 karma. café has 1 karma. cafe has 1 karma."),
    ("`a++` b++", "b has 1 karma."),
    ("```\na++\n``` b++", "b has 1 karma."),
    ("`unclosed a++", None),
    ("(@everyone)++", "@everyone has 1 karma."),
    ("snake_case++", "snake\\_case has 1 karma."),
    ("x" * 129 + "++", None),
    ("just chatting", None),
    ("<@{bot}> karma nobody <@{alice}>", "nobody has 0 karma. alice has 0 karma."),
    ("@Popple top", "No one has any karma yet."),
    ("<@{bot}> bot 0", "Board size must be a positive, non-zero number"),
    ("<@{bot}>karma x", None),
    ("hello <@{bot}> karma x", None),
]
