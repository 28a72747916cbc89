import io

import pytest
from django.core.management import call_command

from testkit.processes import manage


@pytest.mark.django_db
def test_chat_runs_lines_through_the_router(monkeypatch):
    lines = ["popple++", "popple++ tea--", "@Popple top", "@Popple announce nope", "@Popple karma"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    out = io.StringIO()
    call_command("chat", stdout=out)
    assert out.getvalue().splitlines() == [
        "popple has 1 karma.",
        "popple has 2 karma. tea has -1 karma.",
        "* popple has 2 karma.",
        "* tea has -1 karma.",
        "[reacts ❓]",
        'Valid announce settings are: "on", "off", "yes", "no"',
        "[reacts ❓]",
    ]


def test_newcomer_runs_chat_with_nothing_configured(tmp_path):
    """What the README promises: `python manage.py chat` on a fresh SQLite file, no services."""
    result = manage("chat", input="popple++\n", DATABASE_URL=f"sqlite:///{tmp_path}/popple.sqlite3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "popple has 1 karma.\n"
