import flower.urls
import pytest

from monitoring.management.commands.runflower import remove_actions, weak_credentials


@pytest.mark.parametrize(
    "value, problem",
    [
        ("", "must be set to user:password"),
        ("a:b", "at least 12 characters"),
        ("ops:eleven-char", "at least 12 characters"),
        ("ops:twelve-chars", None),
        ("ops:long-enough-password,guest:short", "at least 12 characters"),
        ("ops only", "must be set to user:password"),
    ],
)
def test_flower_refuses_weak_credentials(value, problem):
    found = weak_credentials(value)
    assert (found is None) if problem is None else (problem in found)


def test_flower_keeps_its_pages_and_reading_api_only():
    kept = {
        handler[0] if isinstance(handler, tuple) else handler.regex.pattern
        for handler in remove_actions(flower.urls.handlers)
    }
    assert {r"/api/tasks", r"/api/workers", r"/api/task/info/(.*)", r"/metrics", r"/healthcheck"} <= kept
    assert not [pattern for pattern in kept if "apply" in pattern or "send-task" in pattern or "revoke" in pattern]
    assert not [pattern for pattern in kept if pattern.startswith("/api/worker/")]
    assert not [pattern for pattern in kept if "abort" in pattern or "rate-limit" in pattern or "timeout" in pattern]
