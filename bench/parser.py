"""Parser speed: typical chat lines per second, and pathological 4,000-character messages.

    python bench/parser.py

Each pathological kind is timed at 1,000, 2,000 and 4,000 characters: a linear parser takes about
twice as long for twice the text, so the ratio columns stay near 2.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poppleproject.settings")
os.environ.setdefault("DJANGO_READ_DOT_ENV_FILE", "false")

import django  # noqa: E402

django.setup()  # karma.parser takes the name limit from the models; no database is touched

from bench.messages import typical_lines  # noqa: E402
from bench.report import markdown_table, report  # noqa: E402
from karma.parser import parse_changes, parse_names  # noqa: E402
from karma.router import split_command  # noqa: E402

MENTIONS = {"1": "someone"}


def read(text):
    """What a worker does with a message's text before touching the database."""
    split_command(text, 1, "Popple")
    parse_changes(text, MENTIONS)


def repeat(text, length):
    return (text * (length // len(text) + 1))[:length]


PATHOLOGICAL = {
    "((((…": lambda n: "(" * n,
    "((((…))))": lambda n: "(" * (n // 2) + ")" * (n // 2),
    "+-+-…": lambda n: repeat("+-", n),
    "++++…": lambda n: "+" * n,
    "subjects (a++ b++ …)": lambda n: repeat("a++ ", n),
    "``````…": lambda n: "`" * n,
    "`x` `x` …": lambda n: repeat("`x` ", n),
    "` `` ``` …": lambda n: repeat("` `` ``` `` ", n),
    "(a (a (a …": lambda n: repeat("(a ", n),
    "<@1>++ …": lambda n: repeat("<@1>++ ", n),
    "one long word": lambda n: "x" * n,
    "@@@@…++": lambda n: "@" * (n - 2) + "++",
}


def best_seconds(function, argument, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(argument)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    lines = typical_lines(100_000)

    def read_all(batch):
        for line in batch:
            read(line)

    typical = len(lines) / best_seconds(read_all, lines, 3)
    rows = []
    for kind, make in PATHOLOGICAL.items():
        times = [best_seconds(read, make(n), 20) * 1000 for n in (1000, 2000, 4000)]
        names = best_seconds(lambda text: parse_names(text, MENTIONS), make(4000), 20) * 1000
        rows.append([kind, *(f"{t:.2f}" for t in times), f"{times[1] / times[0]:.1f}", f"{times[2] / times[1]:.1f}",
                     f"{names:.2f}"])  # fmt: skip
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"Typical chat (100,000 lines, 30 % with karma): **{typical:,.0f} lines/s** "
            "(command detection and karma parsing, one core).",
            "Pathological messages, best of 20, milliseconds:\n\n"
            + markdown_table(
                ["message", "1,000 chars", "2,000 chars", "4,000 chars", "2k/1k", "4k/2k", "as command arguments, 4k"],
                rows,
            ),
        ]
    )
    report("parser", text)


if __name__ == "__main__":
    main()
