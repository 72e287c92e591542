"""Every request of a plain HTTP keep-alive connection (--http) is held to
its own rules, exactly as the first one is: credentials, the address read
behind --trust-forwarded, path mapping, X-Forwarded-For, the per-client
limit.  Each case is a second request on one connection that a rule must
refuse or treat afresh; the backend counts what reached it."""
import base64
import signal
import subprocess
import time

import wslib
from helpers_http import (HTTPBackend, access_lines, fields, ok,
                          read_response, request)
from test_access_rules import htpasswd
from wslib import run_pipe


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}"


def test_second_request_without_credentials_is_refused(tmp_path):
    pw = tmp_path / "htpasswd"
    htpasswd(pw, "alice", "s3cret", "-B")
    b = HTTPBackend()
    try:
        out, err, rc = run_pipe(
            ["--http", "--auth-file", str(pw), f"ws://127.0.0.1:{b.port}"],
            request("GET", "/a", extra=[basic("alice", "s3cret")]) +
            request("GET", "/b") +
            request("GET", "/c", extra=[basic("alice", "wrong")]))
    finally:
        b.close()
    assert out.count(b"HTTP/1.1 200 ") == 1, out
    assert b"HTTP/1.1 401 " in out, out
    assert b.connections == 1, "a request without credentials got through"
    lines = [fields(l) for l in access_lines(err)]
    assert lines[0]["status"] == "200" and lines[1]["status"] == "401"
    assert lines[1]["denied"] == "auth"


def test_trusted_proxy_second_client_denied(activated):
    b = HTTPBackend()
    try:
        s = activated(["--http", "--trust-forwarded", "127.0.0.1/32",
                       "--deny", "192.0.2.0/24", f"ws://127.0.0.1:{b.port}"])
        with s.connect() as c:
            c.sendall(request("GET", "/a",
                              extra=["X-Forwarded-For: 10.9.9.9"]))
            r, _, _ = read_response(c)
            assert r.status == 200
            c.sendall(request("GET", "/b",
                              extra=["X-Forwarded-For: 192.0.2.66"]))
            r, _, _ = read_response(c)
            assert r.status == 403, "a denied client came through"
        assert wslib.wait_for(lambda: len(s.access_lines()) == 2)
        first, second = (fields(l) for l in s.access_lines())
        assert first["client"] == "10.9.9.9" and first["via"] == "127.0.0.1"
        assert second["client"] == "192.0.2.66" and \
            second["denied"] == "cidr"
        assert b.connections == 1
        assert b.header("X-Forwarded-For") == ["10.9.9.9, 127.0.0.1"]
    finally:
        b.close()


def test_plain_request_path_mapped_as_the_upgrade_is():
    b = HTTPBackend()
    try:
        run_pipe(["--http", f"ws://127.0.0.1:{b.port}/ws"],
                 request("GET", "/?q=1") + request("GET", "/x"))
    finally:
        b.close()
    assert b.request_line(0) == "GET /ws?q=1 HTTP/1.1"
    assert b.request_line(1) == "GET /ws/x HTTP/1.1"


def test_require_origin_is_for_upgrades_only():
    """A browser sends no Origin when it loads a page; it always does with
    a WebSocket handshake."""
    b = HTTPBackend()
    try:
        out, err, rc = run_pipe(["--http", "--require-origin",
                                 f"ws://127.0.0.1:{b.port}"],
                                request("GET", "/page"))
        assert out.startswith(b"HTTP/1.1 200 "), out
        out, err, rc = run_pipe(["--http", "--require-origin",
                                 f"ws://127.0.0.1:{b.port}"],
                                wslib.upgrade_request("/ws"))
        assert out.startswith(b"HTTP/1.1 403 "), out
    finally:
        b.close()
    assert b.connections == 1


def test_idle_keep_alive_connection_holds_no_client_slot(activated,
                                                         tmp_path):
    b = HTTPBackend()
    try:
        s = activated(["--http", "--max-per-client", "1", "--state",
                       str(tmp_path / "state"), f"ws://127.0.0.1:{b.port}"])
        with s.connect() as c1, s.connect() as c2:
            c1.sendall(request("GET", "/one"))
            assert read_response(c1)[0].status == 200
            # c1 stays open, waiting for its next request; its slot went
            # back before its access line was written
            assert wslib.wait_for(lambda: s.access_lines(), timeout=5)
            c2.sendall(request("GET", "/two"))
            assert read_response(c2)[0].status == 200
        assert b.connections == 2
    finally:
        b.close()


def test_signal_while_the_backend_answers_is_not_a_backend_failure():
    def slow(head, body):
        time.sleep(5)
        return ok(b"late")
    b = HTTPBackend(slow)
    p = subprocess.Popen(wslib.command(["--log", "stderr", "--http",
                                        f"ws://127.0.0.1:{b.port}"]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(request("GET", "/slow"))
        p.stdin.flush()
        assert wslib.wait_for(lambda: b.connections == 1, timeout=5)
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=5)
    finally:
        b.close()
    assert out == b"", "a 502 went to the client"
    line = fields(access_lines(err.decode())[0])
    assert line["end"] == "signal", err
    assert b"closed before answering" not in err
