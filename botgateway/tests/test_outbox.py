import logging
import threading
import time

from botgateway.outbox import TOGETHER, Outbox


class Broker:
    """Takes messages while up; raises like an unreachable broker while down."""

    def __init__(self, up=True):
        self.up = threading.Event()
        if up:
            self.up.set()
        self.taken = []
        self.handovers = []  # the number of payloads in each publish

    def publish(self, payloads):
        if not self.up.is_set():
            raise ConnectionRefusedError("broker down")
        self.taken.extend(payloads)
        self.handovers.append(len(payloads))


def started_outbox(tmp_path, publish, capacity=1000, together=None):
    outbox = Outbox(tmp_path / "outbox.sqlite3", capacity, publish, together=together)
    outbox.start()
    return outbox


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.01)
    return condition()


def test_publishes_in_order(tmp_path):
    broker = Broker()
    outbox = started_outbox(tmp_path, broker.publish)
    for n in range(500):
        outbox.put({"n": n})
    assert wait_for(lambda: len(broker.taken) == 500)
    outbox.stop()
    assert broker.taken == [{"n": n} for n in range(500)]
    assert outbox.stored == 0


def test_a_backlog_goes_in_groups_of_what_may_go_together_in_order(tmp_path):
    broker = Broker(up=False)
    outbox = started_outbox(tmp_path, broker.publish, together=lambda payload: payload["chat"])
    chat = [{"n": n, "chat": n != 30} for n in range(50)]  # the 31st is no chat message
    for payload in chat:
        outbox.put(payload)
    assert wait_for(lambda: outbox.stored == 50)
    broker.up.set()
    assert wait_for(lambda: outbox.stored == 0)
    outbox.stop()
    assert broker.taken == chat
    assert broker.handovers == [TOGETHER, 30 - TOGETHER, 1, 19]


def test_without_a_backlog_each_message_goes_alone(tmp_path):
    broker = Broker()
    outbox = started_outbox(tmp_path, broker.publish, together=lambda payload: True)
    for n in range(5):
        outbox.put({"n": n})
        assert wait_for(lambda n=n: len(broker.taken) == n + 1)
    outbox.stop()
    assert broker.handovers == [1] * 5


def test_keeps_messages_while_the_broker_is_down(tmp_path, caplog):
    broker = Broker(up=False)
    outbox = started_outbox(tmp_path, broker.publish)
    with caplog.at_level(logging.INFO):
        for n in range(100):
            outbox.put({"n": n})
        assert wait_for(lambda: outbox.stored == 100)
        time.sleep(1)
        broker.up.set()
        assert wait_for(lambda: len(broker.taken) == 100)
    outbox.stop()
    assert broker.taken == [{"n": n} for n in range(100)]
    messages = [r.getMessage() for r in caplog.records if r.name == "botgateway.outbox"]
    assert messages[0] == "outbox: broker unreachable (broker down); keeping messages on disk"
    assert messages[-1].startswith("outbox: broker reachable again")
    assert len(messages) == 2


def test_a_new_process_publishes_what_an_earlier_one_stored(tmp_path):
    down = Broker(up=False)
    first = started_outbox(tmp_path, down.publish)
    for n in range(50):
        first.put({"n": n})
    assert wait_for(lambda: first.stored == 50)
    first.stop()  # (a killed process leaves the same file: rows are written as they arrive)

    broker = Broker()
    second = started_outbox(tmp_path, broker.publish)
    second.put({"n": 50})
    assert wait_for(lambda: len(broker.taken) == 51)
    second.stop()
    assert broker.taken == [{"n": n} for n in range(51)]


def test_drops_new_messages_when_full_and_says_so_once(tmp_path, caplog):
    broker = Broker(up=False)
    outbox = started_outbox(tmp_path, broker.publish, capacity=10)
    with caplog.at_level(logging.WARNING):
        for n in range(25):
            outbox.put({"n": n})
        assert wait_for(lambda: outbox.dropped == 15)
        broker.up.set()
        # Published rows leave the file just after the broker takes them; until then it is full.
        assert wait_for(lambda: len(broker.taken) == 10 and outbox.stored == 0)
        outbox.put({"n": 99})
        assert wait_for(lambda: len(broker.taken) == 11)
    outbox.stop()
    assert broker.taken == [{"n": n} for n in range(10)] + [{"n": 99}]
    full = [r for r in caplog.records if r.getMessage().startswith("outbox: full")]
    assert [r.getMessage() for r in full] == [
        "outbox: full (10 messages waiting for the broker); dropping new messages"
    ]
    assert "outbox: accepting messages again after dropping 15 while full" in caplog.text


def test_a_failure_in_the_middle_of_a_batch_publishes_nothing_twice(tmp_path):
    broker = Broker()
    calls = 0

    def flaky(payloads):
        nonlocal calls
        calls += 1
        if calls == 7:
            raise ConnectionResetError("connection reset")
        broker.publish(payloads)

    outbox = started_outbox(tmp_path, flaky)
    for n in range(20):
        outbox.put({"n": n})
    assert wait_for(lambda: len(broker.taken) == 20)
    outbox.stop()
    assert broker.taken == [{"n": n} for n in range(20)]


def test_knows_how_long_its_oldest_message_has_waited(tmp_path):
    # What the gateway's metrics report (popple_outbox_oldest_age_seconds).
    broker = Broker(up=False)
    outbox = started_outbox(tmp_path, broker.publish)
    assert outbox.oldest_age() == 0
    outbox.put({"n": 0})
    assert wait_for(lambda: outbox.stored == 1)
    time.sleep(0.5)
    outbox.put({"n": 1})
    assert wait_for(lambda: outbox.stored == 2)
    assert outbox.oldest_age() >= 0.5  # the first one's, not the newest's
    broker.up.set()
    assert wait_for(lambda: outbox.stored == 0)
    assert outbox.oldest_age() == 0
    outbox.stop()


def test_messages_from_an_earlier_run_are_as_old_as_that_start_at_least(tmp_path):
    broker = Broker(up=False)
    outbox = started_outbox(tmp_path, broker.publish)
    outbox.put({"n": 0})
    assert wait_for(lambda: outbox.stored == 1)
    outbox.stop()
    again = started_outbox(tmp_path, broker.publish)
    assert again.stored == 1
    time.sleep(0.2)
    assert again.oldest_age() >= 0.2
    broker.up.set()
    assert wait_for(lambda: again.stored == 0)
    assert again.oldest_age() == 0
    again.stop()
