"""A message that thanks someone gives them +1, on servers that turn it on (`@Popple config thanks on`).

`thanks @alice`, `thank you @alice`, `ty @alice`, or a reply to alice's message that starts with a
thank-word. Each thank-word gives to at most one person: the first person mentioned after it
(before the next thank-word), or, for a thank-word that starts a reply with no one mentioned after
it, the author of the message replied to. Never the author of the thanks, never a bot; a person
thanked twice in a message gets +1 once, and a name the message also `++`s counts once.

The words a server's thanks listen for are its choice among THANK_WORDS (`@Popple config
thankwords thanks, merci`). A fixed set, because the gateway must recognise a thanks before any
worker reads the server's settings: it forwards a message that mentions someone or replies to a
message only when it holds one of these words (botgateway/gateway.py), rather than every such
message, which is a good share of all chat.
"""

import re

from karma.names import clean

# Lower case; whole words. Not "cheers" or "ta": too often not thanks.
THANK_WORDS = (
    "thanks", "thank you", "thank u", "thx", "ty", "tysm", "tyvm", "merci", "danke", "gracias", "grazie",
    "obrigado", "obrigada", "bedankt", "tack", "takk", "kiitos", "dzięki", "děkuji", "köszönöm", "спасибо",
)  # fmt: skip
DEFAULT_THANK_WORDS = ["thanks", "thank you", "thx", "ty"]
_MENTION = re.compile(r"<@!?(\d+)>")


def _pattern(words: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    longest_first = sorted(words, key=len, reverse=True)  # "thank you" before "thank u" before "ty"
    # Any run of spaces or a line break between a word's parts, as people type them ("thank  you").
    spelled = (r"\s+".join(map(re.escape, word.split())) for word in longest_first)
    return re.compile(r"(?<!\w)(?:" + "|".join(spelled) + r")(?!\w)", re.IGNORECASE)


_ANY_THANK_WORD = _pattern(THANK_WORDS)


def may_thank(content: str) -> bool:
    """Whether `content` holds a thank-word any server may listen for (the gateway's filter)."""
    return _ANY_THANK_WORD.search(content) is not None


def thanked(content: str, words: list[str], people: dict[str, str], bots: list[str], author_id: int,
            replied_to: int) -> list[str]:  # fmt: skip
    """The usernames `content` thanks, each once, in order (see the module's docstring).

    `people` maps user ids (as strings) to usernames: those mentioned, and the one replied to;
    `bots` are ids of mentioned bots; `replied_to` is the id of the person whose message this
    replies to (0: none, or a bot).
    """
    if not words:
        return []
    found = [match.start() for match in _pattern(words).finditer(content)]
    mentioned = [(match.start(), match.group(1)) for match in _MENTION.finditer(content)]
    names: dict[str, None] = {}
    for index, start in enumerate(found):
        end = found[index + 1] if index + 1 < len(found) else len(content)
        after = [user for at, user in mentioned if start < at < end]
        if after:
            person = after[0]
        elif index == 0 and replied_to and not content[:start].strip():
            person = str(replied_to)
        else:
            continue
        name = people.get(person)
        if name and person not in bots and person != str(author_id):
            names.setdefault(clean(name), None)
    return [name for name in names if name]


def with_thanks(changes: list[tuple[str, int]], thanks: list[str]) -> list[tuple[str, int]]:
    """The message's `++`/`--` changes, then +1 for each person thanked that they do not name."""
    named = {subject for subject, _ in changes}
    return [*changes, *((name, 1) for name in thanks if name not in named)]


def parse_words(text: str) -> list[str] | None:
    """Thank-words as a moderator typed them (commas between them), each among THANK_WORDS; None
    when one is not."""
    words = [" ".join(word.lower().split()) for word in text.split(",")]
    words = list(dict.fromkeys(word for word in words if word))
    return words if words and all(word in THANK_WORDS for word in words) else None
