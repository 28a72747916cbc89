"""Running Popple's own commands as separate processes, with a controlled environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**variables):
    """The environment of a fresh shell: no Popple variable unless given here."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in variables.items()})
    return env


def manage(*args, input=None, timeout=60, **variables):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(**variables),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
