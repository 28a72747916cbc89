"""The housekeeping that needs Discord's clock: forgetting message versions too old to change."""

import logging

import pytest

from botgateway.housekeeping import HOUSEKEEPING, forget_message_versions
from karma.models import MessageVersion
from testkit.messages import snowflake

DAY = 24 * 3600


def test_the_periodic_tasks_runbot_runs_are_the_ones_beat_starts(settings):
    assert [task.name for task in HOUSEKEEPING] == list(settings.CELERY_BEAT_SCHEDULE)


@pytest.mark.django_db
def test_versions_of_messages_older_than_twice_the_window_are_forgotten(settings):
    settings.EDIT_WINDOW = DAY
    old, recent = snowflake(seconds_ago=2 * DAY + 60), snowflake(seconds_ago=2 * DAY - 60)
    MessageVersion.objects.bulk_create([MessageVersion(message_id=i, guild_id=1) for i in (old, recent)])
    assert forget_message_versions.apply().state == "SUCCESS"
    assert list(MessageVersion.objects.values_list("message_id", flat=True)) == [recent]


def test_called_with_arguments_it_is_rejected(caplog):
    with caplog.at_level(logging.ERROR):
        result = forget_message_versions.apply(args=("surprise",))
    assert result.state == "REJECTED"
    assert [r.getMessage() for r in caplog.records if r.name == "botgateway.housekeeping"] == [
        f"rejected task {forget_message_versions.name} ({result.id}): it takes no arguments"
    ]
