"""Hostile input through the real binary: request smuggling pairs, broken
field lines, oversized and endless heads, pipelined requests, invalid UTF-8,
encoded dot-segments, slow and silent clients, clients that never read or
never stop sending, binary garbage and a TLS ClientHello on the plain port.

Each test asserts the exact answer (SPEC.md "The client request"), that no
backend connection happened where none may, and that wstunnel exited within
a bound.  test_request.py has one row per refusal of the table; this file
aims at what an attacker would send, the timing of the answers, and the
socket behaviour around them."""
import os
import socket
import threading
import time

import pytest

import wslib
from helpers_faults import WRAPPED, Recorder, answer_101, client_hello
from helpers_rb import (ACCEPT, activated_rc,  # noqa: F401
                        assert_no_connection, build_request,
                        check_one_access_line, check_refusal, field)

PIPE_TIMEOUT = 5        # a refusal in pipe mode: wstunnel is gone by then
# an answer "at once"; under make valgrind a process needs a second or two
# just to start
AT_ONCE = 3.5 if WRAPPED else 1.0


# --------------------------------------------------------------------------
# helpers

def refuse_pipe(raw_backend, data, status, args=(), extra=(), route=None):
    """data, sent on a pipe that then ends, is refused with status: exit
    1 within PIPE_TIMEOUT, one access line, no backend connection."""
    b = raw_backend()
    url = route(b.port) if route else f"ws://127.0.0.1:{b.port}"
    out, err, rc = wslib.run_pipe([*args, url], data, timeout=PIPE_TIMEOUT)
    res = check_refusal(out, status, extra)
    assert rc == 1, err
    check_one_access_line(err, status)
    assert_no_connection(b, settle=0.05)
    return res, err


def pass_pipe(raw_backend, data, args=(), route=None):
    """data is a request wstunnel must pass on: the backend sees one head,
    its 101 reaches the client, exit 0.  Returns the backend's head."""
    b = raw_backend()
    url = route(b.port) if route else f"ws://127.0.0.1:{b.port}"
    out, err, rc = wslib.run_pipe(["--close-timeout", "1", *args, url], data,
                                  timeout=PIPE_TIMEOUT)
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT, out
    assert rc == 0, err
    assert b.connections == 1 and len(b.heads) == 1, b.heads
    check_one_access_line(err, 101)
    return b.heads[0]


def backend_line(head):
    return head.split(b"\r\n", 1)[0]


def backend_values(head, name):
    out = []
    for line in head.split(b"\r\n")[1:]:
        n, sep, v = line.partition(b":")
        if sep and n.decode("latin-1").lower() == name.lower():
            out.append(v.strip(b" \t"))
    return out


def read_answer(sock, timeout):
    """One complete wstunnel answer (head and its Content-Length body):
    (bytes, seconds it took, how the read ended: 'complete', 'eof',
    'reset' or 'timeout')."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    data = b""
    while True:
        res = wslib.Response(data)
        n = res.get("Content-Length") if res.complete else None
        if n is not None and len(res.rest) >= int(n):
            return data, time.monotonic() - t0, "complete"
        left = deadline - time.monotonic()
        if left <= 0:
            return data, time.monotonic() - t0, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, time.monotonic() - t0, "timeout"
        except ConnectionResetError:
            return data, time.monotonic() - t0, "reset"
        if not chunk:
            return data, time.monotonic() - t0, "eof"
        data += chunk


def end_of(sock, timeout):
    """How the connection ends after the answer: ('eof'|'reset'|'timeout',
    stray bytes)."""
    deadline = time.monotonic() + timeout
    stray = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", stray
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "timeout", stray
        except ConnectionResetError:
            return "reset", stray
        if not chunk:
            return "eof", stray
        stray += chunk


def refuse_activated(a, b, data, status, bound, extra=()):
    """data sent in one write to a socket-activated wstunnel: the exact
    refusal, then a clean end, exit status 1 within bound seconds, no
    backend connection."""
    t0 = time.monotonic()
    c = a.connect(timeout=5)
    try:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        out, _, how = read_answer(c, timeout=bound)
        assert how == "complete", (how, out)
        end, stray = end_of(c, timeout=bound)
    finally:
        c.close()
    check_refusal(out, status, extra)
    assert stray == b"", f"bytes after the answer: {stray!r}"
    assert end == "eof", end
    assert a.wait_statuses(1, timeout=bound) == [1]
    assert time.monotonic() - t0 <= bound
    check_one_access_line("\n".join(a.wait_access_lines(1)), status)
    assert_no_connection(b, settle=0.05)


# --------------------------------------------------------------------------
# request smuggling: body framing on an upgrade request

def smuggle(fields, body=b""):
    return build_request(raw_fields=fields) + body


SMUGGLING = [
    ("CL-then-TE", smuggle(["Content-Length: 5", "Transfer-Encoding: chunked"],
                           b"0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n")),
    ("TE-then-CL", smuggle(["Transfer-Encoding: chunked", "Content-Length: 5"],
                           b"0\r\n\r\n")),
    ("TE-chunked-CL-0", smuggle(["Transfer-Encoding: chunked",
                                 "Content-Length: 0"],
                                b"5\r\nhello\r\n0\r\n\r\n")),
    ("CL-0-TE-chunked", smuggle(["Content-Length: 0",
                                 "Transfer-Encoding: chunked"],
                                b"0\r\n\r\n")),
    ("duplicate-CL-0-0", smuggle(["Content-Length: 0", "Content-Length: 0"])),
    ("duplicate-CL-0-5", smuggle(["Content-Length: 0", "Content-Length: 5"],
                                 b"hello")),
    ("duplicate-CL-5-0", smuggle(["Content-Length: 5", "Content-Length: 0"],
                                 b"hello")),
    ("CL-list-0-0", smuggle(["Content-Length: 0, 0"])),
    ("CL-list-0-5", smuggle(["Content-Length: 0,5"], b"hello")),
    ("CL-plus-0", smuggle(["Content-Length: +0"])),
    ("CL-minus-0", smuggle(["Content-Length: -0"])),
    ("CL-minus-1", smuggle(["Content-Length: -1"])),
    ("CL-hex-0x0", smuggle(["Content-Length: 0x0"])),
    ("CL-hex-0x5", smuggle(["Content-Length: 0x5"], b"hello")),
    ("CL-space-inside", smuggle(["Content-Length: 0 5"], b"hello")),
    ("CL-tab-inside", smuggle(["Content-Length: 0\t5"], b"hello")),
    ("CL-exponent", smuggle(["Content-Length: 5e0"], b"hello")),
    ("CL-huge", smuggle(["Content-Length: 99999999999999999999999"])),
    ("CL-space-before-colon", smuggle(["Content-Length : 5"], b"hello")),
    ("TE-space-before-colon", smuggle(["Transfer-Encoding : chunked"],
                                      b"0\r\n\r\n")),
    ("TE-tab-before-colon", smuggle(["Transfer-Encoding\t: chunked"],
                                    b"0\r\n\r\n")),
    ("TE-obs-folded-value", smuggle(["Transfer-Encoding:", " chunked"],
                                    b"0\r\n\r\n")),
    ("TE-obs-folded-after-field", smuggle(["X-A: a", " Transfer-Encoding: "
                                           "chunked"], b"0\r\n\r\n")),
    ("TE-obs-folded-tab", smuggle(["X-A: a", "\tTransfer-Encoding: chunked"],
                                  b"0\r\n\r\n")),
    ("TE-identity", smuggle(["Transfer-Encoding: identity"])),
    ("TE-empty", smuggle(["Transfer-Encoding:"])),
    ("TE-lowercase", smuggle(["transfer-encoding: chunked"], b"0\r\n\r\n")),
    ("TE-uppercase", smuggle(["TRANSFER-ENCODING: CHUNKED"], b"0\r\n\r\n")),
    ("TE-mixed-case", smuggle(["tRaNsFeR-eNcOdInG: ChUnKeD"], b"0\r\n\r\n")),
    ("TE-list", smuggle(["Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n")),
    ("TE-twice", smuggle(["Transfer-Encoding: identity",
                          "Transfer-Encoding: chunked"], b"0\r\n\r\n")),
    ("TE-xchunked", smuggle(["Transfer-Encoding: xchunked"])),
    ("TE-quoted", smuggle(['Transfer-Encoding: "chunked"'])),
    ("TE-vertical-tab", smuggle([b"Transfer-Encoding:\x0bchunked"])),
    ("TE-NUL-in-name", smuggle([b"Transfer-Encoding\x00: chunked"])),
]


@pytest.mark.parametrize("name,data", SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_smuggling_refused_400(raw_backend, name, data):
    refuse_pipe(raw_backend, data, 400)


def test_smuggling_pair_activated_never_reaches_backend(raw_backend,
                                                        activated_rc):
    """The classic CL.TE pair with a smuggled request in the body, behind
    socket activation: 400, a clean close, nothing reaches the backend."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    body = b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"
    data = smuggle([f"Content-Length: {len(body)}",
                    "Transfer-Encoding: chunked"], body)
    refuse_activated(a, b, data, 400, bound=4)


@pytest.mark.parametrize("value", ["0", " 0", "0 ", "\t0\t"],
                         ids=["plain", "OWS-before", "OWS-after", "tabs"])
def test_content_length_zero_with_ows_passes(raw_backend, value):
    """OWS around a field value is not part of it (RFC 9110 5.5):
    Content-Length: 0 stays allowed however it is padded."""
    head = pass_pipe(raw_backend, smuggle([f"Content-Length:{value}"]))
    assert backend_values(head, "Content-Length") in ([b"0"], []), head


# --------------------------------------------------------------------------
# field names and values

def test_duplicate_field_names_passed_in_order(raw_backend):
    head = pass_pipe(raw_backend, build_request(raw_fields=[
        "X-Dup: one", "X-Other: x", "X-Dup: two", "x-dup: three"]))
    assert backend_values(head, "X-Dup") == [b"one", b"two", b"three"], head


@pytest.mark.parametrize("line", [b": value", b":", b" : value",
                                  b"\t: value", b":: value"],
                         ids=["empty-name", "colon-only", "space-name",
                              "tab-name", "double-colon"])
def test_empty_field_name_400(raw_backend, line):
    refuse_pipe(raw_backend, build_request(raw_fields=[line]), 400)


VALUE_BYTES = [
    ("NUL-first", [b"X-A: \x00abc"]),
    ("NUL-last", [b"X-A: abc\x00"]),
    ("NUL-only", [b"X-A: \x00"]),
    ("NUL-in-key", None),
    ("NUL-in-Upgrade", None),
    ("CR-first", [b"X-A: \rabc"]),
    ("CR-CR-LF", [b"X-A: abc\r"]),
    ("CR-in-Host", None),
    ("LF-in-Upgrade", None),
    ("LF-CR-LF", [b"X-A: abc\n"]),
    ("LF-then-smuggled-field", [b"X-A: a\nTransfer-Encoding: chunked"]),
    ("CR-then-smuggled-field", [b"X-A: a\rTransfer-Encoding: chunked"]),
    ("CRLF-CR-LF-empty-line", None),
]


def value_case(name, fields):
    if fields is not None:
        return build_request(raw_fields=fields)
    if name == "NUL-in-key":
        return build_request(drop=["Sec-WebSocket-Key"], raw_fields=[
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\x00ZQ=="])
    if name == "NUL-in-Upgrade":
        return build_request(drop=["Upgrade"],
                             raw_fields=[b"Upgrade: websocket\x00"])
    if name == "CR-in-Host":
        return build_request(drop=["Host"],
                             raw_fields=[b"Host: exa\rmple.test"])
    if name == "LF-in-Upgrade":
        return build_request(drop=["Upgrade"],
                             raw_fields=[b"Upgrade: web\nsocket"])
    if name == "CRLF-CR-LF-empty-line":
        return build_request()[:-2] + b"\r\r\n"
    raise AssertionError(name)


@pytest.mark.parametrize("name,fields", VALUE_BYTES,
                         ids=[v[0] for v in VALUE_BYTES])
def test_value_with_nul_cr_lf_400(raw_backend, name, fields):
    refuse_pipe(raw_backend, value_case(name, fields), 400)


@pytest.mark.parametrize("partial", [
    b"GET / HTTP/1.1\r\nHost: a\x00",
    b"GET / HTTP/1.1\r\nHost: example.test\r\nX-A: a\rb",
    b"GET /\x00",
    b"\x00",
], ids=["NUL-in-field", "bare-CR-in-field", "NUL-in-line", "NUL-first-byte"])
def test_bad_byte_in_unfinished_head_refused_at_once(raw_backend,
                                                     activated_rc, partial):
    """A byte no line may hold is refused when it arrives, not after the
    handshake timeout: the client has not finished, nor closed, its head."""
    b = raw_backend()
    a = activated_rc(["--handshake-timeout", "5", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        t0 = time.monotonic()
        c.sendall(partial)
        out, took, how = read_answer(c, timeout=4)
        assert how == "complete", (how, out)
        c.shutdown(socket.SHUT_WR)
        assert end_of(c, 3) == ("eof", b"")
    finally:
        c.close()
    check_refusal(out, 400)
    assert took < AT_ONCE, f"answered after {took:.2f}s, not at once"
    assert a.wait_statuses(1, timeout=3) == [1]
    assert time.monotonic() - t0 < 3
    assert_no_connection(b, settle=0.05)


# --------------------------------------------------------------------------
# long lines and many fields

def padded_head(total, name="X-Long"):
    base = len(build_request(add=[(name, "")]))
    return build_request(add=[(name, "a" * (total - base))])


def test_value_of_16000_bytes_within_default_limit_passes_unchanged(
        raw_backend):
    """A single 16000-byte field value; the whole head is still under the
    default --max-header-bytes (16384), so SPEC.md says it passes."""
    value = ("v" * 15999 + "!")
    data = build_request(add=[("X-Long", value)])
    assert len(data) <= 16384
    head = pass_pipe(raw_backend, data)
    assert backend_values(head, "X-Long") == [value.encode()]


def test_value_of_16000_bytes_over_default_limit_431(raw_backend):
    """One 16000-byte value plus enough other fields to take the head one
    byte over 16384: 431."""
    base = build_request(add=[("X-Long", "v" * 16000), ("X-Pad", "")])
    pad = 16385 - len(base)
    data = build_request(add=[("X-Long", "v" * 16000), ("X-Pad", "p" * pad)])
    assert len(data) == 16385
    refuse_pipe(raw_backend, data, 431)


def test_value_of_16000_bytes_with_smaller_limit_431(raw_backend):
    refuse_pipe(raw_backend, build_request(add=[("X-Long", "v" * 16000)]),
                431, args=["--max-header-bytes", "8192"])


def test_value_of_one_megabyte_431_before_it_all_arrives(raw_backend,
                                                         activated_rc):
    """A field line that never seems to end: 431 once the head is over the
    limit, while the client is still sending; the client reads it whole."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    head = build_request()[:-2] + b"X-Endless: "
    sent = {"n": 0, "err": None}

    def sender():
        try:
            c.sendall(head)
            for _ in range(64):
                c.sendall(b"e" * 16384)
                sent["n"] += 16384
        except OSError as e:
            sent["err"] = e
    t = threading.Thread(target=sender, daemon=True)
    t0 = time.monotonic()
    t.start()
    try:
        out, took, how = read_answer(c, timeout=4)
        t.join(5)
        end, _ = end_of(c, 4)
    finally:
        c.close()
    assert how == "complete", (how, out)
    check_refusal(out, 431)
    assert took < AT_ONCE + 0.5, took
    assert end in ("eof", "reset")
    assert a.wait_statuses(1, timeout=4) == [1]
    assert time.monotonic() - t0 < 5
    assert_no_connection(b, settle=0.05)


@pytest.mark.parametrize("name,first,second,status", [
    ("line-9000", b"GET /" + b"a" * 9000, b"", 414),
    ("line-20000", b"GET /" + b"a" * 20000, b"", 414),
    ("line-9000-in-two-writes", b"GET /", b"a" * 9000, 414),
    ("field-over-limit-in-second-write",
     b"GET / HTTP/1.1\r\nHost: example.test\r\nX-A: ", b"a" * 30000, 431),
], ids=["line-9000", "line-20000", "line-9000-in-two-writes",
        "field-over-limit-in-second-write"])
def test_oversized_line_refused_before_it_ends(raw_backend, activated_rc,
                                               name, first, second, status):
    """A request line over 8192 bytes, or a field line that takes the head
    over --max-header-bytes, that has not ended (yet): the limit is already
    passed, so the answer is 414 or 431 at once, not a 408 once
    --handshake-timeout has run out."""
    b = raw_backend()
    hs, at_once = (6, 3.5) if WRAPPED else (1.5, 0.75)
    a = activated_rc(["--handshake-timeout", str(hs),
                      f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(first)
        if second:
            time.sleep(0.1)
            c.sendall(second)
        out, took, how = read_answer(c, timeout=hs + 2)
        c.shutdown(socket.SHUT_WR)
        end_of(c, 3)
    finally:
        c.close()
    assert how == "complete", (how, out)
    res = wslib.Response(out)
    assert (res.status, took < at_once) == (status, True), \
        f"{res.status_line!r} after {took:.2f}s"
    check_refusal(out, status)
    assert a.wait_statuses(1, timeout=4) == [1]
    assert_no_connection(b, settle=0.05)


TINY = b"".join(b"X-%05d: v\r\n" % i for i in range(10000))


@pytest.mark.parametrize("reader", ["reads-at-once", "reads-late"])
def test_ten_thousand_tiny_fields_431(raw_backend, activated_rc, reader):
    """10 000 one-byte fields (about 120 KB): 431 at once, and the client
    gets the whole answer although it sent far more than wstunnel read:
    the lingering close keeps the kernel from resetting the connection
    (which would destroy the answer) before the client has read it."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    data = b"GET / HTTP/1.1\r\nHost: example.test\r\n" + TINY + b"\r\n"
    assert len(data) > 100_000
    c = a.connect(timeout=5)
    err = {}

    def sender():
        try:
            c.sendall(data)
        except OSError as e:
            err["send"] = e
    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    try:
        if reader == "reads-late":
            th.join(5)
            time.sleep(0.5)     # wstunnel has long read all it will read
        out, took, how = read_answer(c, timeout=4)
        th.join(5)
        end, stray = end_of(c, 4)
    finally:
        c.close()
    assert how == "complete", f"answer cut short ({how}): {out!r}"
    check_refusal(out, 431)
    if reader == "reads-at-once":
        assert took < AT_ONCE, f"431 took {took:.2f}s"
    assert "send" not in err, f"client's send failed: {err['send']!r}"
    assert stray == b""
    assert end == "eof", end
    assert a.wait_statuses(1, timeout=4) == [1]
    assert time.monotonic() - t0 < 6
    assert_no_connection(b, settle=0.05)


# --------------------------------------------------------------------------
# a second request pipelined after the head

ADMIN = (b"GET /admin HTTP/1.1\r\nHost: internal\r\nUpgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n")


def test_pipelined_request_after_101_is_only_tunnel_data(raw_backend,
                                                         activated_rc):
    """A valid head and GET /admin in one write: the backend sees exactly
    one request head, and the second request's bytes only after its 101,
    as tunnel data, unchanged (they come back through the echo)."""
    rec = Recorder(answer_101, pre_wait=0.4, hold=3, echo=True)
    b = raw_backend(rec)
    a = activated_rc(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(build_request(target="/chat") + ADMIN)
        got = wslib.read_until(c, marker=ADMIN, timeout=5)
        c.shutdown(socket.SHUT_WR)
        end, stray = end_of(c, 5)
    finally:
        c.close()
    res = wslib.Response(got)
    assert res.status == 101, got
    assert res.rest == ADMIN, res.rest
    assert rec.done.wait(5)
    assert rec.pre == b"", f"bytes reached the backend before its 101: " \
        f"{rec.pre!r}"
    assert rec.post == ADMIN
    assert b.connections == 1 and len(b.heads) == 1, b.heads
    assert backend_line(b.heads[0]) == b"GET /chat HTTP/1.1"
    assert b.heads[0].count(b"GET ") == 1
    assert a.wait_statuses(1, timeout=5) == [0]


@pytest.mark.parametrize("answer", [403, 200, 302])
def test_pipelined_request_after_refused_upgrade_never_reaches_backend(
        raw_backend, activated_rc, answer):
    body = b"not here"
    head = {403: b"HTTP/1.1 403 Forbidden\r\n",
            200: b"HTTP/1.1 200 OK\r\n",
            302: b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"}[answer]
    rec = Recorder(head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
                   pre_wait=0.4, hold=2)
    b = raw_backend(rec)
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(build_request() + ADMIN)
        out = wslib.read_until(c, marker=body, timeout=5)
        c.shutdown(socket.SHUT_WR)
        end, stray = end_of(c, 5)
    finally:
        c.close()
    res = wslib.Response(out)
    assert res.status == answer, out
    assert res.rest == body
    assert stray == b"" and end == "eof", (end, stray)
    assert rec.done.wait(5)
    assert rec.pre == b"" and rec.post == b"", (rec.pre, rec.post)
    assert rec.eof, "backend connection left open"
    assert b.connections == 1 and len(b.heads) == 1, b.heads
    assert a.wait_statuses(1, timeout=5) == [1]


# --------------------------------------------------------------------------
# invalid UTF-8 and other bytes outside ASCII

@pytest.mark.parametrize("target", [
    b"/\xc0\xaf", b"/a/\xc0\xae\xc0\xae/b", b"/\x80", b"/\xff\xfe",
    b"/\xe2\x82", b"/caf\xc3\xa9", b"/\xed\xa0\x80", b"/\xf4\x90\x80\x80",
], ids=["overlong-slash", "overlong-dots", "lone-continuation", "ff-fe",
        "truncated", "valid-but-raw", "surrogate", "above-10ffff"])
def test_invalid_utf8_in_path_400(raw_backend, target):
    refuse_pipe(raw_backend, build_request(line=b"GET " + target +
                                           b" HTTP/1.1"), 400)


@pytest.mark.parametrize("name,value", [
    ("X-Bin", b"\xc0\xaf\xff\xfe\x80 end"),
    ("Cookie", b"s=\xed\xa0\x80; t=\xf4\x90\x80\x80"),
    ("User-Agent", b"caf\xc3\xa9 \xe2\x82"),
    ("Origin", b"https://\xff.example"),
])
def test_invalid_utf8_in_value_passed_unchanged(raw_backend, name, value):
    data = build_request(raw_fields=[name.encode() + b": " + value])
    head = pass_pipe(raw_backend, data)
    assert backend_values(head, name) == [value], head


@pytest.mark.parametrize("line", [
    b"G\x01T / HTTP/1.1", b"G\xc3\x89T / HTTP/1.1", b"\x7fGET / HTTP/1.1",
    b"GET\x00/ HTTP/1.1", b"GET /a\tb HTTP/1.1", b"GET /a\x1bb HTTP/1.1",
    b"GET / HTTP/1.1\x00", b"GET / HTTP\xff1.1", b"GET / \xc8TTP/1.1",
    b"GET\x0b/ HTTP/1.1", b"\xef\xbb\xbfGET / HTTP/1.1",
], ids=["ctl-in-method", "utf8-in-method", "DEL-first", "NUL-for-SP",
        "tab-in-target", "ESC-in-target", "NUL-after-version",
        "8bit-in-version", "8bit-version-start", "VT-for-SP", "BOM-first"])
def test_control_and_8bit_bytes_in_request_line_400(raw_backend, line):
    refuse_pipe(raw_backend, build_request(line=line), 400)


@pytest.mark.parametrize("size", [1, 4096, 70000])
def test_all_zeros_400(raw_backend, size):
    """Zeros: the first byte is already a NUL, which no line may hold, and
    there is no request line (no method, no target) to be too long: 400
    however many zeros there are and however they arrive."""
    refuse_pipe(raw_backend, b"\x00" * size, 400)


def test_all_zeros_activated(raw_backend, activated_rc):
    """100 000 zeros in one write to a socket."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    refuse_activated(a, b, b"\x00" * 100_000, 400, bound=4)


def test_tls_client_hello_on_plain_port_400_and_close(raw_backend,
                                                      activated_rc):
    """A browser sent to wss:// on a plain port: its ClientHello is
    answered 400 at once (the client does not close: it waits for a
    ServerHello), then the connection closes."""
    b = raw_backend()
    a = activated_rc(["--handshake-timeout", "5", f"ws://127.0.0.1:{b.port}"])
    hello = client_hello()
    c = a.connect(timeout=5)
    try:
        t0 = time.monotonic()
        c.sendall(hello)
        out, took, how = read_answer(c, timeout=4)
        end, stray = end_of(c, 4)
        closed_after = time.monotonic() - t0
    finally:
        c.close()
    assert how == "complete", (how, out)
    check_refusal(out, 400)
    assert took < AT_ONCE, took
    assert stray == b""
    assert end == "eof", end
    assert closed_after < 3.5, closed_after     # the 2 s lingering close
    assert a.wait_statuses(1, timeout=3) == [1]
    assert_no_connection(b, settle=0.05)


# --------------------------------------------------------------------------
# percent-encoding in the path

@pytest.mark.parametrize("target", [
    "/%2e%2e/etc/passwd", "/%2E%2e/x", "/%2e%2E/x", "/a/%2E%2E",
    "/a/.%2e/b", "/a/.%2E", "/a/%2e./b", "/a/%2E.", "/a/%2e/b", "/a/%2E",
    "/%2e", "/%2e%2e", "/a/%2e%2e?x=1", "/app/%2e%2e/admin",
    "/app/.%2e%2f..",
], ids=lambda t: t)
def test_encoded_dot_segments_400(raw_backend, target):
    refuse_pipe(raw_backend, build_request(target=target), 400,
                route=lambda p: f"/app=ws://127.0.0.1:{p}/ws")


@pytest.mark.parametrize("target", [
    "/app%2fadmin", "/app%2Fadmin", "/app/a%2fb", "/app/%2f", "/%2F",
    "/app%2f..%2fadmin", "/app/%5c..", "/app/%00", "/app/a%2",
    "/app/a%zz", "/app\\..\\admin",
], ids=lambda t: t)
def test_encoded_slash_backslash_nul_and_bad_escapes_400(raw_backend,
                                                         target):
    refuse_pipe(raw_backend, build_request(target=target), 400,
                route=lambda p: f"/app=ws://127.0.0.1:{p}/ws")


@pytest.mark.parametrize("target,mapped", [
    ("/app/%252e%252e/x", "/ws/%252e%252e/x"),      # double encoding: data
    ("/app/a%2e%2eb", "/ws/a..b"),                   # dots inside a segment
    ("/app/%7euser", "/ws/~user"),                   # unreserved decoded
    ("/app/%41", "/ws/A"),
    ("/app/x?p=%2e%2e/%2f", "/ws/x?p=%2e%2e/%2f"),   # the query is data
], ids=lambda t: t)
def test_percent_encoding_that_passes(raw_backend, target, mapped):
    head = pass_pipe(raw_backend, build_request(target=target),
                     route=lambda p: f"/app=ws://127.0.0.1:{p}/ws")
    assert backend_line(head) == f"GET {mapped} HTTP/1.1".encode(), head


def test_encoded_prefix_cannot_escape_route(raw_backend):
    """/ap%70 is /app once decoded: it takes the /app route (one spelling
    everywhere), and /app%2e%2e is not a way out of it."""
    head = pass_pipe(raw_backend, build_request(target="/ap%70/x"),
                     route=lambda p: f"/app=ws://127.0.0.1:{p}/ws")
    assert backend_line(head) == b"GET /ws/x HTTP/1.1"


# --------------------------------------------------------------------------
# slow clients

def test_head_in_one_byte_writes_passes(raw_backend, activated_rc):
    """Every byte of the head in its own segment, 3 ms apart: a slow but
    honest client gets its tunnel."""
    b = raw_backend()
    a = activated_rc(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    data = build_request(target="/slow")
    c = a.connect(timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.003)
        got = wslib.read_until(c, timeout=5)
        res = wslib.Response(got)
        assert res.status == 101, got
        assert res.get("Sec-WebSocket-Accept") == ACCEPT
        c.sendall(b"after")
        echoed = wslib.read_until(c, marker=b"after", timeout=5)
        c.shutdown(socket.SHUT_WR)
        assert end_of(c, 5) == ("eof", b"")
    finally:
        c.close()
    assert res.rest + echoed == b"after"
    assert b.connections == 1 and len(b.heads) == 1
    assert backend_line(b.heads[0]) == b"GET /slow HTTP/1.1"
    assert a.wait_statuses(1, timeout=5) == [0]


def test_slowloris_408_at_handshake_timeout(raw_backend, activated_rc):
    """A head that never completes, one byte every 100 ms for as long as
    wstunnel listens: 408 at --handshake-timeout 1, then the close."""
    b = raw_backend()
    a = activated_rc(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stop = threading.Event()
    first = b"GET / HTTP/1.1\r\nHost: example.test\r\nX-Slow: "

    def drip():
        try:
            c.sendall(first)
            while not stop.wait(0.1):
                c.send(b"z")
        except OSError:
            pass
    t0 = time.monotonic()
    th = threading.Thread(target=drip, daemon=True)
    th.start()
    try:
        out, took, how = read_answer(c, timeout=4)
        stop.set()
        th.join(2)
        end, stray = end_of(c, 4)
    finally:
        stop.set()
        c.close()
    assert how == "complete", (how, out)
    check_refusal(out, 408)
    assert 0.8 <= took <= 2.0, f"408 after {took:.2f}s"
    assert stray == b""
    assert end in ("eof", "reset"), end
    assert a.wait_statuses(1, timeout=4) == [1]
    assert time.monotonic() - t0 < 5
    line = a.wait_access_lines(1)[0]
    assert field(line, "status") == "408" and field(line, "end") == "timeout"
    assert_no_connection(b, settle=0.05)


# --------------------------------------------------------------------------
# clients that do not read, and clients that do not stop sending

def test_refused_client_that_never_reads_nor_closes(raw_backend,
                                                    activated_rc):
    """A refused request from a client that then does nothing at all:
    wstunnel still exits within a few seconds."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        t0 = time.monotonic()
        c.sendall(build_request(method="POST"))
        assert a.wait_statuses(1, timeout=5) == [1], "wstunnel still running"
        took = time.monotonic() - t0
        out, _, how = read_answer(c, timeout=2)
    finally:
        c.close()
    assert took < 4, took
    check_refusal(out, 405, (("Allow", "GET"),))
    assert_no_connection(b, settle=0.05)


def test_client_that_never_reads_a_large_answer(raw_backend, activated_rc):
    """The backend answers 200 with 32 MB and the client never reads: the
    writes cannot finish; wstunnel gives up within its handshake timeout
    plus the lingering close, and closes the backend connection."""
    body_len = 32 << 20
    state = {}

    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                     % body_len)
        chunk = b"b" * 65536
        sent = 0
        try:
            conn.settimeout(10)
            while sent < body_len:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        state["sent"] = sent
        state["closed_at"] = time.monotonic()

    b = raw_backend(handler)
    a = activated_rc(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    try:
        t0 = time.monotonic()
        c.sendall(build_request())
        assert a.wait_statuses(1, timeout=6) == [1], "wstunnel still running"
        took = time.monotonic() - t0
    finally:
        c.close()
    assert took < 5, took
    assert wslib.wait_for(lambda: "closed_at" in state, timeout=5), \
        "backend connection left open"
    assert state["sent"] < body_len
    line = a.wait_access_lines(1)[0]
    assert field(line, "status") == "200", line


def test_huge_body_after_refused_head_gets_whole_answer(raw_backend,
                                                        activated_rc):
    """A refused head followed by a 16 MB body: the client, reading while
    it sends, gets the whole 400 before the connection ends, and the end
    comes within the lingering close's bound."""
    b = raw_backend()
    a = activated_rc([f"ws://127.0.0.1:{b.port}"])
    total = 16 << 20
    data = build_request(add=[("Content-Length", str(total))])
    c = a.connect(timeout=5)
    state = {"sent": 0}

    def sender():
        try:
            c.sendall(data)
            chunk = os.urandom(65536)
            while state["sent"] < total:
                c.sendall(chunk)
                state["sent"] += len(chunk)
        except OSError as e:
            state["err"] = e
    t0 = time.monotonic()
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    try:
        out, took, how = read_answer(c, timeout=4)
        end, stray = end_of(c, 5)
        ended = time.monotonic() - t0
        th.join(5)
    finally:
        c.close()
    assert how == "complete", f"answer cut short ({how}): {out!r}"
    check_refusal(out, 400)
    assert took < AT_ONCE, took
    assert stray == b""
    assert end in ("eof", "reset"), end
    assert ended < 4, ended
    assert a.wait_statuses(1, timeout=4) == [1]
    assert_no_connection(b, settle=0.05)


def test_huge_body_after_refused_head_pipe(raw_backend):
    """The same on pipes: the body is drained, the answer is whole, exit 1."""
    data = build_request(add=[("Content-Length", "4000000")]) + \
        b"x" * 4_000_000
    refuse_pipe(raw_backend, data, 400)
