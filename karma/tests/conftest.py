import pytest

from karma import sender


class RecordingSender:
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
    previous = sender._sender
    recorder = RecordingSender()
    sender.use_sender(recorder)
    yield recorder
    sender.use_sender(previous)
