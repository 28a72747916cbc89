import time

from botgateway.snowflakes import edit_reply_id, first_id_at, sent_at
from testkit.messages import snowflake


def test_an_edits_reply_id_sorts_at_the_edit_and_differs_per_edit():
    message_id = snowflake(seconds_ago=60)
    assert abs(sent_at(message_id) - (time.time() - 60)) < 5
    now = int(time.time() * 1_000_000)
    first, second = edit_reply_id(message_id, now), edit_reply_id(message_id, now + 1000)
    assert message_id < first < second
    assert abs(sent_at(first) - now / 1e6) < 0.001


def test_the_first_id_at_a_time_parts_older_ids_from_newer():
    cutoff = time.time() - 3600
    assert snowflake(seconds_ago=3601) < first_id_at(cutoff) <= snowflake(seconds_ago=3599)
    assert first_id_at(0) == 0  # before Discord's epoch: no id is older
