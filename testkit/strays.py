"""Processes that a killed test or benchmark run left running, stopped before the next run.

A stack's processes have sessions of their own (testkit/processes.py), so that a test can stop or
kill each one's whole group; for the same reason they outlive a pytest that is killed before its
teardown (a timeout, Ctrl-C twice). A worker left so keeps consuming the machine's RabbitMQ and
takes the next run's tasks, with the old run's Discord and databases: that run then fails in ways
that point nowhere (karma applied to another database, channels never told their final values).

Each process a run starts carries MARK=<the pid of the run's process>. `python -m testkit.strays`
(scripts/test runs it first) stops the groups of those whose run is gone, and names, without
touching them, those of a run still going.
"""

import os
import signal
import sys
from pathlib import Path

MARK = "POPPLE_TEST_RUN"


def marked(proc: Path = Path("/proc")) -> dict[int, list[int]]:
    """{the run's pid: [pids it started that are still running]} over this machine's processes."""
    runs: dict[int, list[int]] = {}
    prefix = f"{MARK}=".encode()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()  # empty for a zombie
        except OSError:
            continue  # gone meanwhile, or not ours to read
        for variable in environ.split(b"\0"):
            if variable.startswith(prefix):
                runs.setdefault(int(variable[len(prefix) :]), []).append(int(entry.name))
    return runs


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_left_behind() -> tuple[list[int], dict[int, list[int]]]:
    """SIGKILL the groups of processes whose run is gone. Returns (pids stopped, {live run: pids})."""
    stopped, live = [], {}
    for run, pids in marked().items():
        if running(run):
            live[run] = pids
            continue
        for pid in pids:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except ProcessLookupError:
                continue  # ended meanwhile, or its group with an earlier one
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
