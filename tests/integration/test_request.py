"""SPEC.md "The client request": every refusal of the table through the real
binary, in pipe mode and (a representative subset, and the address rules)
behind systemd-socket-activate.  A refusal is a text/plain answer with the
exact status, Connection: close, the row's extra field, a Content-Length that
is the body's, exit status 1, one access line with status=<code>, and no
connection to the backend."""
import select
import time

import pytest

import wslib
from helpers_rb import (ACCEPT, activated_rc, assert_no_connection,  # noqa: F401
                        build_request, check_one_access_line, check_refusal,
                        exchange, field, pipe_session)

# --------------------------------------------------------------------------
# the table

ALLOW = (("Allow", "GET"),)
UPG = (("Upgrade", "websocket"),)
VER = (("Sec-WebSocket-Version", "13"),)


def line_of(n, prefix="GET ", suffix=" HTTP/1.1"):
    """A request line of exactly n bytes (without CRLF)."""
    t = "/" + "a" * (n - len(prefix) - len(suffix) - 1)
    line = prefix + t + suffix
    assert len(line) == n
    return line


def req_with(**kw):
    return build_request(**kw)


def with_body(head, body):
    return head + body


ROWS = [
    # method other than GET: 405, Allow: GET
    ("method-POST", req_with(method="POST"), 405, ALLOW),
    ("method-PUT", req_with(method="PUT"), 405, ALLOW),
    ("method-HEAD", req_with(method="HEAD"), 405, ALLOW),
    ("method-DELETE", req_with(method="DELETE"), 405, ALLOW),
    ("method-OPTIONS", req_with(method="OPTIONS"), 405, ALLOW),
    ("method-PATCH", req_with(method="PATCH"), 405, ALLOW),
    ("method-CONNECT", req_with(method="CONNECT"), 405, ALLOW),
    ("method-lowercase-get", req_with(method="get"), 405, ALLOW),
    ("method-custom", req_with(method="FOO"), 405, ALLOW),
    # version
    ("HTTP/1.0", req_with(version="HTTP/1.0"), 400, ()),
    ("HTTP/1.2", req_with(version="HTTP/1.2"), 400, ()),
    ("HTTP/2.0", req_with(version="HTTP/2.0"), 505, ()),
    ("HTTP/3.0", req_with(version="HTTP/3.0"), 505, ()),
    ("HTTP/0.9", req_with(version="HTTP/0.9"), 505, ()),
    ("version-lowercase", req_with(version="http/1.1"), 400, ()),
    ("version-HTTP/11", req_with(version="HTTP/11"), 400, ()),
    ("version-HTTP/1.10", req_with(version="HTTP/1.10"), 400, ()),
    ("version-HTTP/2", req_with(version="HTTP/2"), 400, ()),
    # target forms
    ("absolute-form-http", req_with(target="http://example.test/"), 400, ()),
    ("absolute-form-ws", req_with(target="ws://example.test/x"), 400, ()),
    ("asterisk-form", req_with(target="*"), 400, ()),
    ("authority-form", req_with(target="example.test:80"), 400, ()),
    # malformed request lines
    ("line-double-space", req_with(line="GET  / HTTP/1.1"), 400, ()),
    ("line-space-before-version", req_with(line="GET /  HTTP/1.1"), 400, ()),
    ("line-trailing-space", req_with(line="GET / HTTP/1.1 "), 400, ()),
    ("line-leading-space", req_with(line=" GET / HTTP/1.1"), 400, ()),
    ("line-no-version", req_with(line="GET /"), 400, ()),
    ("line-no-target", req_with(line="GET HTTP/1.1"), 400, ()),
    ("line-tabs", req_with(line="GET\t/\tHTTP/1.1"), 400, ()),
    ("line-four-parts", req_with(line="GET /a b HTTP/1.1"), 400, ()),
    ("line-no-space-after-method", req_with(line="GET/ HTTP/1.1"), 400, ()),
    ("line-ctl-in-target", req_with(line="GET /a\x01b HTTP/1.1"), 400, ()),
    ("line-del-in-target", req_with(line="GET /a\x7fb HTTP/1.1"), 400, ()),
    ("line-8bit-in-target", req_with(line=b"GET /a\xffb HTTP/1.1"), 400, ()),
    ("line-empty", req_with(line=""), 400, ()),
    ("line-garbage", req_with(line="\x16\x03\x01\x02\x00\x01"), 400, ()),
    # request line length
    ("line-8193", req_with(line=line_of(8193)), 414, ()),
    ("line-9000", req_with(line=line_of(9000)), 414, ()),
    # head size
    ("head-over-default-max",
     req_with(add=[("X-Big", "a" * 17000)]), 431, ()),
    ("fields-101", req_with(add=[(f"X-F{i}", "v") for i in range(96)]),
     431, ()),
    ("fields-150", req_with(add=[(f"X-F{i}", "v") for i in range(145)]),
     431, ()),
    # field syntax
    ("obs-fold-space", req_with(raw_fields=["X-A: a", " folded"]), 400, ()),
    ("obs-fold-tab", req_with(raw_fields=["X-A: a", "\tfolded"]), 400, ()),
    ("obs-fold-first-line", req_with(
        line="GET / HTTP/1.1\r\n X-A: a"), 400, ()),
    ("ws-before-colon", req_with(raw_fields=["X-A : b"]), 400, ()),
    ("tab-before-colon", req_with(raw_fields=["X-A\t: b"]), 400, ()),
    ("ws-before-colon-host", req_with(drop=["Host"],
                                      raw_fields=["Host : example.test"]),
     400, ()),
    ("bare-CR-in-value", req_with(raw_fields=[b"X-A: a\rb"]), 400, ()),
    ("bare-CR-end-of-value", req_with(raw_fields=[b"X-A: a\r"]), 400, ()),
    ("bare-CR-as-line-end", req_with(raw_fields=[b"X-A: a\rX-B: b"]), 400, ()),
    ("bare-CR-in-line", req_with(line=b"GET /a\rb HTTP/1.1"), 400, ()),
    ("bare-LF-field-line", req_with(raw_fields=[b"X-A: a\nX-B: b"]), 400, ()),
    ("bare-LF-request-line", req_with(line=b"GET / HTTP/1.1\nHost: x"),
     400, ()),
    ("bare-LF-all-lines",
     req_with().replace(b"\r\n", b"\n"), 400, ()),
    ("bare-LF-empty-line", req_with()[:-4] + b"\r\n\n", 400, ()),
    ("NUL-in-value", req_with(raw_fields=[b"X-A: a\x00b"]), 400, ()),
    ("NUL-in-host", req_with(drop=["Host"],
                             raw_fields=[b"Host: exa\x00mple.test"]), 400, ()),
    ("SOH-in-value", req_with(raw_fields=[b"X-A: a\x01b"]), 400, ()),
    ("BS-in-value", req_with(raw_fields=[b"X-A: a\x08b"]), 400, ()),
    ("VT-in-value", req_with(raw_fields=[b"X-A: a\x0bb"]), 400, ()),
    ("FF-in-value", req_with(raw_fields=[b"X-A: a\x0cb"]), 400, ()),
    ("ESC-in-value", req_with(raw_fields=[b"X-A: a\x1bb"]), 400, ()),
    ("US-in-value", req_with(raw_fields=[b"X-A: a\x1fb"]), 400, ()),
    ("DEL-in-value", req_with(raw_fields=[b"X-A: a\x7fb"]), 400, ()),
    ("name-paren", req_with(raw_fields=["X(A): b"]), 400, ()),
    ("name-at", req_with(raw_fields=["X@A: b"]), 400, ()),
    ("name-slash", req_with(raw_fields=["X/A: b"]), 400, ()),
    ("name-quote", req_with(raw_fields=['X"A: b']), 400, ()),
    ("name-space-inside", req_with(raw_fields=["X A: b"]), 400, ()),
    ("name-empty", req_with(raw_fields=[": b"]), 400, ()),
    ("name-ctl", req_with(raw_fields=[b"X\x01A: b"]), 400, ()),
    ("name-8bit", req_with(raw_fields=[b"X\xe9A: b"]), 400, ()),
    ("name-no-colon", req_with(raw_fields=["XA"]), 400, ()),
    # Host
    ("Host-missing", req_with(drop=["Host"]), 400, ()),
    ("Host-duplicate-same", req_with(add=[("Host", "example.test")]), 400, ()),
    ("Host-duplicate-other", req_with(add=[("host", "other.test")]), 400, ()),
    # body
    ("Content-Length-5", with_body(req_with(add=[("Content-Length", "5")]),
                                   b"hello"), 400, ()),
    ("Content-Length-1", with_body(req_with(add=[("Content-Length", "1")]),
                                   b"x"), 400, ()),
    ("Transfer-Encoding-chunked", with_body(
        req_with(add=[("Transfer-Encoding", "chunked")]), b"0\r\n\r\n"),
     400, ()),
    ("Transfer-Encoding-identity",
     req_with(add=[("Transfer-Encoding", "identity")]), 400, ()),
    ("CL-and-TE", with_body(req_with(add=[("Content-Length", "0"),
                                          ("Transfer-Encoding", "chunked")]),
                            b"0\r\n\r\n"), 400, ()),
    # Upgrade / Connection
    ("Upgrade-missing", req_with(drop=["Upgrade"]), 426, UPG),
    ("Upgrade-h2c", req_with(drop=["Upgrade"], add=[("Upgrade", "h2c")]),
     426, UPG),
    ("Upgrade-websocket-ish", req_with(drop=["Upgrade"],
                                       add=[("Upgrade", "websockets")]),
     426, UPG),
    ("plain-http-request", b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
     426, UPG),
    ("Connection-keep-alive", req_with(drop=["Connection"],
                                       add=[("Connection", "keep-alive")]),
     400, ()),
    ("Connection-missing", req_with(drop=["Connection"]), 400, ()),
    ("Connection-upgrades", req_with(drop=["Connection"],
                                     add=[("Connection", "upgrades")]),
     400, ()),
    # Sec-WebSocket-Version
    ("Version-8", req_with(drop=["Sec-WebSocket-Version"],
                           add=[("Sec-WebSocket-Version", "8")]), 426, VER),
    ("Version-14", req_with(drop=["Sec-WebSocket-Version"],
                            add=[("Sec-WebSocket-Version", "14")]), 426, VER),
    ("Version-missing", req_with(drop=["Sec-WebSocket-Version"]), 426, VER),
    # Sec-WebSocket-Key
    ("Key-missing", req_with(drop=["Sec-WebSocket-Key"]), 400, ()),
    ("Key-duplicate", req_with(add=[("Sec-WebSocket-Key",
                                     "AQIDBAUGBwgJCgsMDQ4PEA==")]), 400, ()),
    ("Key-15-bytes", req_with(drop=["Sec-WebSocket-Key"],
                              add=[("Sec-WebSocket-Key",
                                    "AQIDBAUGBwgJCgsMDQ4P")]), 400, ()),
    ("Key-17-bytes", req_with(drop=["Sec-WebSocket-Key"],
                              add=[("Sec-WebSocket-Key",
                                    "AQIDBAUGBwgJCgsMDQ4PEBE=")]), 400, ()),
    ("Key-not-base64", req_with(drop=["Sec-WebSocket-Key"],
                                add=[("Sec-WebSocket-Key",
                                      "!!!!!!!!!!!!!!!!!!!!!!==")]), 400, ()),
    ("Key-short", req_with(drop=["Sec-WebSocket-Key"],
                           add=[("Sec-WebSocket-Key", "abc")]), 400, ()),
    ("Key-empty", req_with(drop=["Sec-WebSocket-Key"],
                           add=[("Sec-WebSocket-Key", "")]), 400, ()),
    # dot-segments
    ("dot-/./", req_with(target="/./"), 400, ()),
    ("dot-/a/./b", req_with(target="/a/./b"), 400, ()),
    ("dot-/../", req_with(target="/../"), 400, ()),
    ("dot-/a/../b", req_with(target="/a/../b"), 400, ()),
    ("dot-final-/.", req_with(target="/a/."), 400, ()),
    ("dot-final-/..", req_with(target="/a/.."), 400, ()),
    ("dot-only-/.", req_with(target="/."), 400, ()),
    ("dot-only-/..", req_with(target="/.."), 400, ()),
    ("dot-final-/..?q", req_with(target="/a/..?q=1"), 400, ()),
    ("dot-%2e%2e", req_with(target="/%2e%2e/etc"), 400, ()),
    ("dot-%2E%2E", req_with(target="/a/%2E%2E/b"), 400, ()),
    ("dot-.%2e", req_with(target="/a/.%2e/b"), 400, ()),
    ("dot-%2e", req_with(target="/a/%2e/b"), 400, ()),
    ("dot-final-%2e%2e", req_with(target="/a/%2e%2e"), 400, ()),
]
ROW = {r[0]: r for r in ROWS}


def refuse_pipe(raw_backend, data, status, extra=(), args=(), routes=None,
                backend=None):
    b = backend or raw_backend()
    routes = routes or [f"ws://127.0.0.1:{b.port}"]
    out, err, rc = wslib.run_pipe([*args, *routes], data, timeout=10)
    check_refusal(out, status, extra)
    assert rc == 1, err
    check_one_access_line(err, status)
    assert_no_connection(b, settle=0.1)
    return out, err


@pytest.mark.parametrize("name,data,status,extra", ROWS,
                         ids=[r[0] for r in ROWS])
def test_refusal_pipe(raw_backend, name, data, status, extra):
    refuse_pipe(raw_backend, data, status, extra)


def accept_pipe(raw_backend, data, args=(), routes=None, backend=None,
                check_log=True):
    """A request wstunnel must pass on: the backend sees it and its 101
    reaches the client; exit status 0."""
    b = backend or raw_backend()
    routes = routes or [f"ws://127.0.0.1:{b.port}"]
    out, err, rc = wslib.run_pipe(["--close-timeout", "1", *args, *routes],
                                  data, timeout=10)
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT, out
    assert rc == 0, err
    assert b.connections == 1
    if check_log:
        check_one_access_line(err, 101)
    return b, res, err


# --------------------------------------------------------------------------
# the limits, from both sides

def test_request_line_8192_accepted(raw_backend):
    b, _, _ = accept_pipe(raw_backend, req_with(line=line_of(8192)),
                          check_log=False)
    assert b.heads[0].split(b"\r\n")[0] == line_of(8192).encode()


def test_request_line_8000_accepted(raw_backend):
    b, _, _ = accept_pipe(raw_backend, req_with(line=line_of(8000)),
                          check_log=False)
    assert b.heads[0].split(b"\r\n")[0] == line_of(8000).encode()


def test_access_line_of_long_path_keeps_status(raw_backend):
    """SPEC.md Logging: one access line with status=; a long request path
    must not push the status out of it."""
    b, _, err = accept_pipe(raw_backend, req_with(line=line_of(8000)),
                            check_log=False)
    lines = [l for l in err.splitlines() if " client=" in l]
    assert len(lines) == 1, err[-300:]
    assert field(lines[0], "status") == "101", lines[0][-300:]
    assert field(lines[0], "backend") == f"127.0.0.1:{b.port}", \
        lines[0][-300:]


def head_of(size, **kw):
    """A valid request head of exactly size bytes (padded by X-Pad)."""
    base = len(req_with(add=[("X-Pad", "")], **kw))
    head = req_with(add=[("X-Pad", "a" * (size - base))], **kw)
    assert len(head) == size
    return head


def test_head_16384_accepted_by_default(raw_backend):
    accept_pipe(raw_backend, head_of(16384))


def test_head_16385_refused_by_default(raw_backend):
    refuse_pipe(raw_backend, head_of(16385), 431)


def test_max_header_bytes_1024_accepts_1024(raw_backend):
    accept_pipe(raw_backend, head_of(1024), args=["--max-header-bytes", "1024"])


def test_max_header_bytes_1024_refuses_1025(raw_backend):
    refuse_pipe(raw_backend, head_of(1025), 431,
                args=["--max-header-bytes", "1024"])


def test_max_header_bytes_1024_refuses_2000(raw_backend):
    refuse_pipe(raw_backend, head_of(2000), 431,
                args=["--max-header-bytes", "1024"])


def test_max_header_bytes_1024_long_request_line(raw_backend):
    # a 2000-byte request line is no 414 (under 8192) but the head is over
    refuse_pipe(raw_backend, req_with(line=line_of(2000)), 431,
                args=["--max-header-bytes", "1024"])


def test_100_fields_accepted(raw_backend):
    data = req_with(add=[(f"X-F{i}", "v") for i in range(95)])
    assert data.count(b"\r\n") == 1 + 100 + 1
    b, _, _ = accept_pipe(raw_backend, data)
    assert b"X-F94: v" in b.heads[0]


def test_101_fields_refused(raw_backend):
    data = req_with(add=[(f"X-F{i}", "v") for i in range(96)])
    assert data.count(b"\r\n") == 1 + 101 + 1
    refuse_pipe(raw_backend, data, 431)


# --------------------------------------------------------------------------
# what must still pass (so that the refusals above are not blanket ones)

ACCEPTED = [
    ("Upgrade-case", req_with(drop=["Upgrade"], add=[("Upgrade", "WebSocket")])),
    ("Upgrade-list", req_with(drop=["Upgrade"],
                              add=[("Upgrade", "foo/1, websocket")])),
    ("Connection-list", req_with(drop=["Connection"],
                                 add=[("Connection", "keep-alive, Upgrade")])),
    ("Connection-case", req_with(drop=["Connection"],
                                 add=[("Connection", "UPGRADE")])),
    ("Content-Length-0", req_with(add=[("Content-Length", "0")])),
    ("tab-in-value", req_with(raw_fields=["X-A: a\tb"])),
    ("no-OWS-after-colon", req_with(raw_fields=["X-A:b"])),
    ("dot-leading-name", req_with(target="/.well-known/x")),
    ("dots-inside-segment", req_with(target="/a..b/c.d")),
    ("three-dots", req_with(target="/a/...")),
    ("dots-in-query", req_with(target="/x?y=/../z")),
]


@pytest.mark.parametrize("name,data", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_pipe(raw_backend, name, data):
    accept_pipe(raw_backend, data)


# --------------------------------------------------------------------------
# routes: 404

@pytest.mark.parametrize("target", ["/apple", "/ap", "/", "/other/app",
                                    "/APP", "/apple?x=/app"])
def test_no_route_404(raw_backend, target):
    b = raw_backend()
    refuse_pipe(raw_backend, req_with(target=target), 404, backend=b,
                routes=[f"/app=ws://127.0.0.1:{b.port}/ws"])


@pytest.mark.parametrize("target,mapped", [
    ("/app", "/ws"), ("/app/x", "/ws/x"), ("/app?q", "/ws?q"),
    ("/app/x?y=1", "/ws/x?y=1")])
def test_route_match_reaches_backend(raw_backend, target, mapped):
    b = raw_backend()
    accept_pipe(raw_backend, req_with(target=target), backend=b,
                routes=[f"/app=ws://127.0.0.1:{b.port}/ws"])
    assert b.heads[0].split(b"\r\n")[0] == f"GET {mapped} HTTP/1.1".encode()


def test_longest_route_wins(raw_backend):
    a = raw_backend()
    b = raw_backend()
    accept_pipe(raw_backend, req_with(target="/app/chat/x"), backend=b,
                routes=[f"/app=ws://127.0.0.1:{a.port}/a",
                        f"/app/chat=ws://127.0.0.1:{b.port}/b"])
    assert a.connections == 0
    assert b.heads[0].split(b"\r\n")[0] == b"GET /b/x HTTP/1.1"


# --------------------------------------------------------------------------
# --origin (the Origin header does not need the client address: pipe mode)

ORIGIN_CASES = [
    (["https://app.example.com"], "https://evil.example.com", False),
    (["https://app.example.com"], "https://app.example.com", True),
    (["https://app.example.com"], "http://app.example.com", False),
    (["https://app.example.com"], "https://app.example.com:443", True),
    (["https://app.example.com"], "https://app.example.com:8443", False),
    (["https://app.example.com"], "https://app.example.com.evil.test", False),
    (["https://app.example.com"], "null", False),
    (["https://app.example.com:443"], "https://app.example.com", True),
    (["http://app.example.com"], "http://app.example.com:80", True),
    (["http://app.example.com:80"], "http://app.example.com", True),
    (["http://localhost:8080"], "http://localhost:8080", True),
    (["http://localhost:8080"], "http://localhost", False),
    (["https://*.example.com"], "https://a.example.com", True),
    (["https://*.example.com"], "https://a.b.example.com", True),
    (["https://*.example.com"], "https://a.example.com:443", True),
    (["https://*.example.com"], "https://evilexample.com", False),
    (["https://*.example.com"], "https://a.example.com.evil.test", False),
    (["https://*.example.com"], "http://a.example.com", False),
    (["https://*.example.com"], "https://a.example.org", False),
    (["https://a.test", "https://b.test"], "https://b.test", True),
    (["https://a.test", "https://b.test"], "https://a.test", True),
    (["https://a.test", "https://b.test"], "https://c.test", False),
    (["https://app.example.com"], None, True),
    (["https://*.example.com"], None, True),
]


@pytest.mark.parametrize("allowed_origins,origin,ok", ORIGIN_CASES,
                         ids=[f"{'+'.join(a)}<-{o}" for a, o, _ in ORIGIN_CASES])
def test_origin(raw_backend, allowed_origins, origin, ok):
    args = []
    for a in allowed_origins:
        args += ["--origin", a]
    data = req_with(add=[("Origin", origin)] if origin is not None else [])
    if ok:
        b, _, _ = accept_pipe(raw_backend, data, args=args)
        if origin is not None:
            assert f"Origin: {origin}".encode() in b.heads[0]
    else:
        refuse_pipe(raw_backend, data, 403, args=args)


# --------------------------------------------------------------------------
# the handshake timeout

def read_response(sess, timeout):
    """Reads one complete wstunnel answer (head and Content-Length body)."""
    out, eof = sess.read_until(b"\r\n\r\n", timeout=timeout)
    res = wslib.Response(out)
    n = res.get("Content-Length")
    if res.complete and n is not None:
        deadline = time.monotonic() + 3
        while len(wslib.Response(sess.out).rest) < int(n) and not eof \
                and time.monotonic() < deadline:
            _, eof = sess.read_until(b"\x00never\x00", timeout=0.2)
    return sess.out


def test_handshake_timeout_partial_head_pipe(raw_backend, pipe_session):
    b = raw_backend()
    s = pipe_session(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    s.write(b"GET / HTTP/1.1\r\nHost: example.test\r\nUpgrade: web")
    t0 = time.monotonic()
    out = read_response(s, timeout=6)
    took = time.monotonic() - t0
    res = check_refusal(out, 408)
    assert 0.8 <= took <= 4, took
    s.close_stdin()
    rest, eof = s.read_all(timeout=5)
    assert rest == out, "bytes after the 408"
    assert s.wait(timeout=5) == 1
    assert time.monotonic() - t0 <= 6
    check_one_access_line(s.stderr(), 408)
    assert_no_connection(b, settle=0.1)
    assert res.status == 408


def test_handshake_timeout_nothing_sent_pipe(raw_backend, pipe_session):
    b = raw_backend()
    s = pipe_session(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    t0 = time.monotonic()
    out, eof = s.read_all(timeout=6)
    took = time.monotonic() - t0
    assert out == b""
    assert eof, "wstunnel did not close within 6 s"
    assert 0.8 <= took <= 4, took
    assert s.wait(timeout=5) == 1
    lines = [l for l in s.stderr().splitlines() if " client=" in l]
    assert len(lines) == 1, s.stderr()
    assert field(lines[0], "status") != "408"
    assert_no_connection(b, settle=0.1)


def test_handshake_timeout_slow_drip_pipe(raw_backend, pipe_session):
    """The timeout bounds the whole head, not the gap between bytes."""
    b = raw_backend()
    s = pipe_session(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    t0 = time.monotonic()
    head = req_with()
    i = 0
    while time.monotonic() - t0 < 4 and i < len(head) - 1 and \
            s.proc.poll() is None:
        if select.select([s.proc.stdout], [], [], 0)[0]:
            break               # the answer is there
        try:
            s.write(head[i:i + 1])
        except (BrokenPipeError, OSError):
            break
        i += 1
        time.sleep(0.2)
    out = read_response(s, timeout=3)
    assert time.monotonic() - t0 <= 5
    check_refusal(out, 408)
    s.close_stdin()
    assert s.wait(timeout=5) == 1
    assert_no_connection(b, settle=0.1)


def test_handshake_timeout_partial_head_activated(raw_backend, activated_rc):
    b = raw_backend()
    a = activated_rc(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect()
    try:
        t0 = time.monotonic()
        c.sendall(b"GET / HTTP/1.1\r\nHost: example.test\r\n")
        out = wslib.read_all(c, timeout=6)
        took = time.monotonic() - t0
    finally:
        c.close()
    check_refusal(out, 408)
    assert 0.8 <= took <= 4, took
    assert a.wait_statuses(1) == [1]
    check_one_access_line("\n".join(a.wait_access_lines(1)), 408)
    assert_no_connection(b, settle=0.1)


def test_handshake_timeout_nothing_sent_activated(raw_backend, activated_rc):
    b = raw_backend()
    a = activated_rc(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect()
    try:
        t0 = time.monotonic()
        out = wslib.read_all(c, timeout=6)
        took = time.monotonic() - t0
    finally:
        c.close()
    assert out == b""
    assert 0.8 <= took <= 4, took
    assert a.wait_statuses(1) == [1]
    lines = a.wait_access_lines(1)
    assert len(lines) == 1
    assert field(lines[0], "status") != "408"
    assert_no_connection(b, settle=0.1)


# --------------------------------------------------------------------------
# behind systemd-socket-activate: a representative subset, raw sockets

ACTIVATED_SUBSET = ["method-POST", "HTTP/1.0", "HTTP/2.0", "absolute-form-http",
                    "asterisk-form", "line-8193", "head-over-default-max",
                    "fields-101", "obs-fold-space", "ws-before-colon",
                    "bare-LF-field-line", "NUL-in-value", "Host-duplicate-same",
                    "Content-Length-5", "Transfer-Encoding-chunked",
                    "Upgrade-missing", "Connection-keep-alive", "Version-8",
                    "Key-15-bytes", "dot-/../", "dot-%2e%2e"]


def refuse_activated(activated_rc, raw_backend, data, status, extra=(),
                     args=(), routes=None, backend=None):
    b = backend or raw_backend()
    routes = routes or [f"ws://127.0.0.1:{b.port}"]
    a = activated_rc(["--handshake-timeout", "2", *args, *routes])
    out = exchange(a.port, data, timeout=8)
    check_refusal(out, status, extra)
    assert a.wait_statuses(1) == [1]
    check_one_access_line("\n".join(a.wait_access_lines(1)), status)
    line = a.access_lines()[0]
    assert field(line, "client").startswith("127.0.0.1:"), line
    assert_no_connection(b, settle=0.1)
    return a


@pytest.mark.parametrize("name", ACTIVATED_SUBSET)
def test_refusal_activated(activated_rc, raw_backend, name):
    _, data, status, extra = ROW[name]
    refuse_activated(activated_rc, raw_backend, data, status, extra)


def test_no_route_404_activated(activated_rc, raw_backend):
    b = raw_backend()
    refuse_activated(activated_rc, raw_backend, req_with(target="/apple"), 404,
                     backend=b, routes=[f"/app=ws://127.0.0.1:{b.port}/ws"])


def test_origin_refused_activated(activated_rc, raw_backend):
    refuse_activated(activated_rc, raw_backend,
                     req_with(add=[("Origin", "https://evil.test")]), 403,
                     args=["--origin", "https://good.test"])


def test_max_header_bytes_1024_activated(activated_rc, raw_backend):
    refuse_activated(activated_rc, raw_backend, head_of(1100), 431,
                     args=["--max-header-bytes", "1024"])


# --------------------------------------------------------------------------
# --allow / --deny: the client is 127.0.0.1 behind socket activation

ACCESS_CASES = [
    (["--allow", "10.0.0.0/8"], False),
    (["--allow", "127.0.0.0/8"], True),
    (["--allow", "127.0.0.1/32"], True),
    (["--allow", "127.0.0.2/32"], False),
    (["--allow", "10.0.0.0/8", "--allow", "127.0.0.0/24"], True),
    (["--deny", "127.0.0.0/8"], False),
    (["--deny", "127.0.0.1/32"], False),
    (["--deny", "10.0.0.0/8"], True),
    (["--allow", "127.0.0.0/8", "--deny", "127.0.0.1/32"], False),
    (["--deny", "127.0.0.1/32", "--allow", "127.0.0.0/8"], False),
    (["--allow", "127.0.0.1/32", "--deny", "10.0.0.0/8"], True),
    (["--allow", "::1/128"], False),
    (["--allow", "0.0.0.0/0"], True),
]


@pytest.mark.parametrize("args,ok", ACCESS_CASES,
                         ids=[" ".join(a) for a, _ in ACCESS_CASES])
def test_allow_deny(activated_rc, raw_backend, args, ok):
    if not ok:
        refuse_activated(activated_rc, raw_backend, req_with(), 403,
                         args=args)
        return
    b = raw_backend()
    a = activated_rc(["--close-timeout", "1", *args,
                      f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(req_with())
        out = wslib.read_until(c, timeout=5)
    finally:
        c.close()
    res = wslib.Response(out)
    assert res.status == 101, out
    assert res.get("Sec-WebSocket-Accept") == ACCEPT
    assert a.wait_statuses(1) == [0]
    line = a.wait_access_lines(1)[0]
    assert field(line, "status") == "101"
    assert b.connections == 1
