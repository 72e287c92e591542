"""Small helpers for test_request.py and test_backend.py: request building,
checks of wstunnel's own refusals, a pipe session that keeps stdin open, a
socket-activated wstunnel whose exit statuses are recorded, and a raw
unix-domain backend.  Everything is loopback and every wait is bounded."""
import os
import select
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import wslib

KEY = "dGhlIHNhbXBsZSBub25jZQ=="            # RFC 6455's sample key
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="      # and its accept value


def default_headers(host="example.test", key=KEY):
    return [("Host", host), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", key)]


def build_request(method="GET", target="/", version="HTTP/1.1", line=None,
                  headers=None, drop=(), add=(), raw_fields=(), host=None):
    """A request head as bytes.  line replaces the whole request line;
    headers replaces the default fields; drop removes fields by name
    (case-insensitive); add appends (name, value) pairs; raw_fields appends
    field lines (bytes or str) exactly as given."""
    if line is None:
        line = f"{method} {target} {version}"
    if isinstance(line, str):
        line = line.encode("latin-1")
    fields = list(headers) if headers is not None else default_headers(
        host=host or "example.test")
    drop = {d.lower() for d in drop}
    fields = [(n, v) for n, v in fields if n.lower() not in drop]
    fields += list(add)
    out = [line]
    for n, v in fields:
        out.append(f"{n}: {v}".encode("latin-1"))
    for r in raw_fields:
        out.append(r.encode("latin-1") if isinstance(r, str) else r)
    return b"\r\n".join(out) + b"\r\n\r\n"


def access_lines(text):
    return [l for l in text.splitlines() if " client=" in l or
            l.startswith("client=") or ": client=" in l]


def field(line, name):
    """The value of name=... in an access line, or None."""
    for part in line.split():
        if part.startswith(name + "="):
            return part[len(name) + 1:]
    return None


def check_refusal(out, status, extra=()):
    """wstunnel's own error answer: exact status, text/plain, Connection:
    close, the extra (name, value) fields, Content-Length equal to the body
    (and nothing after the body)."""
    assert out, "no answer at all"
    res = wslib.Response(out)
    assert res.complete, out
    assert res.status == status, out
    assert res.all("Content-Type") == ["text/plain"], out
    assert res.all("Connection") == ["close"], out
    for name, value in extra:
        assert value in res.all(name), (name, out)
    cl = res.all("Content-Length")
    assert len(cl) == 1, out
    assert int(cl[0]) == len(res.rest), out
    assert res.rest.startswith(str(status).encode()), out
    return res


def check_one_access_line(text, status):
    lines = access_lines(text)
    assert len(lines) == 1, text
    assert field(lines[0], "status") == str(status), lines[0]
    return lines[0]


def assert_no_connection(backend, settle=0.2):
    """The backend saw no connection (a connect would already sit in the
    accept queue; give the accept thread a moment)."""
    time.sleep(settle)
    assert backend.connections == 0, backend.heads


def command(args):
    """wstunnel with args, under wslib's wrapper when it has one."""
    if hasattr(wslib, "command"):
        return wslib.command(args)
    return [wslib.WSTUNNEL, *args]


def dead_port():
    """A loopback port with nothing listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PipeSession:
    """wstunnel on pipes whose stdin stays open until close_stdin()."""

    def __init__(self, args, log="stderr"):
        self.proc = subprocess.Popen(command(["--log", log, *args]),
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b""
        self.err = b""
        self._err_thread = threading.Thread(target=self._drain_err,
                                            daemon=True)
        self._err_thread.start()
        self.t0 = time.monotonic()

    def _drain_err(self):
        while True:
            chunk = self.proc.stderr.read1(65536) if hasattr(
                self.proc.stderr, "read1") else self.proc.stderr.read(65536)
            if not chunk:
                return
            self.err += chunk

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def read_until(self, marker=b"\r\n\r\n", timeout=10):
        """Reads stdout until marker is in everything read, EOF or timeout.
        Returns (all bytes read so far, eof)."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.out, False
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return self.out, False
            chunk = os.read(fd, 65536)
            if not chunk:
                return self.out, True
            self.out += chunk
        return self.out, False

    def read_all(self, timeout=10):
        return self.read_until(b"\x00never\x00", timeout)

    def wait(self, timeout=10):
        """Exit status; kills and fails on timeout."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"wstunnel did not exit in {timeout}s")
        self._err_thread.join(timeout=5)
        return rc

    def stderr(self):
        return self.err.decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def close(self):
        self.close_stdin()
        self.kill()
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def pipe_session():
    """Factory: pipe_session(args) -> a PipeSession, killed at teardown."""
    made = []

    def make(args, **kw):
        s = PipeSession(args, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


class StatusActivated(wslib.SocketActivated):
    """SocketActivated, with each wstunnel's exit status appended to a file
    by a /bin/sh wrapper (the client is still on fd 0/1 of wstunnel)."""

    def __init__(self, args, logfile, port=None, env=None):
        self.port = port or wslib.free_port()
        self.logfile = str(logfile)
        self.statusfile = self.logfile + ".status"
        cmd = ["systemd-socket-activate", "--inetd", "-a",
               "-l", f"127.0.0.1:{self.port}", "/bin/sh", "-c",
               'f=$1; shift; "$@"; echo "$?" >> "$f"', "sh",
               self.statusfile, *command(["--log", self.logfile, *args])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env)
        line = self.proc.stderr.readline()
        assert "Listening" in line, f"socket activation failed: {line!r}"

    def statuses(self):
        try:
            with open(self.statusfile) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def wait_statuses(self, n=1, timeout=10):
        wslib.wait_for(lambda: len(self.statuses()) >= n, timeout=timeout)
        return self.statuses()

    def wait_access_lines(self, n=1, timeout=10):
        wslib.wait_for(lambda: len(self.access_lines()) >= n,
                       timeout=timeout)
        return self.access_lines()


@pytest.fixture
def activated_rc(tmp_path):
    """Like conftest's activated, with exit statuses (StatusActivated)."""
    made = []

    def make(args, **kw):
        s = StatusActivated(args, tmp_path / f"wstunnel-rc{len(made)}.log",
                            **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        left = wslib.wait_for(lambda: not s.children(), timeout=15)
        s.close()
        assert left, f"wstunnel processes left over: {s.children()}"


def exchange(port, data, timeout=10, shut_after=False):
    """Connects to 127.0.0.1:port, sends data, reads until the peer closes.
    With shut_after, our write side is shut after sending."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut_after:
            s.shutdown(socket.SHUT_WR)
        return wslib.read_all(s, timeout=timeout)
    finally:
        s.close()


class RawUnixBackend(wslib.RawBackend):
    """RawBackend on a unix-domain stream socket."""

    def __init__(self, handler=None):
        self.handler = handler or wslib.switch_101
        self.dir = tempfile.mkdtemp(prefix="wst-", dir="/tmp")
        self.path = os.path.join(self.dir, "b.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.port = None
        self.connections = 0
        self.heads = []
        self.received = []
        self.closed = []
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        super().close()
        for p in (self.path,):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass


class FullListener:
    """A loopback listener (listen(0)) whose accept queue is filled with
    unaccepted connections, so that further SYNs are dropped.  .ok is False
    when the kernel kept accepting."""

    def __init__(self, tries=16):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        self.ok = False
        for _ in range(tries):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(c)
            _, w, _ = select.select([], [c], [], 0.3)
            if not w:
                self.ok = True
                break

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()
