"""The REST client on libcurl: what it sends, what it reads back, TLS, timeouts and errors.

Against a small HTTP server of the test's own, which records each request as it arrived (the fake
Discord speaks plain HTTP only, and answers as Discord would: this checks the bytes on the wire).
"""

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from botgateway.rest import DiscordRest, Unreachable
from testkit.stack import free_port


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer=(200, {"X-RateLimit-Remaining": "4"}, b'{"id": "1"}'), delay=0.0):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.delay = delay  # seconds before each answer
        self.requests: list[tuple[str, str, dict, bytes]] = []  # (method, path, headers, body)
        self.connections: set[int] = set()  # the client ports seen: one per connection

    @property
    def url(self):
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://localhost:{self.server_address[1]}/api/v10"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Discord

    def handle_one_request(self):
        self.server.connections.add(self.client_address[1])
        super().handle_one_request()

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        time.sleep(self.server.delay)
        status, headers, content = self.server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_a_post_sends_json_with_the_token_and_reads_the_answer():
    with Recorder() as server:
        rest = DiscordRest(server.url, "s3cret")
        answer = rest.create_message(5, "popple has 1 karma.", "n1")
        rest.close()
    method, path, headers, body = server.requests[0]
    assert (method, path) == ("POST", "/api/v10/channels/5/messages")
    assert headers["Authorization"] == "Bot s3cret"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("DiscordBot (")
    assert json.loads(body) == {"content": "popple has 1 karma.", "nonce": "n1", "enforce_nonce": True,
                                "allowed_mentions": {"parse": []}}  # fmt: skip
    assert answer.ok
    assert answer.status == 200
    assert answer.headers["x-ratelimit-remaining"] == "4"  # any case, as Discord's headers are read
    assert answer.body == {"id": "1"}


def test_requests_of_every_method_on_one_connection_carry_only_their_own_body():
    with Recorder() as server:
        rest = DiscordRest(server.url, "t")
        rest.create_message(5, "x", "n1")
        rest.add_reaction(5, 7, "\N{THUMBS UP SIGN}")
        rest.member_role("DELETE", 1, 2, 3)
        rest.application()
        rest.member_role("PUT", 1, 2, 3)
        rest.close()
    sent = [(method, path, headers.get("Content-Length"), body) for method, path, headers, body in server.requests]
    assert sent[1:] == [
        ("PUT", "/api/v10/channels/5/messages/7/reactions/%F0%9F%91%8D/@me", "0", b""),  # as urllib3 sent it
        ("DELETE", "/api/v10/guilds/1/members/2/roles/3", None, b""),
        ("GET", "/api/v10/oauth2/applications/@me", None, b""),
        ("PUT", "/api/v10/guilds/1/members/2/roles/3", "0", b""),
    ]
    assert len(server.connections) == 1  # kept alive between requests


def test_an_interactions_answer_goes_without_the_bots_token():
    with Recorder() as server:
        DiscordRest(server.url, "s3cret").edit_original_response(9, "int/token", "done")
    method, path, headers, _ = server.requests[0]
    assert (method, path) == ("PATCH", "/api/v10/webhooks/9/int%2Ftoken/messages/@original")
    assert "Authorization" not in headers


def test_an_error_page_is_an_answer_without_a_body():
    with Recorder(answer=(502, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>")) as server:
        answer = DiscordRest(server.url, "t").create_message(5, "x", "n1")
    assert (answer.ok, answer.status, answer.body) == (False, 502, None)


def test_an_unreachable_discord_raises_unreachable():
    rest = DiscordRest(f"http://127.0.0.1:{free_port()}/api/v10", "t")
    with pytest.raises(Unreachable):
        rest.create_message(5, "x", "n1")


def test_a_discord_that_does_not_answer_raises_unreachable_after_the_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (the kernel does), never answers
        rest = DiscordRest(f"http://127.0.0.1:{silent.getsockname()[1]}/api/v10", "t", timeout=0.5)
        with pytest.raises(Unreachable, match=r"(?i)timed out"):
            rest.create_message(5, "x", "n1")


def test_proxy_variables_are_not_followed(monkeypatch):
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    with Recorder() as server:
        assert DiscordRest(server.url, "t").application().ok


def test_a_closed_client_makes_new_connections():
    with Recorder() as server:
        rest = DiscordRest(server.url, "t")
        rest.application()
        rest.close()
        assert rest.application().ok
    assert len(server.connections) == 2


def test_threads_post_at_once_each_on_its_own_connection():
    with Recorder() as server:
        rest = DiscordRest(server.url, "t")
        threads = [threading.Thread(target=rest.create_message, args=(5, f"line {n}", f"n{n}")) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rest.close()
    assert sorted(json.loads(body)["nonce"] for *_, body in server.requests) == ["n0", "n1", "n2", "n3"]
    assert len(server.connections) == 4


def test_closing_while_another_thread_waits_for_an_answer():
    # As a courier stops while a posting thread is in a request: close() returns, and the request
    # ends as an answer or as Unreachable, the one error callers expect.
    ended = []

    def post():
        try:
            ended.append(rest.create_message(5, "x", "n1").status)
        except Unreachable:
            ended.append("unreachable")

    with Recorder(delay=0.3) as server:
        rest = DiscordRest(server.url, "t")
        thread = threading.Thread(target=post)
        thread.start()
        while not server.requests:
            time.sleep(0.01)
        rest.close()
        thread.join()
        assert ended in ([200], ["unreachable"])
        assert rest.application().ok  # and the client goes on, on a new handle


@pytest.fixture
def tls_server(tmp_path):
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = Recorder()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with server:
        yield server, ca_file


def test_tls_is_verified_against_the_certificates_python_trusts(tls_server, monkeypatch):
    server, ca_file = tls_server
    with pytest.raises(Unreachable, match=r"(?i)certificate"):  # from an authority nobody trusts
        DiscordRest(server.url, "t").application()
    assert not server.requests
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # as Python's ssl module reads it
    assert DiscordRest(server.url, "t").application().ok
    assert server.requests[0][:2] == ("GET", "/api/v10/oauth2/applications/@me")
