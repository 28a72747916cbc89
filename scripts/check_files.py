"""The file checks pre-commit runs (.pre-commit-config.yaml), with what .venv holds: no download.

    python scripts/check_files.py yaml FILE...        each parses (every document of a stream)
    python scripts/check_files.py toml FILE...        each parses
    python scripts/check_files.py whitespace FILE...  no trailing blanks, one newline at the end

`whitespace` fixes what it finds, as pre-commit-hooks' trailing-whitespace and end-of-file-fixer
do; pre-commit then fails the commit so that the fix is seen and staged. Exit status 1 when any
file failed or was fixed.
"""

import re
import sys
import tomllib

import yaml


def check_yaml(path):
    with open(path, "rb") as file:
        for _ in yaml.safe_load_all(file):
            pass


def check_toml(path):
    with open(path, "rb") as file:
        tomllib.load(file)


def fix_whitespace(path):
    with open(path, "rb") as file:
        data = file.read()
    fixed = re.sub(rb"[ \t]+(\r?)$", rb"\1", data, flags=re.MULTILINE)
    fixed = fixed.rstrip(b"\r\n") + b"\n" if fixed.strip() else b""
    if fixed != data:
        with open(path, "wb") as file:
            file.write(fixed)
        raise ValueError("fixed: trailing whitespace, or the end of the file")


CHECKS = {"yaml": check_yaml, "toml": check_toml, "whitespace": fix_whitespace}


def main(argv):
    check, paths = CHECKS[argv[0]], argv[1:]
    failed = False
    for path in paths:
        try:
            check(path)
        except Exception as exc:  # any failure: a parse error, an unreadable file, a fix
            print(f"{path}: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
