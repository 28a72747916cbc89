"""Processes that a killed test or benchmark run left running, stopped before the next run.

A stack's processes have sessions of their own (testkit/processes.py), so that a test can stop or
kill each one's whole group; for the same reason they outlive a pytest that is killed before its
teardown (a timeout, Ctrl-C twice). A worker left so keeps consuming the machine's RabbitMQ and
takes the next run's tasks, with the old run's Discord and databases: that run then fails in ways
that point nowhere (karma applied to another database, channels never told their final values).

Each process a run starts carries MARK=<the run's identity: its pid and its start time, which a
later process given the same pid does not share>. `python -m testkit.strays`
(scripts/test runs it first) stops the groups of those whose run is gone, and names, without
touching them, those of a run still going.
"""

import os
import signal
import sys
from pathlib import Path

MARK = "POPPLE_TEST_RUN"


def identity(pid: int) -> str | None:
    """ "pid:start time" of a running process (None once it ended): unlike a pid, never reused."""
    try:
        # The fields after the command's name (which may hold anything): state first, start time 20th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else f"{pid}:{fields[19]}"


def running(pid: int) -> bool:
    return identity(pid) is not None


def mark_of(pid: int) -> str | None:
    """The run a process was started by, from its environment (None: not marked, or gone)."""
    prefix = f"{MARK}=".encode()
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()  # empty for a zombie
    except OSError:
        return None  # gone meanwhile, or not ours to read
    return next((v[len(prefix) :].decode() for v in environ.split(b"\0") if v.startswith(prefix)), None)


def marked() -> dict[str, list[int]]:
    """{a run's identity: [pids it started that are still running]} over this machine's processes."""
    runs: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (run := mark_of(int(entry.name))):
            runs.setdefault(run, []).append(int(entry.name))
    return runs


def stop_left_behind() -> tuple[list[int], dict[str, list[int]]]:
    """SIGKILL the groups of processes whose run is gone. Returns (pids stopped, {live run: pids})."""
    stopped, live = [], {}
    for run, pids in marked().items():
        runner, _, started = run.partition(":")
        # (A mark of a pid alone is from a checkout before start times were marked: trust the pid.)
        if identity(int(runner)) == run or (not started and running(int(runner))):
            live[run] = pids
            continue
        for pid in pids:
            if mark_of(pid) != run:
                continue  # ended since, its pid perhaps another process's now
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue  # ended meanwhile, its group with an earlier one, or not ours
            stopped.append(pid)
    return stopped, live


def main() -> None:
    stopped, live = stop_left_behind()
    if stopped:
        print(f"testkit.strays: stopped {len(stopped)} processes a killed run left running: {sorted(stopped)}")
    for run, pids in live.items():
        # Not stopped: perhaps the fast lane, which runs beside a full run on purpose.
        print(f"testkit.strays: run {run} is still going ({len(pids)} processes); results may mix with it")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
