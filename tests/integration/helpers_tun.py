"""Helpers for test_tunnel.py and test_cli.py: wstunnel run inetd style on
one socket, tunnels opened by hand, streams of random bytes with their
hashes, and the access line taken apart.  Every wait is bounded."""
import hashlib
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import wslib

MiB = 1 << 20


# ---------------------------------------------------------------- access line

def parse_access(line):
    """{'client': ..., 'path': ..., 'status': ..., 'up': ..., 'end': ...}"""
    _, _, tail = line.partition("]: ")
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', tail or line))


def access_lines_of(text):
    return [parse_access(l) for l in text.splitlines() if " client=" in l
            or l.startswith("client=")]


def wait_access(read_log, n=1, timeout=10):
    """Waits until read_log() holds n access lines; returns them parsed."""
    wslib.wait_for(lambda: len(access_lines_of(read_log())) >= n,
                   timeout=timeout)
    lines = access_lines_of(read_log())
    assert len(lines) >= n, f"expected {n} access lines, log: {read_log()!r}"
    return lines


def activated_access(s, n=1, timeout=10):
    return wait_access(s.log, n, timeout)


def file_reader(path):
    def read():
        try:
            return Path(path).read_text()
        except FileNotFoundError:
            return ""
    return read


# ---------------------------------------------------------------- backends

def send_101(conn, head, extra_after=b""):
    """A valid 101 for the request head, optionally with bytes right
    after it in the same write."""
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                 + wslib.accept_for(wslib.key_of(head)).encode()
                 + b"\r\n\r\n" + extra_after)


def recv_until_eof(sock, timeout=10, initial=b""):
    """Everything until EOF.  Raises AssertionError on a timeout; a reset
    counts as the end (returned as is)."""
    data = bytearray(initial)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF within {timeout}s ({len(data)} bytes)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout}s ({len(data)} bytes)")
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def recv_exact(sock, n, timeout=10):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(data)} of {n} bytes within {timeout}s"
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except socket.timeout:
            continue
        assert chunk, f"EOF after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def wait_closed(sock, timeout):
    """Seconds until sock sees EOF or a reset (stray bytes are read and
    dropped); None when it did not within timeout."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        if not chunk:
            return time.monotonic() - t0


def peer_gone(sock, timeout=2):
    """For a socket that already saw EOF: whether the peer has closed its
    socket entirely (a write then draws a reset) within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sock.send(b"?")
        except (BrokenPipeError, ConnectionResetError):
            return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def linger0(sock):
    """Makes close() send a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---------------------------------------------------------------- streams

class Sender(threading.Thread):
    """Sends n random bytes on sock, hashing them; optionally shuts the
    write side down afterwards."""

    def __init__(self, sock, n, shut=True, chunk=256 * 1024, write=None):
        super().__init__(daemon=True)
        self.sock, self.n, self.shut, self.chunk = sock, n, shut, chunk
        self.write = write or sock.sendall
        self.hash = hashlib.sha256()
        self.sent = 0
        self.error = None

    def run(self):
        try:
            while self.sent < self.n:
                b = os.urandom(min(self.chunk, self.n - self.sent))
                self.write(b)
                self.hash.update(b)
                self.sent += len(b)
            if self.shut:
                self.sock.shutdown(socket.SHUT_WR)
        except Exception as e:      # reported by the test
            self.error = e

    def digest(self):
        return self.hash.hexdigest()


def recv_hash(sock, timeout=30, initial=b""):
    """(count, sha256) of everything until EOF."""
    h = hashlib.sha256(initial)
    total = len(initial)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF within {timeout}s ({total} bytes)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout}s ({total} bytes)")
        if not chunk:
            return total, h.hexdigest()
        h.update(chunk)
        total += len(chunk)


def digest(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- tunnels

def open_tunnel(port, path="/", timeout=10, extra=()):
    """Connects to a listening wstunnel, upgrades; returns (sock, response)
    with the bytes after the 101 head in response.rest."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(wslib.upgrade_request(path, extra=extra))
    res = wslib.Response(wslib.read_until(s, timeout=timeout))
    assert res.status == 101, f"no 101: {res.status_line!r}"
    return s, res


def read_head(sock, timeout=10):
    res = wslib.Response(wslib.read_until(sock, timeout=timeout))
    return res


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def only_child(s, timeout=5):
    """The single wstunnel process behind a SocketActivated listener."""
    assert wslib.wait_for(lambda: len(s.children()) == 1, timeout=timeout), \
        f"expected one wstunnel child, have {s.children()}"
    return s.children()[0]


class Inetd:
    """wstunnel started the inetd way: fd 0 and 1 (and, with same_stderr,
    fd 2) are the server side of one connected socket; the test holds the
    client side in .client.  kind: "tcp" (loopback) or "socketpair"."""

    def __init__(self, args, logfile=None, kind="tcp", same_stderr=False,
                 server_sndbuf=None, client_rcvbuf=None, prefix=()):
        if kind == "tcp":
            lst = socket.socket()
            lst.bind(("127.0.0.1", 0))
            lst.listen(1)
            self.client = socket.socket()
            if client_rcvbuf is not None:
                # before connect(): the window is small from the start; a
                # buffer shrunk later retracts the window, and the sender
                # then stalls in retransmission back-off
                self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                       client_rcvbuf)
            self.client.settimeout(10)
            self.client.connect(lst.getsockname())
            srv, _ = lst.accept()
            lst.close()
        else:
            self.client, srv = socket.socketpair()
        if server_sndbuf is not None:   # a fixed size: no autotuning
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, server_sndbuf)
        cmd = [*prefix, wslib.WSTUNNEL]
        if logfile is not None:
            cmd += ["--log", str(logfile)]
        cmd += list(args)
        self.logfile = logfile
        self.proc = subprocess.Popen(
            cmd, stdin=srv, stdout=srv,
            stderr=srv if same_stderr else subprocess.PIPE)
        srv.close()

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"wstunnel did not exit within {timeout}s")

    def stderr(self):
        if self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def log(self):
        return file_reader(self.logfile)() if self.logfile else ""

    def close(self):
        try:
            self.client.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()


def read_fd_until_eof(fd, timeout=30, on_chunk=None):
    """Reads a pipe until EOF; on_chunk(bytes) for each piece."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF on fd {fd} within {timeout}s")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return
        on_chunk(chunk)


class Pump(threading.Thread):
    """Writes random bytes to sock as fast as the peer takes them until
    stop is set, counting and hashing exactly what the kernel accepted;
    shuts the write side down at the end when shut is true."""

    def __init__(self, sock, shut=True, limit_s=60):
        super().__init__(daemon=True)
        self.sock, self.shut, self.limit_s = sock, shut, limit_s
        self.stop = threading.Event()
        self.sent = 0
        self.hash = hashlib.sha256()
        self.error = None

    def run(self):
        self.sock.settimeout(0.1)
        deadline = time.monotonic() + self.limit_s
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                view = memoryview(os.urandom(64 * 1024))
                while view and not self.stop.is_set() and \
                        time.monotonic() < deadline:
                    try:
                        n = self.sock.send(view)
                    except socket.timeout:
                        continue
                    self.hash.update(view[:n])
                    self.sent += n
                    view = view[n:]
            if self.shut:
                self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = e

    def digest(self):
        return self.hash.hexdigest()
