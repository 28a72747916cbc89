"""A configuration variable's value, from the environment or from a file.

NAME_FILE, when set, names a file that holds NAME's value: a secret mounted as a file (as the
Kubernetes manifests mount them) is not in the process's environment, which every child process
inherits and which a crash report or `/proc/<pid>/environ` shows.
"""

import os
from pathlib import Path


def value(name: str) -> str:
    """NAME's value ("" when unset), or the contents of the file NAME_FILE names."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not path:
        return os.environ.get(name, "")
    try:
        return Path(path).read_text().strip()
    except OSError as exc:  # the operator's mistake: one line naming the variable, no traceback
        raise SystemExit(f"popple: configuration error: {name}_FILE {path}: {exc.strerror}") from None
