"""Shared by the benchmarks: CPU accounting, tables, and where results go.

A run writes its results under var/bench/ (ignored by git) and prints them; it never touches a
tracked file. `scripts/publish-reports` copies the latest ones into bench/README.md and
bench/results/ when someone means to update them.
"""

import contextlib
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"  # this machine's latest runs
PUBLISHED = ROOT / "bench" / "results"  # the committed copies, with bench/README.md
README = ROOT / "bench" / "README.md"
CHARTS = ("pipeline-latency.png", "pipeline-throughput.png")
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[1]), [int(value) for value in fields[11:15]]  # ppid; utime, stime, cutime, cstime


def pids_of(name):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_seconds(pids, descendants=True):
    """User + system CPU of these processes, their live descendants and their reaped children."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry)] = _stat(entry)[0]
    family, frontier = set(pids), list(pids) if descendants else []
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in family]
        family.update(children)
        frontier.extend(children)
    total = 0
    for pid in family:
        try:
            utime, stime, cutime, cstime = _stat(pid)[1]
        except (OSError, IndexError):
            continue
        total += utime + stime + cutime + cstime
    return total / TICKS


def mysql_params(url):
    """MySQLdb.connect() arguments for a mysql://user:password@host:port/name URL."""
    credentials, location = url.split("://", 1)[1].rsplit("@", 1)
    user, password = credentials.split(":", 1)
    address, name = location.split("/", 1)
    host, port = address.split(":")
    return {"host": host, "port": int(port), "user": user, "password": password, "database": name}


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report(name, text):
    """Print a benchmark's results and keep them in var/bench/NAME.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text + "\n")
    print(text)


def publish():
    """Copy the latest results into bench/README.md's sections and bench/results/; returns their names."""
    published = []
    PUBLISHED.mkdir(exist_ok=True)
    for result in sorted(RESULTS.glob("*.md")):
        text = result.read_text().rstrip("\n")
        (PUBLISHED / result.name).write_text(text + "\n")
        update_readme(result.stem, f"python bench/{result.stem}.py", text)
        published.append(result.name)
    for name in (*CHARTS, "pipeline.json"):
        if (RESULTS / name).exists():
            (PUBLISHED / name).write_bytes((RESULTS / name).read_bytes())
            published.append(name)
    return published


def update_readme(section, command, text):
    """Replace this benchmark's section of bench/README.md with its latest results."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    body = f"{start}\n`{command}`\n\n{text}\n{end}"
    readme = README.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    README.write_text(pattern.sub(lambda _: body, readme) if pattern.search(readme) else readme + "\n" + body + "\n")
