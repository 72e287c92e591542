"""SPEC.md "The backend request and answer", with scripted RawBackends: what
the backend is sent (request line, Host, path mapping, headers kept, dropped
and added, pipelined bytes), and every backend outcome of the table."""
import os
import socket
import subprocess
import threading
import time

import pytest

import wslib
from helpers_rb import (ACCEPT, KEY, FullListener, RawUnixBackend,  # noqa: F401
                        activated_rc, build_request, check_one_access_line,
                        check_refusal, dead_port, field, pipe_session)

FRONT = "front.example:8080"


def fields_of(head):
    """(request line, [(name, value)]) of a head (bytes)."""
    lines = head.decode("latin-1").split("\r\n")
    out = []
    for l in lines[1:]:
        if not l:
            continue
        n, _, v = l.partition(":")
        out.append((n, v.strip()))
    return lines[0], out


def values(head, name):
    return [v for n, v in fields_of(head)[1] if n.lower() == name.lower()]


def one_access_line(err):
    lines = [l for l in err.splitlines() if " client=" in l]
    assert len(lines) == 1, err
    return lines[0]


def response_101(head, extra=b""):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + wslib.accept_for(wslib.key_of(head)).encode() + b"\r\n"
            + extra + b"\r\n")


class Script:
    """A RawBackend handler: records what arrives before its answer (for
    pre_wait seconds), sends answer (bytes, or a function of the head; None
    sends nothing), then after, optionally shuts its write side, then records
    what arrives until EOF or hold seconds; with echo, echoes that instead."""

    def __init__(self, answer, after=b"", pre_wait=0.3, hold=3.0, shut=False,
                 echo=False, close_at_once=False):
        self.answer, self.after = answer, after
        self.pre_wait, self.hold = pre_wait, hold
        self.shut, self.echo, self.close_at_once = shut, echo, close_at_once
        self.head = None
        self.pre = b""
        self.post = b""
        self.post_eof = False
        self.answered_at = None
        self.closed_at = None
        self.done = threading.Event()

    def _read(self, conn, seconds, echo=False):
        got, eof = b"", False
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(left)
            try:
                d = conn.recv(65536)
            except socket.timeout:
                break
            except OSError:
                eof = True
                break
            if not d:
                eof = True
                break
            got += d
            if echo:
                conn.sendall(d)
        return got, eof

    def __call__(self, conn, head, rest):
        try:
            self.head = head
            if self.close_at_once:
                return
            more, _ = self._read(conn, self.pre_wait)
            self.pre = rest + more
            if self.answer is not None:
                a = self.answer(head) if callable(self.answer) else self.answer
                conn.sendall(a + self.after)
                self.answered_at = time.monotonic()
            if self.shut:
                conn.shutdown(socket.SHUT_WR)
            self.post, self.post_eof = self._read(conn, self.hold, self.echo)
            self.closed_at = time.monotonic()
        finally:
            self.done.set()


def pipe(args, data, timeout=15):
    return wslib.run_pipe(["--close-timeout", "1", *args], data,
                          timeout=timeout)


# --------------------------------------------------------------------------
# the request the backend is sent

def test_request_line_and_host_is_backend_authority(raw_backend):
    b = raw_backend()
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request(target="/chat?a=b", host=FRONT))
    assert wslib.Response(out).status == 101, (out, err)
    line, _ = fields_of(b.heads[0])
    assert line == "GET /chat?a=b HTTP/1.1"
    assert values(b.heads[0], "Host") == [f"127.0.0.1:{b.port}"]
    assert rc == 0
    acc = one_access_line(err)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"
    assert field(acc, "status") == "101"


def test_preserve_host_sends_client_host(raw_backend):
    b = raw_backend()
    out, err, rc = pipe(["--preserve-host", f"ws://127.0.0.1:{b.port}"],
                        build_request(target="/chat", host=FRONT))
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "Host") == [FRONT]
    assert values(b.heads[0], "X-Forwarded-Host") == [FRONT]


MAPPINGS = [
    ("/gateone/ws=ws://127.0.0.1:{p}/ws", "/gateone/ws/a?x=1", "/ws/a?x=1"),
    ("/gateone/ws=ws://127.0.0.1:{p}/ws", "/gateone/ws?x=1", "/ws?x=1"),
    ("/gateone/ws=ws://127.0.0.1:{p}/ws", "/gateone/ws", "/ws"),
    ("/gateone/ws=ws://127.0.0.1:{p}/ws", "/gateone/ws/", "/ws/"),
    ("/gateone/ws=ws://127.0.0.1:{p}/ws", "/gateone/ws/a/b", "/ws/a/b"),
    ("/gateone/ws=ws://127.0.0.1:{p}", "/gateone/ws/a?x=1", "/a?x=1"),
    ("/gateone/ws=ws://127.0.0.1:{p}", "/gateone/ws/a/b", "/a/b"),
    ("/gateone/ws=ws://127.0.0.1:{p}", "/gateone/ws", "/"),
    ("/gateone/ws=ws://127.0.0.1:{p}", "/gateone/ws?x=1", "/?x=1"),
    ("ws://127.0.0.1:{p}", "/chat?a=b", "/chat?a=b"),
    ("ws://127.0.0.1:{p}", "/", "/"),
    ("ws://127.0.0.1:{p}", "/a/b/c", "/a/b/c"),
    # a bare URL is the route "/": exactly "/" is exactly the backend path
    ("ws://127.0.0.1:{p}/ws", "/", "/ws"),
    ("ws://127.0.0.1:{p}/ws", "/?q=1", "/ws?q=1"),
    ("ws://127.0.0.1:{p}/ws", "/x", "/ws/x"),
    ("ws://127.0.0.1:{p}/ws", "/x/?q", "/ws/x/?q"),
    ("/=ws://127.0.0.1:{p}/ws", "/", "/ws"),
]


@pytest.mark.parametrize("route,target,mapped", MAPPINGS,
                         ids=[f"{r.split('=')[0] if '=' in r else 'bare'}"
                              f"{'+path' if r.endswith('/ws') else ''}:{t}"
                              for r, t, _ in MAPPINGS])
def test_path_mapping(raw_backend, route, target, mapped):
    b = raw_backend()
    out, err, rc = pipe([route.format(p=b.port)], build_request(target=target))
    assert wslib.Response(out).status == 101, (out, err)
    assert fields_of(b.heads[0])[0] == f"GET {mapped} HTTP/1.1"
    assert field(one_access_line(err), "path") == target


def test_upgrade_and_connection_are_canonical(raw_backend):
    b = raw_backend()
    data = build_request(drop=["Upgrade", "Connection"],
                         add=[("Connection", "keep-alive, Upgrade"),
                              ("Upgrade", "WebSocket")])
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "Upgrade") == ["websocket"]
    assert values(b.heads[0], "Connection") == ["Upgrade"]


END_TO_END = [
    ("Origin", "https://app.example.com"),
    ("Cookie", "session=abc123; theme=dark"),
    ("Sec-WebSocket-Protocol", "chat, superchat"),
    ("Sec-WebSocket-Extensions",
     "permessage-deflate; client_max_window_bits"),
    ("Authorization", "Bearer abc.def.ghi"),
    ("X-Foo", "bar  baz,qux"),
    ("User-Agent", "test/1.0 (x)"),
]


def test_end_to_end_headers_unchanged(raw_backend):
    b = raw_backend()
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"],
                       build_request(add=END_TO_END))
    assert wslib.Response(out).status == 101, (out, err)
    h = b.heads[0]
    for name, value in END_TO_END:
        assert values(h, name) == [value], (name, h)
    assert values(h, "Sec-WebSocket-Key") == [KEY]
    assert values(h, "Sec-WebSocket-Version") == ["13"]
    # the names as the client wrote them
    for name, value in END_TO_END:
        assert f"\r\n{name}: ".encode() in h, name


HOP_BY_HOP = [("Keep-Alive", "timeout=5"), ("TE", "trailers"),
              ("Trailer", "X-Checksum"), ("Proxy-Connection", "keep-alive"),
              ("Proxy-Authorization", "Basic dXNlcjpwYXNz")]


def test_hop_by_hop_removed(raw_backend):
    b = raw_backend()
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"],
                       build_request(add=HOP_BY_HOP + [("X-Foo", "kept")]))
    assert wslib.Response(out).status == 101, (out, err)
    h = b.heads[0]
    for name, _ in HOP_BY_HOP:
        assert values(h, name) == [], (name, h)
    assert values(h, "X-Foo") == ["kept"]


def test_header_named_in_connection_removed(raw_backend):
    b = raw_backend()
    data = build_request(drop=["Connection"],
                         add=[("Connection", "Upgrade, X-Secret"),
                              ("X-Secret", "s3cr3t"), ("X-Other", "kept")])
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, (out, err)
    h = b.heads[0]
    assert values(h, "X-Secret") == []
    assert b"s3cr3t" not in h
    assert values(h, "X-Other") == ["kept"]
    assert values(h, "Connection") == ["Upgrade"]


def test_header_named_in_second_connection_field_removed(raw_backend):
    b = raw_backend()
    data = build_request(add=[("Connection", "x-secret"),
                              ("X-Secret", "s3cr3t")])
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "X-Secret") == []


def test_origin_named_in_connection_still_passes(raw_backend):
    b = raw_backend()
    data = build_request(drop=["Connection"],
                         add=[("Connection", "Upgrade, Origin"),
                              ("Origin", "https://app.example.com")])
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "Origin") == ["https://app.example.com"]


def forwarded_via_activated(activated, raw_backend, extra):
    b = raw_backend()
    s = activated(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = s.connect(timeout=5)
    try:
        c.sendall(build_request(host=FRONT, add=extra))
        out = wslib.read_until(c, timeout=5)
    finally:
        c.close()
    assert wslib.Response(out).status == 101, out
    assert wslib.wait_for(lambda: s.access_lines(), timeout=5)
    return b.heads[0]


def test_x_forwarded_for_appended(activated, raw_backend):
    h = forwarded_via_activated(activated, raw_backend,
                                [("X-Forwarded-For", "203.0.113.9")])
    assert values(h, "X-Forwarded-For") == ["203.0.113.9, 127.0.0.1"]


def test_x_forwarded_for_new(activated, raw_backend):
    h = forwarded_via_activated(activated, raw_backend, [])
    assert values(h, "X-Forwarded-For") == ["127.0.0.1"]
    assert values(h, "X-Forwarded-Proto") == ["http"]
    assert values(h, "X-Forwarded-Host") == [FRONT]


def test_x_forwarded_proto_and_host_pipe(raw_backend):
    b = raw_backend()
    out, err, _ = pipe([f"ws://127.0.0.1:{b.port}"],
                       build_request(host=FRONT))
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "X-Forwarded-Proto") == ["http"]
    assert values(b.heads[0], "X-Forwarded-Host") == [FRONT]
    assert len(values(b.heads[0], "X-Forwarded-For")) == 1


# --------------------------------------------------------------------------
# bytes the client sends right after its head

EARLY = b"\x81\x85\x01\x02\x03\x04EARLY-BYTES"


def test_pipelined_bytes_only_after_101(raw_backend):
    sc = Script(response_101, pre_wait=0.5, hold=3)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"], build_request() + EARLY)
    assert sc.done.wait(5)
    assert wslib.Response(out).status == 101, (out, err)
    assert b.heads[0].endswith(b"\r\n\r\n")
    assert sc.pre == b"", "client bytes reached the backend before its 101"
    assert sc.post == EARLY
    assert rc == 0


def test_pipelined_bytes_only_after_101_activated(activated_rc, raw_backend):
    sc = Script(response_101, pre_wait=0.5, hold=3, echo=True)
    b = raw_backend(sc)
    a = activated_rc(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(build_request() + EARLY)
        got = wslib.read_until(c, marker=EARLY, timeout=5)
    finally:
        c.close()
    res = wslib.Response(got)
    assert res.status == 101, got
    assert res.rest == EARLY        # echoed through the tunnel
    assert sc.done.wait(5)
    assert sc.pre == b""
    assert sc.post == EARLY
    assert a.wait_statuses(1) == [0]


SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"


def test_refused_upgrade_never_forwards_pipelined_request(raw_backend):
    body = b"no websocket here"
    sc = Script(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body), hold=2)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request() + SMUGGLED)
    assert sc.done.wait(5)
    res = wslib.Response(out)
    assert res.status == 403, out
    assert res.rest == body
    assert sc.pre == b"" and sc.post == b"", (sc.pre, sc.post)
    assert sc.post_eof
    assert b.connections == 1
    assert rc == 1


def test_refused_upgrade_never_forwards_pipelined_request_activated(
        activated_rc, raw_backend):
    body = b"go away"
    sc = Script(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body), hold=2)
    b = raw_backend(sc)
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(build_request() + SMUGGLED)
        out = wslib.read_until(c, marker=body, timeout=5)
        try:
            c.sendall(SMUGGLED)
        except OSError:
            pass
        out += wslib.read_all(c, timeout=5)
    finally:
        c.close()
    res = wslib.Response(out)
    assert res.status == 200, out
    assert res.rest == body
    assert sc.done.wait(5)
    assert sc.pre == b"" and sc.post == b"", (sc.pre, sc.post)
    assert b.connections == 1
    assert a.wait_statuses(1) == [1]


# --------------------------------------------------------------------------
# the backend outcome table: a valid 101

def test_valid_101_relayed_then_tunnel(raw_backend):
    extra = (b"Keep-Alive: timeout=5\r\nX-Custom: yes\r\n"
             b"Sec-WebSocket-Protocol: chat\r\n")
    sc = Script(lambda h: response_101(h, extra), after=b"GREETING",
                pre_wait=0.1, echo=True, hold=3)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request(add=[("Sec-WebSocket-Protocol",
                                            "chat")]) + b"ping")
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.all("Sec-WebSocket-Accept") == [ACCEPT]
    assert [v.lower() for v in res.all("Upgrade")] == ["websocket"]
    assert [v.lower() for v in res.all("Connection")] == ["upgrade"]
    assert res.all("Keep-Alive") == []
    assert res.all("X-Custom") == ["yes"]
    assert res.all("Sec-WebSocket-Protocol") == ["chat"]
    assert res.rest == b"GREETINGping"
    assert rc == 0
    acc = one_access_line(err)
    assert field(acc, "status") == "101"
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


def test_valid_101_tunnel_both_ways_activated(activated_rc, raw_backend):
    b = raw_backend()           # switch_101: echoes
    a = activated_rc(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    blob = os.urandom(200000)
    try:
        c.sendall(build_request())
        res = wslib.Response(wslib.read_until(c, timeout=5))
        assert res.status == 101
        assert res.get("Sec-WebSocket-Accept") == ACCEPT
        got = res.rest
        c.sendall(b"hello")
        got += wslib.read_until(c, marker=b"hello", timeout=5)
        assert got == b"hello"
        c.sendall(blob)
        got = b""
        deadline = time.monotonic() + 10
        while len(got) < len(blob) and time.monotonic() < deadline:
            got += wslib.read_until(c, marker=b"\x00never\x00",
                                    timeout=0.5, limit=len(blob) - len(got))
        assert got == blob
    finally:
        c.close()
    assert a.wait_statuses(1) == [0]
    line = a.wait_access_lines(1)[0]
    assert field(line, "status") == "101"
    assert field(line, "backend") == f"127.0.0.1:{b.port}"


# tests/fuzz/corpus/response/crash-101-compact-fields-overflow-switch-buffer,
# byte for byte (fixed in 1ef69cf): a valid 101 without a reason whose fields
# are written Name:value.  Relayed, each field grows by a byte ("Name: value")
# and wstunnel adds its Connection: 43 fields outgrew the res_len + 64 bytes
# backend.c allowed for the 101, which turned into a 500.
COMPACT_101 = (b"HTTP/1.1 101\r\nUpgrade:websocket\r\n"
               b"Sec-WebSocket-Accept:" + ACCEPT.encode() + b"\r\n"
               + b"X:v\r\n" * 41 + b"\r\n")
COMPACT_101_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
    "response", "crash-101-compact-fields-overflow-switch-buffer")


def test_valid_101_compact_fields_relayed_then_tunnel(raw_backend):
    with open(COMPACT_101_FILE, "rb") as f:
        assert f.read() == COMPACT_101
    sc = Script(COMPACT_101, after=b"GREETING", pre_wait=0.1, echo=True,
                hold=3)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request() + b"ping")
    assert values(sc.head, "Sec-WebSocket-Key") == [KEY]
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.complete, out
    # the backend's fields in order, written "Name: value", then Connection
    assert res.headers == ([("Upgrade", "websocket"),
                            ("Sec-WebSocket-Accept", ACCEPT)]
                           + [("X", "v")] * 41
                           + [("Connection", "Upgrade")]), out
    head = out[:out.index(b"\r\n\r\n") + 4]
    assert b"X: v\r\n" * 41 in head
    assert len(head) > len(COMPACT_101) + 64     # what used to be allowed
    assert res.rest == b"GREETINGping"          # the tunnel, both ways
    assert rc == 0
    acc = one_access_line(err)
    assert field(acc, "status") == "101"
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


# --------------------------------------------------------------------------
# 101s that are not valid: 502, no tunnel

def bad_101_without_upgrade(head):
    return (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + wslib.accept_for(
                wslib.key_of(head)).encode() + b"\r\n\r\n")


def bad_101_without_accept(head):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\n\r\n")


def bad_101_wrong_accept(head):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + wslib.accept_for(wslib.new_key()).encode() + b"\r\n\r\n")


def bad_101_other_protocol(head):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + wslib.accept_for(wslib.key_of(head)).encode() + b"\r\n\r\n")


def bad_101_accept_of_client_key_echoed(head):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + KEY.encode() + b"\r\n\r\n")


BAD_101 = [bad_101_without_upgrade, bad_101_without_accept,
           bad_101_wrong_accept, bad_101_other_protocol,
           bad_101_accept_of_client_key_echoed]


@pytest.mark.parametrize("answer", BAD_101, ids=[f.__name__ for f in BAD_101])
def test_invalid_101_is_502_without_tunnel(raw_backend, answer):
    sc = Script(answer, after=b"SECRET-FROM-BACKEND", hold=2)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request() + b"CLIENT-DATA")
    check_refusal(out, 502)
    assert b"SECRET" not in out
    assert b"101" not in out.split(b"\r\n")[0]
    assert rc == 1
    assert sc.done.wait(5)
    assert sc.pre == b"" and sc.post == b"", (sc.pre, sc.post)
    acc = check_one_access_line(err, 502)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


# --------------------------------------------------------------------------
# any other status: relayed, then the end

def relay_case(raw_backend, answer, route=None, host="example.test",
               shut=False, hold=3, after=b""):
    sc = Script(answer, after=after, hold=hold, shut=shut)
    b = raw_backend(sc)
    route = (route or "ws://127.0.0.1:{p}").format(p=b.port)
    target = "/gateone/ws/x" if route.startswith("/gateone") else "/x"
    t0 = time.monotonic()
    out, err, rc = pipe([route], build_request(target=target, host=host)
                        + b"CLIENT-AFTER-HEAD")
    took = time.monotonic() - t0
    assert sc.done.wait(hold + 3)
    assert sc.pre == b"" and sc.post == b"", (sc.pre, sc.post)
    assert rc == 1, err
    res = wslib.Response(out)
    assert res.complete, out
    assert res.all("Connection") == ["close"], out
    acc = one_access_line(err)
    assert field(acc, "status") == str(res.status)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"
    return res, took, sc


def test_200_with_content_length_relayed_exactly(raw_backend):
    body = b"hello world"
    res, _, _ = relay_case(raw_backend,
                           b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                           b"X-Backend: yes\r\nContent-Length: 11\r\n\r\n" + body,
                           after=b"EXTRA-NOT-PART-OF-BODY")
    assert res.status == 200
    assert res.status_line == "HTTP/1.1 200 OK"
    assert res.all("Content-Type") == ["text/html"]
    assert res.all("X-Backend") == ["yes"]
    assert res.all("Content-Length") == ["11"]
    assert res.rest == body


def test_403_chunked_relayed_and_ends_with_last_chunk(raw_backend):
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    res, took, sc = relay_case(
        raw_backend, b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked, hold=4)
    assert res.status == 403
    assert res.all("Transfer-Encoding") == ["chunked"]
    assert res.rest == chunked
    # the body ended with its last chunk: no waiting for the backend to close
    assert took < 3, took
    assert sc.post_eof


def test_500_close_delimited_relayed(raw_backend):
    body = b"boom\nboom boom\n" * 10
    res, _, _ = relay_case(
        raw_backend, b"HTTP/1.1 500 Internal Server Error\r\n"
        b"Content-Type: text/plain\r\n\r\n" + body, shut=True)
    assert res.status == 500
    assert res.status_line == "HTTP/1.1 500 Internal Server Error"
    assert res.all("Content-Length") == []
    assert res.rest == body


def location_case(raw_backend, location, route="/gateone/ws=ws://127.0.0.1:{p}/ws"):
    holder = {}

    def answer(head):
        loc = location.format(p=holder["port"]).encode()
        return (b"HTTP/1.1 302 Found\r\nLocation: " + loc +
                b"\r\nContent-Length: 5\r\n\r\nmoved")
    sc = Script(answer, hold=3)
    b = raw_backend(sc)
    holder["port"] = b.port
    out, err, rc = pipe([route.format(p=b.port)],
                        build_request(target="/gateone/ws/x", host=FRONT)
                        + b"CLIENT-AFTER-HEAD")
    assert sc.done.wait(6)
    assert sc.pre == b"" and sc.post == b""
    res = wslib.Response(out)
    assert res.status == 302, out
    assert res.rest == b"moved"
    assert res.all("Connection") == ["close"]
    assert rc == 1
    acc = check_one_access_line(err, 302)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"
    return res, b.port


def test_302_location_under_backend_rewritten(raw_backend):
    res, _ = location_case(raw_backend, "http://127.0.0.1:{p}/ws/login")
    assert res.all("Location") == [f"http://{FRONT}/gateone/ws/login"]


def test_302_location_with_query_rewritten(raw_backend):
    res, _ = location_case(raw_backend, "http://127.0.0.1:{p}/ws/login?next=/a")
    assert res.all("Location") == [f"http://{FRONT}/gateone/ws/login?next=/a"]


def test_302_location_other_authority_left_alone(raw_backend):
    res, p = location_case(raw_backend, "http://other.example:{p}/ws/login")
    assert res.all("Location") == [f"http://other.example:{p}/ws/login"]


def test_302_location_other_port_left_alone(raw_backend):
    other = dead_port()
    res, p = location_case(raw_backend, f"http://127.0.0.1:{other}/ws/login")
    assert res.all("Location") == [f"http://127.0.0.1:{other}/ws/login"]


def test_302_location_other_host_exact(raw_backend):
    res, p = location_case(raw_backend, "https://login.example.org/ws/login")
    assert res.all("Location") == ["https://login.example.org/ws/login"]


def test_302_path_absolute_location_rewritten(raw_backend):
    res, _ = location_case(raw_backend, "/ws/x")
    assert res.all("Location") == ["/gateone/ws/x"]


def test_302_path_absolute_location_outside_backend_path_left_alone(raw_backend):
    res, _ = location_case(raw_backend, "/other/x")
    assert res.all("Location") == ["/other/x"]


def test_200_two_megabyte_body_relayed_intact(raw_backend):
    body = os.urandom(2 * 1024 * 1024)
    sc = Script(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
                b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body, hold=5)
    b = raw_backend(sc)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"], build_request(),
                        timeout=20)
    res = wslib.Response(out)
    assert res.status == 200, out[:200]
    assert res.all("Content-Length") == [str(len(body))]
    assert len(res.rest) == len(body)
    assert res.rest == body
    assert rc == 1
    acc = check_one_access_line(err, 200)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


# --------------------------------------------------------------------------
# failures: 502 and 504

def test_connection_refused_502(raw_backend):
    p = dead_port()
    out, err, rc = pipe([f"ws://127.0.0.1:{p}"], build_request())
    check_refusal(out, 502)
    assert rc == 1
    check_one_access_line(err, 502)


def test_backend_never_answers_504(raw_backend):
    sc = Script(None, pre_wait=0, hold=5)
    b = raw_backend(sc)
    t0 = time.monotonic()
    out, err, rc = pipe(["--handshake-timeout", "1",
                         f"ws://127.0.0.1:{b.port}"], build_request(),
                        timeout=10)
    took = time.monotonic() - t0
    check_refusal(out, 504)
    assert 0.8 <= took <= 3.5, took
    assert rc == 1
    assert b.connections == 1
    acc = check_one_access_line(err, 504)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


@pytest.mark.parametrize("partial", [
    b"", b"HTTP/1.1 101 Swi", b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
], ids=["nothing", "mid-status-line", "after-status-line", "mid-fields"])
def test_backend_closes_before_complete_head_502(raw_backend, partial):
    sc = Script(partial, pre_wait=0, shut=True, hold=2)
    b = raw_backend(sc)
    out, err, rc = pipe(["--handshake-timeout", "3",
                         f"ws://127.0.0.1:{b.port}"], build_request())
    check_refusal(out, 502)
    assert partial[:12] not in out or partial == b""
    assert rc == 1
    check_one_access_line(err, 502)


def test_backend_closes_at_once_502(raw_backend):
    sc = Script(None, close_at_once=True)
    b = raw_backend(sc)
    t0 = time.monotonic()
    out, err, rc = pipe(["--handshake-timeout", "3",
                         f"ws://127.0.0.1:{b.port}"], build_request())
    check_refusal(out, 502)
    assert time.monotonic() - t0 < 2.5
    assert rc == 1
    check_one_access_line(err, 502)


def test_connect_timeout_504():
    full = FullListener()
    try:
        if not full.ok:
            pytest.skip("the kernel accepted every connection")
        t0 = time.monotonic()
        out, err, rc = pipe(["--connect-timeout", "1",
                             f"ws://127.0.0.1:{full.port}"], build_request(),
                            timeout=10)
        took = time.monotonic() - t0
    finally:
        full.close()
    check_refusal(out, 504)
    assert 0.8 <= took <= 3.5, took
    assert rc == 1
    check_one_access_line(err, 504)


# --------------------------------------------------------------------------
# several URLs in a route

def test_first_refuses_second_works(raw_backend):
    b = raw_backend()
    d = dead_port()
    out, err, rc = pipe(["--balance", "first",
                         f"/=ws://127.0.0.1:{d},ws://127.0.0.1:{b.port}"],
                        build_request())
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT
    assert rc == 0
    assert b.connections == 1
    acc = check_one_access_line(err, 101)
    assert field(acc, "backend") == f"127.0.0.1:{b.port}"


def test_two_refuse_third_works(raw_backend):
    b = raw_backend()
    d1, d2 = dead_port(), dead_port()
    out, err, rc = pipe(["--balance", "first",
                         f"/app=ws://127.0.0.1:{d1},ws://127.0.0.1:{d2},"
                         f"ws://127.0.0.1:{b.port}/ws"],
                        build_request(target="/app/x"))
    assert wslib.Response(out).status == 101, (out, err)
    assert fields_of(b.heads[0])[0] == "GET /ws/x HTTP/1.1"
    assert values(b.heads[0], "Host") == [f"127.0.0.1:{b.port}"]
    assert field(check_one_access_line(err, 101), "backend") == \
        f"127.0.0.1:{b.port}"


def test_first_times_out_second_works(raw_backend):
    b = raw_backend()
    full = FullListener()
    try:
        if not full.ok:
            pytest.skip("the kernel accepted every connection")
        out, err, rc = pipe(["--balance", "first", "--connect-timeout", "1",
                             f"/=ws://127.0.0.1:{full.port},"
                             f"ws://127.0.0.1:{b.port}"], build_request(),
                            timeout=10)
    finally:
        full.close()
    assert wslib.Response(out).status == 101, (out, err)
    assert rc == 0
    assert field(check_one_access_line(err, 101), "backend") == \
        f"127.0.0.1:{b.port}"


def test_all_refuse_502():
    d1, d2 = dead_port(), dead_port()
    out, err, rc = pipe(["--balance", "first",
                         f"/=ws://127.0.0.1:{d1},ws://127.0.0.1:{d2}"],
                        build_request())
    check_refusal(out, 502)
    assert rc == 1
    check_one_access_line(err, 502)


# --------------------------------------------------------------------------
# other kinds of backend address

def test_unix_socket_backend_raw(raw_backend):
    sc = Script(response_101, pre_wait=0.1, echo=True, hold=3)
    b = RawUnixBackend(sc)
    try:
        out, err, rc = pipe([f"/app=ws://unix:{b.path}:/path"],
                            build_request(target="/app/x?y=1") + b"ping")
    finally:
        b.close()
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT
    assert res.rest == b"ping"
    assert rc == 0
    assert fields_of(sc.head)[0] == "GET /path/x?y=1 HTTP/1.1"
    assert len(values(sc.head, "Host")) == 1
    acc = check_one_access_line(err, 101)
    assert b.path in field(acc, "backend"), acc


def test_unix_socket_backend_websockets_echo(echo_backend, pipe_session):
    import json
    d = os.path.join("/tmp", f"wst-echo-{os.getpid()}-{time.monotonic_ns()}")
    os.mkdir(d)
    path = os.path.join(d, "e.sock")
    try:
        e = echo_backend(where=f"unix:{path}")
        s = pipe_session(["--close-timeout", "1", f"ws://unix:{path}:/path"])
        s.write(build_request(target="/chat") + wslib.frame("hello unix"))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            out, eof = s.read_until(b"hello unix", timeout=5)
            if b"hello unix" in out or eof:
                break
        res = wslib.Response(s.out)
        assert res.status == 101, s.out
        frames, _ = wslib.parse_frames(res.rest)
        assert (0x1, b"hello unix") in frames
        s.close_stdin()
        assert s.wait(timeout=5) == 0
        info = json.loads(e.proc.stdout.readline())
        assert info["path"] == "/path/chat"
        acc = check_one_access_line(s.stderr(), 101)
        assert path in field(acc, "backend")
    finally:
        for p in (path,):
            if os.path.exists(p):
                os.unlink(p)
        try:
            os.rmdir(d)
        except OSError:
            pass


def test_ipv6_backend(raw_backend):
    try:
        b = raw_backend(family=socket.AF_INET6, host="::1")
    except OSError:
        pytest.skip("::1 is not available")
    out, err, rc = pipe([f"ws://[::1]:{b.port}/v6"], build_request(target="/a"))
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert rc == 0
    assert fields_of(b.heads[0])[0] == "GET /v6/a HTTP/1.1"
    assert values(b.heads[0], "Host") == [f"[::1]:{b.port}"]
    assert field(check_one_access_line(err, 101), "backend") == \
        f"[::1]:{b.port}"


def test_name_backend_localhost(raw_backend):
    b = raw_backend()
    out, err, rc = pipe([f"ws://localhost:{b.port}"], build_request(target="/n"))
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert rc == 0
    assert fields_of(b.heads[0])[0] == "GET /n HTTP/1.1"
    assert values(b.heads[0], "Host") == [f"localhost:{b.port}"]
    assert field(check_one_access_line(err, 101), "backend") == \
        f"127.0.0.1:{b.port}"


def in_mount_ns_with_hosts(hosts_file):
    """A command prefix that runs wstunnel in a mount namespace of its own
    where /etc/hosts is hosts_file, or None where that cannot be done."""
    prefix = ["unshare", "--mount", "sh", "-c",
              'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts_file)]
    probe = subprocess.run(prefix + ["true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


@pytest.mark.parametrize("listen", ["127.0.0.1", "::1"])
def test_every_address_of_a_name_is_tried_in_turn(raw_backend, tmp_path,
                                                  listen):
    """multi.test has two addresses, ::1 and 127.0.0.1, and the backend
    listens on only one of them: whichever order the resolver gives, one
    of the two cases must go on to the second address."""
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 multi.test\n127.0.0.1 multi.test\n")
    prefix = in_mount_ns_with_hosts(hosts)
    if prefix is None:
        pytest.skip("no mount namespace here (unshare needs root)")
    b = raw_backend(family=socket.AF_INET6 if ":" in listen else
                    socket.AF_INET, host=listen)
    p = subprocess.run(prefix + wslib.command(
        ["--log", "stderr", "--close-timeout", "1",
         f"ws://multi.test:{b.port}"]), input=build_request(target="/m"),
        capture_output=True, timeout=15)
    err = p.stderr.decode(errors="replace")
    assert wslib.Response(p.stdout).status == 101, err
    assert p.returncode == 0, err
    shown = f"[{listen}]" if ":" in listen else listen
    assert field(check_one_access_line(err, 101), "backend") == \
        f"{shown}:{b.port}"
    # the resolver's order, as wstunnel gets it
    order = subprocess.run(prefix + ["getent", "ahosts", "multi.test"],
                           capture_output=True, text=True).stdout.split()
    first = order[0] if order else None
    other = "127.0.0.1" if ":" in listen else "[::1]"
    refused = [l for l in err.splitlines() if f"connect to {other}:" in l]
    if first == listen:
        assert refused == [], err
    else:       # the first address refused, the second one served
        assert len(refused) == 1 and "refused" in refused[0].lower(), err


def test_unresolvable_name_502():
    out, err, rc = pipe(["ws://no-such-host.invalid:80"], build_request())
    check_refusal(out, 502)
    assert rc == 1
    check_one_access_line(err, 502)
