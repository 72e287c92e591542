"""The close timeout and the ended side's drain (SPEC.md "The tunnel"):
bytes already read from a side reach the other side while it keeps taking
them, however short --close-timeout is; the close timeout bounds the other
direction, and a drain that stops moving, which is still cut.

The backend is mostly a unix-domain socket, which poll() reports writable
only once three quarters of its send buffer has drained: a reader that
takes bytes steadily is seen by poll() in bursts.  Over TCP (and TLS on
either side) the drain includes the socket's queue: wstunnel ends holding
unread bytes from that peer, and a TCP socket closed so resets, dropping
what it still had queued."""
import hashlib
import os
import socket
import ssl
import threading
import time

import pytest

import helpers_tls as H
import wslib
from helpers_rb import RawUnixBackend
from helpers_tun import (Inetd, file_reader, peer_gone, read_head, send_101,
                         wait_access, wait_closed)

SLACK = 1.5             # seconds allowed on top of a timeout
STALL_MIN = 1.0         # the shortest stall that cuts a drain (man page)

RELAYS = {"splice": [], "buffer": ["--no-splice"],
          "busy-poll": ["--busy-poll", "1000"]}


@pytest.fixture(params=list(RELAYS))
def relay(request):
    return RELAYS[request.param]


class Reader:
    """What a backend connection received: count, sha256, when its EOF
    came (None before), the connection itself."""

    def __init__(self):
        self.count = 0
        self.hash = hashlib.sha256()
        self.eof_at = None
        self.conn = None
        self.release = threading.Event()

    def digest(self):
        return self.hash.hexdigest()


def read_steadily(conn, reader, stop_after=None, piece=16384, pause=0.005):
    """Reads piece bytes every pause seconds until EOF (or, with
    stop_after, stops reading after that many bytes), then holds the
    connection open, neither sending nor closing, until reader.release is
    set."""
    reader.conn = conn
    conn.settimeout(30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        want = piece
        if stop_after is not None:
            want = min(piece, stop_after - reader.count)
            if want <= 0:
                break
        chunk = conn.recv(want)
        if not chunk:
            reader.eof_at = time.monotonic()
            break
        reader.count += len(chunk)
        reader.hash.update(chunk)
        time.sleep(pause)
    reader.release.wait(30)


def steady_backend(reader, stop_after=None):
    """A unix-socket backend that answers 101 and reads steadily."""

    def handler(conn, head, rest):
        send_101(conn, head)
        reader.count = len(rest)
        reader.hash.update(rest)
        read_steadily(conn, reader, stop_after)
    return RawUnixBackend(handler)


def start(args, backend, log):
    t = Inetd([*args, f"ws://unix:{backend.path}:/drain"], log)
    c = t.client
    c.sendall(wslib.upgrade_request("/drain"))
    head = read_head(c)
    assert head.status == 101, head.status_line
    assert head.rest == b""
    return t, c


# Whether the store still holds bytes when the client's end is read depends
# on how the last pieces fell; 2 MiB shows it with splice, 2 MB without.
SIZES = {"2MB": 2_000_000, "2MiB": 2 * 1024 * 1024}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("close_timeout", ["0", "0.05"])
def test_ended_side_drains_whole_at_a_short_close_timeout(tmp_path, relay,
                                                          close_timeout, size):
    """The client sends 2 MB and ends its stream; the backend takes them
    steadily and keeps its connection open.  Every byte reaches it, then
    the end of stream; only then does the close timeout end the session,
    the backend having sent nothing."""
    n = SIZES[size]
    reader = Reader()
    b = steady_backend(reader)
    log = tmp_path / "w.log"
    t = None
    try:
        t, c = start([*relay, "--close-timeout", close_timeout], b, log)
        payload = os.urandom(n)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        code = t.wait(30)
        took = time.monotonic() - t0
        assert wslib.wait_for(lambda: reader.eof_at is not None, timeout=5), \
            f"backend got {reader.count} of {n} bytes and no EOF"
        assert reader.count == n, f"{n - reader.count} bytes lost"
        assert reader.digest() == hashlib.sha256(payload).hexdigest()
        assert wait_closed(c, 2) is not None, "client connection left open"
    finally:
        reader.release.set()
        if t is not None:
            t.close()
        b.close()
    assert code == 0
    line = wait_access(file_reader(log))[0]
    assert line["end"] == "close-timeout", line
    assert line["up"] == str(n) and line["down"] == "0", line
    # it ended once the drain was done, not a stall time (1 s) later
    assert took <= (reader.eof_at - t0) + 0.7, \
        f"ended {took - (reader.eof_at - t0):.2f}s after the drain"



@pytest.mark.parametrize("close_timeout,stall", [("0", STALL_MIN),
                                                 ("1.5", 1.5)])
def test_a_drain_that_stops_moving_is_cut(tmp_path, relay, close_timeout,
                                          stall):
    """The backend takes all but the last 150 000 bytes and then reads no
    more, its connection open; what is left waits in wstunnel's store or
    in the socket's queue.  The drain that stopped is cut once its
    reader has taken nothing for --close-timeout seconds (one second at
    least): the session ends, it does not hang."""
    n, tail = 2_000_000, 150_000
    reader = Reader()
    b = steady_backend(reader, stop_after=n - tail)
    log = tmp_path / "w.log"
    t = None
    try:
        t, c = start([*relay, "--close-timeout", close_timeout], b, log)
        c.sendall(os.urandom(n))
        c.shutdown(socket.SHUT_WR)
        assert wslib.wait_for(lambda: reader.count >= n - tail, timeout=20)
        stopped = time.monotonic()
        code = t.wait(stall + SLACK + 5)
        took = time.monotonic() - stopped
        assert wait_closed(c, 2) is not None, "client connection left open"
        assert peer_gone(reader.conn, timeout=2), \
            "backend connection left open"
    finally:
        reader.release.set()
        if t is not None:
            t.close()
        b.close()
    assert stall - 0.2 <= took <= stall + SLACK, f"ended after {took:.2f}s"
    assert code == 0
    assert reader.count == n - tail
    line = wait_access(file_reader(log))[0]
    assert line["end"] == "close-timeout", line


# ------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return H.make_pki(tmp_path_factory.mktemp("pki"))


def fill(sock, limit=64 * 1024 * 1024):
    """Sends random bytes until the peer stops taking them (would-block
    three times, 50 ms apart); a TLS record may stay written in part."""
    sent, stuck = 0, 0
    chunk = os.urandom(65536)
    sock.setblocking(False)
    try:
        while stuck < 3 and sent < limit:
            try:
                sent += sock.send(chunk)
                stuck = 0
            except (ssl.SSLWantWriteError, BlockingIOError):
                stuck += 1
                time.sleep(0.05)
    finally:
        sock.setblocking(True)
    return sent


def test_tls_backend_drain_is_delivered_whole(tmp_path, pki):
    """wss://: the client sends 2 MB and ends its stream, reading nothing;
    the TLS backend first sends until wstunnel's buffers toward the client
    are full, then reads steadily.  The bytes wstunnel holds (a TLS record
    written in part included) and those in its socket's queue reach the
    backend, then the close_notify."""
    n = 2_000_000
    reader = Reader()

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        reader.count = len(rest)
        reader.hash.update(rest)
        fill(conn)
        read_steadily(conn, reader)
    b = H.TLSBackend(*pki.server, handler=handler)
    log = tmp_path / "w.log"
    t = None
    try:
        t = Inetd(["--backend-ca", pki.ca, "--close-timeout", "0",
                   f"wss://127.0.0.1:{b.port}/drain"], log)
        c = t.client
        c.sendall(wslib.upgrade_request("/drain"))
        assert read_head(c).status == 101
        payload = os.urandom(n)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        code = t.wait(30)
        assert wslib.wait_for(lambda: reader.eof_at is not None, timeout=5), \
            f"backend got {reader.count} of {n} bytes and no close_notify"
        assert reader.count == n, f"{n - reader.count} bytes lost"
        assert reader.digest() == hashlib.sha256(payload).hexdigest()
    finally:
        reader.release.set()
        if t is not None:
            t.close()
        b.close()
    assert code == 0
    line = wait_access(file_reader(log))[0]
    assert line["end"] == "close-timeout", line
    assert line["up"] == str(n), line


def test_tls_client_drain_is_delivered_whole(tmp_path, pki):
    """--tls-cert: the backend sends 2 MB, ends its stream and reads
    nothing; the TLS client first sends until wstunnel takes no more, then
    reads steadily.  It gets every byte, then the close_notify."""
    n = 2_000_000
    payload = os.urandom(n)
    release = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        release.wait(30)
    b = RawUnixBackend(handler)
    log = tmp_path / "w.log"
    reader = Reader()
    t = None
    try:
        t = Inetd(["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
                   "--close-timeout", "0", f"ws://unix:{b.path}:/drain"], log)
        c = H.client_context(pki.ca).wrap_socket(
            t.client, server_hostname="localhost", suppress_ragged_eofs=False)
        c.sendall(wslib.upgrade_request("/drain", host="localhost"))
        head, err = H.read_head(c)
        res = wslib.Response(head)
        assert res.status == 101, (head, err)
        reader.count = len(res.rest)
        reader.hash.update(res.rest)
        fill(c)
        reader.release.set()        # to return at the close_notify
        read_steadily(c, reader)
        code = t.wait(10)
    finally:
        release.set()
        if t is not None:
            t.close()
        b.close()
    assert reader.eof_at is not None, f"{reader.count} of {n} bytes, no end"
    assert reader.count == n, f"{n - reader.count} bytes lost"
    assert reader.digest() == hashlib.sha256(payload).hexdigest()
    assert code == 0
    line = wait_access(file_reader(log))[0]
    assert line["end"] == "close-timeout", line
    assert line["down"] == str(n), line


def test_tcp_backend_that_also_sends_gets_every_byte(tmp_path, raw_backend):
    """A TCP backend that sends more than the client reads while it takes
    the client's 2 MB.  wstunnel ends holding its unread bytes, and a TCP
    socket closed so resets: what its kernel still had queued toward the
    backend would be lost, so the drain lasts until that queue is empty."""
    n = 2_000_000
    reader = Reader()

    def handler(conn, head, rest):
        send_101(conn, head)
        reader.count = len(rest)
        reader.hash.update(rest)
        flood = threading.Thread(target=lambda: ignore_errors(
            conn.sendall, os.urandom(8 * 1024 * 1024)), daemon=True)
        flood.start()
        read_steadily(conn, reader)
    b = raw_backend(handler)
    log = tmp_path / "w.log"
    t = None
    try:
        t = Inetd(["--close-timeout", "0", f"ws://127.0.0.1:{b.port}"], log)
        c = t.client
        c.sendall(wslib.upgrade_request("/drain"))
        assert read_head(c).status == 101
        payload = os.urandom(n)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)      # and reads nothing more
        code = t.wait(30)
        assert wslib.wait_for(lambda: reader.eof_at is not None, timeout=5), \
            f"backend got {reader.count} of {n} bytes and no EOF"
        assert reader.count == n, f"{n - reader.count} bytes lost"
        assert reader.digest() == hashlib.sha256(payload).hexdigest()
    finally:
        reader.release.set()
        if t is not None:
            t.close()
    assert code == 0
    line = wait_access(file_reader(log))[0]
    assert line["end"] == "close-timeout", line
    assert line["up"] == str(n), line


def ignore_errors(f, *args):
    try:
        f(*args)
    except OSError:
        pass
