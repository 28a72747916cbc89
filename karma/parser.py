"""Reads karma changes (`name++`, `(any text)--`) and command arguments out of message text.

One pass over the text, so a 4,000-character message costs about as much as 4,000 characters
of chat, whatever it holds. Rules, in order of application:

- Code is never karma: inline code and code blocks are skipped, parsing goes on after the closing
  backticks, and a backtick that is never closed ends the parse.
- A token runs to the next whitespace. A token that starts with `(` runs to the matching `)`
  first (nested parentheses belong to the name); an unmatched `(` is dropped and the rest is
  read word by word.
- A token counts when it ends with `++` or `--`, after trailing sentence punctuation.
- Its name is cleaned (karma/names.py: NFC, no invisible characters) and counts when it is
  neither empty nor longer than 128 characters.
- A reason: `for` or `because` right after a change starts it; it runs to the end of the sentence
  (`.`, `!` or `?` ending a word, or a line break), without code spans, trimmed, at most 200
  characters. Every change of that sentence gets it, those inside it too (`alice++ for teaching
  me c++` is a change of c as well: the `ignored` setting is for that).
"""

import re
from collections.abc import Iterator

from karma.models import MAX_NAME_LENGTH, MAX_REASON_LENGTH
from karma.names import clean

_BACKTICKS = re.compile(r"`+")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")
_MENTION = re.compile(r"<@!?(\d+)>")
_SENTENCE_END = ".,!?;:"
_SIGNS = {"++": 1, "--": -1}
_FULL_STOPS = ".!?"
REASON_WORDS = {"for", "because"}


def prose(text: str) -> Iterator[str]:
    """The parts of `text` outside code spans, in order."""
    runs = list(_BACKTICKS.finditer(text))
    start = 0
    i = 0
    while i < len(runs):
        opener = runs[i]
        # A code span closes with a run of exactly as many backticks as opened it.
        closer = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opener.group())), None)
        yield text[start : opener.start()]
        if closer is None:
            return
        start = runs[closer].end()
        i = closer + 1
    yield text[start:]


def _matching_parens(segment: str) -> dict[int, int]:
    """Map each `(` that is closed to the index of its `)`."""
    matches, open_at = {}, []
    for index, char in enumerate(segment):
        if char == "(":
            open_at.append(index)
        elif char == ")" and open_at:
            matches[open_at.pop()] = index
    return matches


def tokens(text: str) -> Iterator[tuple[bool, str, str]]:
    """Yield (in_parens, name, suffix) for each token outside code.

    For a parenthesised token `name` is what the parentheses hold and `suffix` what follows the
    closing one; for a plain token `name` is the whole token and `suffix` is empty.
    """
    for in_parens, name, suffix, _ in _tokens(text):
        yield in_parens, name, suffix


def _tokens(text: str) -> Iterator[tuple[bool, str, str, bool]]:
    """tokens(), each with whether a line break comes before it."""
    for segment in prose(text):
        matches = _matching_parens(segment)
        pos = 0
        while True:
            gap = _WHITESPACE.match(segment, pos)
            line_break = gap is not None and "\n" in gap.group()
            if gap:
                pos = gap.end()
            if pos >= len(segment):
                break
            if segment[pos] == "(":
                close = matches.get(pos)
                if close is None:
                    pos += 1  # an unclosed "(" is dropped; the rest reads word by word
                    continue
                word = _WORD.match(segment, close + 1)
                end = word.end() if word else close + 1
                yield True, segment[pos + 1 : close], segment[close + 1 : end], line_break
                pos = end
            else:
                word = _WORD.match(segment, pos)
                if word is None:  # never: segment[pos] is not a space
                    break
                yield False, word.group(), "", line_break
                pos = word.end()


def _sign(token: str) -> tuple[str, int] | None:
    """Split `token` into (name, +1/-1), or return None when it carries no sign at its end."""
    stripped = token.rstrip(_SENTENCE_END)
    delta = _SIGNS.get(stripped[-2:])
    if delta is None:
        return None
    return stripped[:-2], delta


def plain_name(word: str, mentions: dict[str, str]) -> str | None:
    """A plain (unparenthesised) name as users mean it: `@hi` is `hi`, `<@id>` is that user."""
    mention = _MENTION.fullmatch(word)
    if mention:
        return mentions.get(mention.group(1))
    return word[1:] if word.startswith("@") else word


def paren_name(inner: str) -> str:
    # Kept as typed, inner whitespace included; only the edges are trimmed.
    return inner.strip()


def _subject(name: str | None) -> str | None:
    """The name as a subject (karma/names.py), or None when it cannot be one (empty, too long)."""
    if name is None:
        return None
    name = clean(name)
    return name if name and len(name) <= MAX_NAME_LENGTH else None


def parse_changes(text: str, mentions: dict[str, str]) -> list[tuple[str, int]]:
    """Net karma change per name, in the order names first appear, without those that cancel out.

    `mentions` maps user ids (as strings) to usernames, for `<@id>++`.
    """
    return parse_message(text, mentions)[0]


def parse_message(text: str, mentions: dict[str, str]) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """parse_changes(), and the reason given for each name that has one (its first)."""
    totals: dict[str, int] = {}
    reasons: dict[str, str] = {}
    sentence: list[str]
    reason: list[str] | None
    sentence, reason, after_change = [], None, False  # this sentence's names, its reason's words

    def end_sentence() -> None:
        if reason:
            said = clean(" ".join(reason).rstrip(_FULL_STOPS))[:MAX_REASON_LENGTH].strip()
            for subject in sentence:
                if said:
                    reasons.setdefault(subject, said)

    for in_parens, name, suffix, line_break in _tokens(text):
        if line_break:
            end_sentence()
            sentence, reason, after_change = [], None, False
        word = f"({name}){suffix}" if in_parens else name
        if reason is not None:
            reason.append(word)
        elif after_change and name.lower() in REASON_WORDS and not in_parens:
            reason = []
        signed = _sign(suffix if in_parens else name)
        subject = None
        if signed is not None and not (in_parens and signed[0]):  # a sign must follow `)` directly
            subject = _subject(paren_name(name) if in_parens else plain_name(signed[0], mentions))
        if signed is not None and subject is not None:
            totals[subject] = totals.get(subject, 0) + signed[1]
            sentence.append(subject)
        after_change = subject is not None
        if word[-1:] in _FULL_STOPS:
            end_sentence()
            sentence, reason, after_change = [], None, False
    end_sentence()
    changes = [(subject, delta) for subject, delta in totals.items() if delta]
    return changes, {subject: reasons[subject] for subject, _ in changes if subject in reasons}


def parse_names(text: str, mentions: dict[str, str]) -> list[str]:
    """Names given as command arguments (`karma A <@id> (C D)`), each once, in order."""
    names: dict[str, None] = {}
    for in_parens, name, suffix in tokens(text):
        if in_parens:
            subject = paren_name(name) if not suffix else None
        else:
            subject = plain_name(name, mentions)
        subject = _subject(subject)
        if subject is not None:
            names.setdefault(subject, None)
    return list(names)
