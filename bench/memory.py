"""Resident memory of each kind of Popple process, idle, as the Procfile starts it.

    python bench/memory.py

Each process starts alone (RabbitMQ and Redis must be running; the database is a SQLite file),
waits until it says it is ready, then three seconds; its resident memory (VmRSS, with its
children's for gunicorn) is read from /proc. What the Kubernetes requests start from
(deploy/kubernetes/, docs/capacity.md); the gateway's, which grows with its servers, is
bench/shards.py's.
"""

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import markdown_table, report  # noqa: E402
from testkit.processes import Process, clean_env  # noqa: E402
from testkit.stack import PROCFILE, REDIS_URL, broker_url, free_port  # noqa: E402

# Procfile process: its RabbitMQ account, and the log line that says it is ready.
KINDS = {
    "worker": ("worker", r"ready\."),
    "replies": ("worker", r"ready\."),
    "beat": ("beat", "beat: Starting"),
    "web": ("web", "Booting worker"),
}


def resident_mib(pid):
    """VmRSS of `pid` and its children, in MiB, and how many processes that is."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(entry))
            except OSError:
                pass
    total = 0
    for each in pids:
        with open(f"/proc/{each}/status") as status:
            total += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total / 1024, len(pids)


def main():
    workdir = tempfile.mkdtemp(prefix="popple-memory-")
    base = {
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        "REDIS_URL": REDIS_URL,
        "DISCORD_TOKEN": "unused.token.value",
        "DJANGO_SECRET_KEY": "memory-benchmark-secret-key-0123456789abcdefghijklmnop",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=clean_env(**base), check=True)
    rows = []
    for kind, (role, ready) in KINDS.items():
        command = shlex.split(PROCFILE[kind])
        if "--schedule" in command:
            command[command.index("--schedule") + 1] = f"{workdir}/beat-schedule"
        if command[0] == "celery":
            command = [sys.executable, "-m", *command]
        env = clean_env(**base, CELERY_BROKER_URL=broker_url(role), GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{free_port()}")
        process = Process(kind, command, env, workdir).start()
        try:
            process.wait_for_log(ready, timeout=60)
            time.sleep(3)
            mib, count = resident_mib(process.popen.pid)
        finally:
            process.stop()
        rows.append([kind, PROCFILE[kind].split(" --")[0], str(count), f"{mib:.0f}"])
    text = "\n\n".join(
        [
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "Idle, as the Procfile starts each (resident memory, MiB):\n\n"
            + markdown_table(["process", "command", "processes", "MiB"], rows),
        ]
    )
    report("memory", text)


if __name__ == "__main__":
    main()
