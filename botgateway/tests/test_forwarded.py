"""The gateway's record of the messages whose edits and deletes may matter."""

import time

from botgateway.forwarded import Forwarded
from testkit.messages import snowflake

DAY = 24 * 3600


def test_a_message_forwarded_as_sent_stays_so_and_an_edit_alone_is_told_apart(tmp_path):
    record = Forwarded(tmp_path / "forwarded.sqlite3", DAY)
    sent, edited, neither = snowflake(), snowflake(), snowflake()
    record.sent(sent)
    record.edited(sent)  # an edit with a sign does not make it less than sent
    record.edited(edited)
    assert record.find([sent, edited, neither]) == {sent: True, edited: False}


def test_it_outlives_a_restart_and_forgets_what_can_no_longer_be_edited(tmp_path):
    path = tmp_path / "var" / "outbox-all-forwarded.sqlite3"
    record = Forwarded(path, DAY)
    old, recent = snowflake(seconds_ago=DAY + 60), snowflake(seconds_ago=DAY - 60)
    record.sent(old)
    record.sent(recent)
    record.close()
    record = Forwarded(path, DAY)  # a restart forgets what is too old at once
    assert record.find([old, recent]) == {recent: True}
    assert record.too_old(old, time.time())
    assert not record.too_old(recent, time.time())
    record.forget_old(now=time.time() + 120)
    assert record.find([old, recent]) == {}
