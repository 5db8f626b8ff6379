"""The health probe against a real HTTP server on 127.0.0.1 (in a thread) and real closed
ports: status codes, body expressions, the failure expression stopping early, the
deadline, tcp, hostile servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from appliance.deploy.targets import Target
from appliance.runs.probe import ProbeResult, ProbeSpec, host_of, probe, spec_from_settings
from kit.workflow.expr import ExprError


class Answers:
    """What the server answers, in order (the last one repeats), and the paths it was asked for."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, bytes]] = [(200, b"ok")]
        self.paths: list[str] = []

    def next(self, path: str) -> tuple[int, bytes]:
        self.paths.append(path)
        return self.queue.pop(0) if len(self.queue) > 1 else self.queue[0]


@pytest.fixture()
def server() -> Iterator[tuple[int, Answers]]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.next(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], answers
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    """A port nobody listens on: bound, never listened to, held while the test runs would
    refuse too; binding and closing is enough on loopback for the short test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeTime:
    """An injected clock: sleeping advances it, so a 30 s deadline costs nothing."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(port: int, fake: FakeTime | None = None, **settings: object) -> ProbeResult:
    spec = spec_from_settings({"probe": "http", "port": port, **settings})
    fake = fake or FakeTime()
    return probe("127.0.0.1", spec, sleep=fake.sleep, clock=fake.clock)


def test_a_2xx_answer_succeeds_at_once_and_the_path_is_asked(server: tuple[int, Answers]) -> None:
    port, answers = server
    res = run(port, path="/healthz?full=1")
    assert res.ok and res.status == 200 and res.body == "ok" and res.attempts == 1 and res.error is None
    assert answers.paths == ["/healthz?full=1"]
    assert res.to_dict() == {"ok": True, "status": 200, "body": "ok", "bodyTruncated": False, "attempts": 1,
                             "error": None, "elapsedMs": 0}


def test_polls_until_the_default_success_holds(server: tuple[int, Answers]) -> None:
    port, answers = server
    answers.queue = [(503, b"starting"), (404, b"no"), (302, b""), (200, b"late")]
    fake = FakeTime()
    res = run(port, fake, interval="5s", deadline="1m")
    assert res.ok and res.status == 302 and res.attempts == 3
    assert fake.slept == [5, 5]


def test_the_success_expression_reads_the_body(server: tuple[int, Answers]) -> None:
    port, answers = server
    answers.queue = [(200, b'{"status": "STARTING"}'), (200, b'{"status": "UP", "db": {"pending": 0}}')]
    res = run(port, successExpression="json(body).status == 'UP' && json(body).db.pending == 0", interval="1s")
    assert res.ok and res.attempts == 2 and "UP" in res.body
    answers.queue = [(500, b"all ready")]
    assert run(port, successExpression="contains(body, 'ready')").ok       # any status, if the body says so


def test_the_failure_expression_stops_at_once(server: tuple[int, Answers]) -> None:
    port, answers = server
    answers.queue = [(503, b"warming"), (500, b"panic: no database"), (200, b"ok")]
    fake = FakeTime()
    res = run(port, fake, failureExpression="contains(body, 'panic') || status == 501", interval="2s",
              deadline="10m")
    assert not res.ok and res.attempts == 2 and res.status == 500 and fake.slept == [2]
    assert res.error == (f"failureExpression `contains(body, 'panic') || status == 501` holds: status 500 on "
                         f"127.0.0.1:{port}/ (attempt 2)")


def test_the_deadline_names_the_last_answer(server: tuple[int, Answers]) -> None:
    port, answers = server
    answers.queue = [(503, b"down")]
    fake = FakeTime()
    res = run(port, fake, path="/h", interval="10s", deadline="30s")
    # attempts at 0, 10, 20 and a last one at the deadline (30)
    assert not res.ok and res.attempts == 4 and fake.slept == [10, 10, 10] and res.elapsed_ms == 30000
    assert res.error == (f"status 503 on 127.0.0.1:{port}/h (successExpression `status >= 200 && status < 400` "
                         "does not hold) after 4 attempts in 30 s")


def test_real_time_deadline_on_a_closed_port() -> None:
    """No fakes: a port nobody listens on, 0.2 s apart, 1 s deadline: not ok, no traceback, on time."""
    port = closed_port()
    started = time.monotonic()
    spec = ProbeSpec("http", port, interval=0.2, deadline=1.0)
    res = probe("127.0.0.1", spec)
    took = time.monotonic() - started
    assert not res.ok and res.status is None and 1.0 <= took < 3
    assert res.attempts >= 4
    assert res.error is not None and res.error.startswith(f"connection refused on 127.0.0.1:{port} after "
                                                          f"{res.attempts} attempts in ")


def test_closed_port_error_reads_like_the_docs() -> None:
    port = closed_port()
    fake = FakeTime()
    res = probe("127.0.0.1", ProbeSpec("tcp", port, interval=2.5, deadline=30), sleep=fake.sleep, clock=fake.clock)
    assert res.error == f"connection refused on 127.0.0.1:{port} after 13 attempts in 30 s"


def test_tcp_succeeds_when_a_connection_is_accepted(server: tuple[int, Answers]) -> None:
    port, answers = server
    res = probe("127.0.0.1", spec_from_settings({"probe": "tcp", "port": port}))
    assert res.ok and res.status is None and res.attempts == 1


def test_hostile_servers_give_errors_not_tracebacks() -> None:
    """A server that answers garbage, one that never answers, one that sends a huge body slowly."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    mode = ["garbage"]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                if mode[0] == "garbage":
                    conn.sendall(b"\x00\xffNOT HTTP\r\n\r\n")
                elif mode[0] == "silent":
                    time.sleep(0.6)
                elif mode[0] == "huge":
                    try:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                        for _ in range(2000):
                            conn.sendall(b"x" * 65536)
                    except OSError:
                        pass
                elif mode[0] == "headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        spec = ProbeSpec("http", port, interval=0.3, deadline=0.5)
        res = probe("127.0.0.1", spec)
        assert not res.ok and res.error and "bad HTTP answer" in res.error, res.error
        mode[0] = "silent"
        res = probe("127.0.0.1", spec)
        assert not res.ok and res.error and res.error.startswith("no answer within 0.3 s on"), res.error
        mode[0] = "headers"
        res = probe("127.0.0.1", spec)
        assert not res.ok and res.error and "bad HTTP answer" in res.error, res.error
        mode[0] = "huge"
        res = probe("127.0.0.1", ProbeSpec("http", port, interval=5, deadline=0))
        assert res.ok and len(res.body) == 64 * 1024 and res.to_dict()["bodyTruncated"] is True
        assert len(res.to_dict()["body"]) == 4096
    finally:
        listener.close()


def test_settings_and_hosts() -> None:
    spec = spec_from_settings({"probe": "http", "port": 8080, "path": "/healthz", "interval": "5s",
                               "deadline": "2m", "successExpression": "status == 204"})
    assert spec == ProbeSpec("http", 8080, "/healthz", "status == 204", None, 5.0, 120.0)
    assert spec_from_settings({"probe": "tcp", "port": 5432}) == ProbeSpec("tcp", 5432, "/", None, None, 30.0, 300.0)
    for bad in ({"probe": "udp", "port": 1}, {"probe": "http", "port": 0}, {"probe": "http", "port": True},
                {"probe": "http", "port": 80, "path": "x"}, {"probe": "http", "port": 80, "path": "/a b"},
                {"probe": "http", "port": 80, "interval": "soon"}):
        with pytest.raises(ValueError):
            spec_from_settings(bad)
    with pytest.raises(ExprError, match="column 8"):
        spec_from_settings({"probe": "http", "port": 80, "successExpression": "status = 1"})

    def target(docker: str) -> Target:
        return Target("t", "dev", docker, "p")

    assert host_of(target("unix:///var/run/docker.sock")) == "127.0.0.1"
    assert host_of(target("tcp://10.0.0.7:2376")) == "10.0.0.7"
    assert host_of(target("tcp://[fd00::7]:2376")) == "fd00::7"
    assert host_of(target("ssh://deploy@web-3.lan")) == "web-3.lan"
