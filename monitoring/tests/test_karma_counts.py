"""The ledger counts nothing itself: monitoring counts what it says each version did."""

import pytest
from prometheus_client import REGISTRY

from karma import config
from karma.router import respond
from testkit.messages import chat

pytestmark = pytest.mark.django_db


def counted(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_changes_and_refusals_are_counted_once_per_version():
    applied, refused = counted("popple_karma_applied_total"), counted("popple_karma_refused_total", rule="self-karma")
    config.change(71, "announce", "on", "test")
    message = chat("tea++ coffee++ user500++", guild_id=71, author_id=500)
    respond(message)
    assert counted("popple_karma_applied_total") == applied + 2
    assert counted("popple_karma_refused_total", rule="self-karma") == refused + 1
    respond(message)  # redelivered: answered as the first time, not counted again
    assert counted("popple_karma_applied_total") == applied + 2
