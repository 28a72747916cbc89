"""Fixtures for every test folder."""

import pytest

from botgateway.rest import use_sender


class RecordingSender:
    """Keeps the replies this process would have posted to Discord."""

    def __init__(self):
        self.deliveries = []
        self.failures = []  # exceptions to raise, one per delivery attempt, before succeeding

    def deliver(self, channel_id, message_id, chunks, reaction):
        if self.failures:
            raise self.failures.pop(0)
        self.deliveries.append((channel_id, message_id, chunks, reaction))

    def close(self):
        pass


@pytest.fixture
def sent():
    recorder = RecordingSender()
    previous = use_sender(recorder)
    yield recorder
    use_sender(previous)
