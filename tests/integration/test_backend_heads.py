"""The backend's answer head, read through the real binary with scripted
RawBackends: interim 1xx answers before the final one (RFC 9110 section
15.2), the response head's own fixed bound (not --max-header-bytes), and
heads that arrive in small pieces, whose cost must grow with their length,
not its square."""
import fcntl
import os
import select
import subprocess
import termios
import time

import pytest

import wslib
from helpers_rb import build_request, check_refusal, dead_port, field

RESPONSE_MAX = 32768            # http.h HTTP_MAX_RESPONSE_HEAD
INTERIM_MAX = 8                 # backend.c MAX_INTERIM
# seconds a wrapper (make valgrind) adds to a wstunnel's start and its answer
WRAPPED = 5 if wslib.WRAPPER else 0


def switch_head(head, extra=b""):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + wslib.accept_for(wslib.key_of(head)).encode() + b"\r\n"
            + extra + b"\r\n")


def padded_switch(head, total):
    """A valid 101 head of exactly total bytes, padded by an X-Pad field."""
    base = switch_head(head, b"X-Pad: \r\n")
    return switch_head(head, b"X-Pad: " + b"p" * (total - len(base)) + b"\r\n")


class Answer:
    """A RawBackend handler: sends pieces (bytes, or functions of the
    request head) one by one, pause seconds apart, then echoes what arrives
    until EOF or hold seconds."""

    def __init__(self, *pieces, pause=0.0, hold=5.0):
        self.pieces, self.pause, self.hold = pieces, pause, hold

    def __call__(self, conn, head, rest):
        for p in self.pieces:
            conn.sendall(p(head) if callable(p) else p)
            if self.pause:
                time.sleep(self.pause)
        deadline = time.monotonic() + self.hold
        while time.monotonic() < deadline:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = conn.recv(65536)
            except OSError:
                return
            if not d:
                return
            conn.sendall(d)


def run(args, data=None, timeout=15):
    return wslib.run_pipe(["--close-timeout", "1", *args],
                          build_request() + b"ping" if data is None else data,
                          timeout=timeout)


def access(err):
    lines = [l for l in err.splitlines() if " client=" in l]
    assert len(lines) == 1, err
    return lines[0]


def assert_tunnel(out, err, rc):
    """The client got the final 101 first (no interim head) and the echo."""
    assert out.startswith(b"HTTP/1.1 101 "), (out[:200], err)
    res = wslib.Response(out)
    assert res.rest == b"ping", (out[-200:], err)
    assert rc == 0, err
    acc = access(err)
    assert field(acc, "status") == "101", acc
    assert field(acc, "end") == "client-closed", acc


# --------------------------------------------------------------------------
# interim answers (RFC 9110 section 15.2): skipped, the final answer decides

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
PROCESSING = b"HTTP/1.1 102 Processing\r\n\r\n"
HINTS = (b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; "
         b"as=style\r\nLink: </app.js>; rel=preload\r\n\r\n")


@pytest.mark.parametrize("interim", [
    [CONTINUE], [PROCESSING], [HINTS], [CONTINUE, PROCESSING, HINTS, HINTS],
    [b"HTTP/1.1 199\r\n\r\n"], [b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n"],
], ids=["100", "102", "103", "100-102-103-103", "199", "100-with-field"])
@pytest.mark.parametrize("pause", [0.0, 0.1], ids=["one-write", "apart"])
def test_interim_then_101_tunnel(raw_backend, interim, pause):
    b = raw_backend(Answer(*interim, switch_head, pause=pause))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    assert_tunnel(out, err, rc)
    assert b"Early Hints" not in out and b"Continue" not in out


def test_interim_then_101_bytes_after_head_kept(raw_backend):
    """What follows the final head in the same write is the tunnel's."""
    b = raw_backend(Answer(lambda h: HINTS + switch_head(h) + b"GREETING"))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    assert out.startswith(b"HTTP/1.1 101 "), (out, err)
    assert wslib.Response(out).rest == b"GREETINGping"
    assert rc == 0


def test_interim_then_403_relayed(raw_backend):
    body = b"no entry"
    b = raw_backend(Answer(CONTINUE + HINTS + b"HTTP/1.1 403 Forbidden\r\n"
                           b"Content-Length: 8\r\n\r\n" + body))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    res = wslib.Response(out)
    assert res.status == 403, (out, err)
    assert res.body() == body
    assert b"Early Hints" not in out
    assert rc == 1
    assert field(access(err), "status") == "403"


def test_interim_up_to_bound_then_101_tunnel(raw_backend):
    b = raw_backend(Answer(HINTS * INTERIM_MAX, switch_head))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    assert_tunnel(out, err, rc)


def test_interim_over_bound_502(raw_backend):
    b = raw_backend(Answer(HINTS * (INTERIM_MAX + 1), switch_head))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    check_refusal(out, 502)
    assert rc == 1
    assert "too many interim responses" in err
    assert field(access(err), "status") == "502"


def test_endless_interim_502_at_once(raw_backend):
    """A backend that loops on 1xx is cut off by the count, long before the
    handshake timeout."""
    b = raw_backend(Answer(*[CONTINUE] * 10000, pause=0.001))
    t0 = time.monotonic()
    out, err, rc = run(["--handshake-timeout", "20",
                        f"ws://127.0.0.1:{b.port}"])
    check_refusal(out, 502)
    assert time.monotonic() - t0 < 5 + WRAPPED
    assert "too many interim responses" in err
    assert rc == 1


def test_slow_interim_504_at_handshake_timeout(raw_backend):
    """Interim answers do not restart the handshake timeout."""
    b = raw_backend(Answer(*[CONTINUE] * 6, pause=0.5, hold=5))
    t0 = time.monotonic()
    out, err, rc = run(["--handshake-timeout", "1",
                        f"ws://127.0.0.1:{b.port}"])
    took = time.monotonic() - t0
    check_refusal(out, 504)
    assert 0.8 <= took <= 3.5 + WRAPPED, took
    assert rc == 1


# --------------------------------------------------------------------------
# the response head's own bound

def test_max_header_bytes_does_not_bound_the_response(raw_backend):
    b = raw_backend(Answer(lambda h: padded_switch(h, 401)))
    out, err, rc = run(["--max-header-bytes", "256",
                        f"ws://127.0.0.1:{b.port}"])
    assert_tunnel(out, err, rc)


def test_response_head_of_exactly_the_bound_tunnel(raw_backend):
    b = raw_backend(Answer(lambda h: padded_switch(h, RESPONSE_MAX)))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    assert_tunnel(out, err, rc)


@pytest.mark.parametrize("max_head", ["256", "16384", "1048576"])
def test_response_head_over_the_bound_502(raw_backend, max_head):
    b = raw_backend(Answer(lambda h: padded_switch(h, RESPONSE_MAX + 1)))
    out, err, rc = run(["--max-header-bytes", max_head,
                        f"ws://127.0.0.1:{b.port}"])
    check_refusal(out, 502)
    assert rc == 1
    assert "response head too large" in err
    assert "request head too large" not in err
    acc = access(err)
    assert field(acc, "status") == "502"
    assert 'reason="response head too large"' in acc


def test_unfinished_response_head_over_the_bound_502(raw_backend):
    """Bytes that end no line still count: 502 when they arrive."""
    b = raw_backend(Answer(b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: "
                           + b"p" * RESPONSE_MAX, hold=20))
    t0 = time.monotonic()
    out, err, rc = run(["--handshake-timeout", "20",
                        f"ws://127.0.0.1:{b.port}"])
    check_refusal(out, 502)
    assert time.monotonic() - t0 < 3 + WRAPPED
    assert "response head too large" in err


def test_interim_head_over_the_bound_502(raw_backend):
    b = raw_backend(Answer(b"HTTP/1.1 103 Early Hints\r\nLink: "
                           + b"l" * RESPONSE_MAX + b"\r\n\r\n", switch_head))
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    check_refusal(out, 502)
    assert "response head too large" in err


def test_response_head_in_small_pieces_tunnel(raw_backend):
    """A 101 of the bound's length, 256 bytes a write (and 103s before it)."""
    def slowly(conn, head, rest):
        data = HINTS + padded_switch(head, RESPONSE_MAX)
        for i in range(0, len(data), 256):
            conn.sendall(data[i:i + 256])
            time.sleep(0.001)
        Answer()(conn, head, rest)

    b = raw_backend(slowly)
    out, err, rc = run([f"ws://127.0.0.1:{b.port}"])
    assert_tunnel(out, err, rc)


# --------------------------------------------------------------------------
# a head arriving in small pieces is parsed once, not once per piece

def pipe_queued(fd):
    n = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, n)
    return int.from_bytes(n, "little")


def big_request():
    """A valid request head of about 1 MB: 95 fields of 11 000 bytes."""
    return build_request(add=[(f"X-Pad-{i:02d}", "v" * 11000)
                              for i in range(95)])


@pytest.mark.skipif(bool(wslib.WRAPPER), reason="CPU time under a wrapper")
def test_big_request_head_in_small_pieces_costs_little_cpu():
    """About 1 MB of request head, one 256-byte read at a time (each piece is
    written once the one before it was read): wstunnel's CPU time stays
    far under what parsing the whole head again per read cost (about 1 s)."""
    data = big_request()
    assert 1000000 < len(data) < 1048576
    p = subprocess.Popen(wslib.command([
        "--log", "stderr", "--max-header-bytes", "1048576",
        "--handshake-timeout", "60", f"ws://127.0.0.1:{dead_port()}"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        fd = p.stdin.fileno()
        deadline = time.monotonic() + 60
        for i in range(0, len(data), 256):
            os.write(fd, data[i:i + 256])
            while pipe_queued(fd) > 0 and time.monotonic() < deadline:
                time.sleep(0.0001)
        p.stdin.close()
        r, _, _ = select.select([p.stdout], [], [], 60)
        assert r, "no answer"
        deadline = time.monotonic() + 10
        pid = 0
        while pid == 0 and time.monotonic() < deadline:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            time.sleep(0.01)
        assert pid == p.pid, "wstunnel did not exit"
        p.returncode = os.waitstatus_to_exitcode(status)
        out, err = p.stdout.read(), p.stderr.read().decode(errors="replace")
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()
    check_refusal(out, 502)         # parsed, accepted, no backend there
    assert "request head" not in err
    cpu = ru.ru_utime + ru.ru_stime
    assert cpu < 0.5, f"{cpu:.2f} s of CPU for {len(data)} bytes"
