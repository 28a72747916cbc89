"""Running Popple's own commands as separate processes, with a controlled environment."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from testkit.strays import MARK, identity

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**variables):
    """The environment of a fresh shell: no Popple variable unless given here."""
    env = {key: os.environ[key] for key in ("HOME", "LANG", "TMPDIR") if key in os.environ}
    # Commands as the Procfile writes them (celery, gunicorn) come from this Python's environment.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env["DJANGO_READ_DOT_ENV_FILE"] = "false"
    env.update({key: str(value) for key, value in variables.items()})
    return env


def as_root(*command):
    """Run a system command (service NAME stop) as root, through sudo when the tests are not root."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


def manage(*args, input=None, timeout=60, root=ROOT, **variables):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=clean_env(**variables),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Process:
    """A long-running Popple process whose output goes to a log file the test can read."""

    def __init__(self, name, args, env, log_dir, root=ROOT):
        self.name = name
        self.args = args
        self.env = env
        self.log_path = Path(log_dir) / f"{name}.log"
        self.root = root  # the checkout it runs from (a benchmark may run an earlier one)
        self.popen = None

    def start(self):
        # Restarted under the same name, a process appends to its log; waits look at the new part.
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        # A session of its own (stop and kill reach its whole group): so it outlives a run killed
        # before its teardown, which the mark lets the next run find (testkit/strays.py).
        env = {**self.env, MARK: str(identity(os.getpid()))}
        with open(self.log_path, "a") as log:
            self.popen = subprocess.Popen(
                self.args, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern, timeout=60, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                recent = log.read().decode(errors="replace")
            if len(re.findall(pattern, recent)) >= count:
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no {pattern!r} in its log after {timeout}s:\n{self.log()[-3000:]}")

    def stop(self, timeout=30):
        """SIGTERM the whole process group, then SIGKILL what is left."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def kill(self):
        """SIGKILL the whole process group: no cleanup, as a crash or OOM kill would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
