"""A redis-server of a test's own, on a free port and with a password: the machine's shared Redis
is never reconfigured, and what a password changes is seen against a real server."""

import time
import urllib.parse

import redis

from testkit.processes import Process, clean_env
from testkit.stack import free_port


class RedisServer:
    def __init__(self, directory, password="a-redis-password-for-tests"):
        self.directory = directory
        self.password = password
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://:{urllib.parse.quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis.from_url(self.url)

    def start(self):
        # Nothing kept on disk; the password is on the command line, which only a test sees.
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--requirepass", self.password,
                "--save", "", "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        self.process = Process(f"redis-{self.port}", args, clean_env(), self.directory).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self):
        if self.process is not None:
            self.process.stop()
