"""A session's life around its tunnel: a log that cannot take lines (a FIFO
without a reader, a FIFO whose reader stopped reading, a full stderr pipe,
a syslog daemon that does not read) never holds a session, and SIGTERM,
SIGINT or SIGHUP in any phase (the client's head, the connect to a backend,
the backend's answer) ends it at once with its one access line written and
the flags of fd 0 and 1 given back.

fd 0 and 1 are pipes whose other ends the test holds, and the test keeps
wstunnel's own ends open too: the file description is then shared, and its
O_NONBLOCK flag after wstunnel's exit is what the next user of the
descriptors would find.  Every wait is bounded; every process is killed."""
import fcntl
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

import wslib
from helpers_rb import FullListener, build_request, dead_port
from helpers_tun import access_lines_of, file_reader

SLACK = 5 if wslib.INSTRUMENTED else 2    # seconds, for a loaded machine
START = 30 if wslib.INSTRUMENTED else 5    # seconds to reach a wait


def nonblocking(fd):
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)


def in_poll(pid):
    """The process sleeps in poll() (or ppoll()): it is waiting for I/O."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "poll" in f.read()
    except OSError:
        return False


def syn_sent_to(port):
    """Some loopback socket is in SYN-SENT toward port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "02" and int(parts[2].split(":")[1], 16) == port:
                return True
    return False


class Piped:
    """wstunnel with a pipe on fd 0 and another on fd 1; the test writes to
    .to and reads from .frm, and keeps wstunnel's ends (.fd0, .fd1) open
    to look at their shared file descriptions after it exits."""

    def __init__(self, args):
        self.fd0, self.to = os.pipe()
        self.frm, self.fd1 = os.pipe()
        self.proc = subprocess.Popen(wslib.command(args), stdin=self.fd0,
                                     stdout=self.fd1,
                                     stderr=subprocess.PIPE)
        self.out = b""

    def write(self, data):
        os.write(self.to, data)

    def close_input(self):
        """The client ends its stream."""
        os.close(self.to)
        self.to = -1

    def read_until(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.frm], [], [], left)[0]:
                break
            chunk = os.read(self.frm, 65536)
            if not chunk:
                break
            self.out += chunk
        return self.out

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError(f"wstunnel did not exit within {timeout}s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stderr.close()
        for fd in (self.fd0, self.to, self.frm, self.fd1):
            if fd != -1:
                os.close(fd)


@pytest.fixture
def piped():
    made = []

    def make(args):
        p = Piped(args)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


def echo_101(conn, head, rest):
    wslib.switch_101(conn, head, rest)


# ---------------------------------------------------------------- the log

def test_log_fifo_without_reader_session_served(raw_backend, tmp_path,
                                                 piped):
    """open() of a FIFO nobody reads would wait for a reader forever: the
    session is served all the same (its log goes to syslog) and ends."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    b = raw_backend(echo_101)
    p = piped(["--log", str(fifo), "--close-timeout", "1",
               f"ws://127.0.0.1:{b.port}"])
    p.write(build_request() + b"ping")
    out = p.read_until(b"ping", timeout=5)
    res = wslib.Response(out)
    assert res.status == 101, out
    assert res.rest == b"ping", out
    p.close_input()
    assert p.wait(timeout=5) == 0
    assert p.proc.stderr.read() == b""
    assert b.connections == 1


def test_log_fifo_without_reader_no_process_left(raw_backend, tmp_path):
    """Behind socket activation every connection got a process that never
    ended: now each is served and its process is gone."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    b = raw_backend(echo_101)
    s = wslib.SocketActivated(["--close-timeout", "1",
                               f"ws://127.0.0.1:{b.port}"], fifo)
    try:
        for i in range(3):
            with s.connect(timeout=5) as c:
                c.sendall(build_request() + b"ping%d" % i)
                c.shutdown(socket.SHUT_WR)
                out = wslib.read_all(c, timeout=5)
            res = wslib.Response(out)
            assert res.status == 101 and res.rest == b"ping%d" % i, out
        assert wslib.wait_for(lambda: s.children() == [], timeout=5), \
            f"wstunnel processes left: {s.children()}"
    finally:
        for pid in s.children():
            os.kill(pid, signal.SIGKILL)
        s.close()


def test_log_fifo_without_reader_check_warns(tmp_path):
    """--check says that the FIFO has no reader, and where the log goes
    meanwhile; the configuration is still good (a reader may come)."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    try:
        p = subprocess.run(wslib.command(["--check", "--log", str(fifo),
                                          "ws://127.0.0.1:1"]),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=5, text=True)
    except subprocess.TimeoutExpired:
        raise AssertionError("--check hangs on a FIFO without a reader")
    assert p.returncode == 0, p.stderr
    assert f"--log {fifo}" in p.stderr, p.stderr
    assert "no reader" in p.stderr and "syslog" in p.stderr, p.stderr
    assert "configuration OK" in p.stdout + p.stderr, p.stderr


def fill_fifo(fifo):
    """Fills the FIFO's buffer to the last byte; returns what was put in."""
    w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    put = bytearray()
    try:
        for size in (4096, 1):
            while True:
                try:
                    n = os.write(w, b"x" * size)
                except BlockingIOError:
                    break
                put += b"x" * n
    finally:
        os.close(w)
    return bytes(put)


def test_log_fifo_reader_stalls_mid_tunnel(raw_backend, tmp_path, piped):
    """The FIFO's reader stops reading while a tunnel is open and its buffer
    fills: the tunnel keeps relaying, the lines that do not fit are dropped
    whole (never half a line), and the session ends as usual."""
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        b = raw_backend(echo_101)
        p = piped(["-v", "--log", str(fifo), "--close-timeout", "1",
                   f"ws://127.0.0.1:{b.port}"])
        p.write(build_request() + b"one")
        assert p.read_until(b"one", timeout=5).endswith(b"one"), p.out
        got = b""
        while select.select([r], [], [], 0.2)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            got += chunk
        assert b"tunnel open" in got, got       # the log worked so far
        filler = fill_fifo(fifo)
        for word in (b"two", b"three", b"four"):
            p.write(word)
            assert p.read_until(word, timeout=5).endswith(word), p.out
        p.close_input()
        assert p.wait(timeout=3 + SLACK) == 0
        rest = b""
        while select.select([r], [], [], 0.2)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            rest += chunk
        assert rest == filler, "a line was written into a full FIFO"
    finally:
        os.close(r)


def full_stream(kind):
    """(reader, writer) of a pipe or a stream socket pair whose buffer is
    full; the writer's file description is left blocking."""
    if kind == "pipe":
        r, w = os.pipe()
        fill_fifo(f"/proc/self/fd/{w}")     # through a description of its own
        return r, w
    a, b = socket.socketpair()
    try:
        while True:
            b.send(b"x" * 4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        pass
    return a.detach(), b.detach()


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_log_stderr_full(raw_backend, kind):
    """--log stderr on a pipe or a socket (systemd's journal stream) whose
    reader does not read: the session is served; fd 2's file description,
    shared with whoever started wstunnel, is left blocking."""
    r, w = full_stream(kind)
    try:
        b = raw_backend(echo_101)
        try:
            p = subprocess.run(wslib.command(
                ["-v", "--log", "stderr", "--close-timeout", "1",
                 f"ws://127.0.0.1:{b.port}"]), input=build_request() + b"ping",
                stdout=subprocess.PIPE, stderr=w, timeout=5 + SLACK)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"wstunnel blocked on a full stderr {kind}")
        res = wslib.Response(p.stdout)
        assert res.status == 101 and res.rest == b"ping", p.stdout
        assert p.returncode == 0
        assert not nonblocking(w), "fd 2 left O_NONBLOCK"
    finally:
        os.close(r)
        os.close(w)


def full_syslog(tmp_path):
    """A datagram socket standing for /dev/log whose daemon stopped
    reading: its queue is full.  Returns the socket (keep it open)."""
    path = str(tmp_path / "log.sock")
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(path)
    w = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    w.connect(path)
    w.setblocking(False)
    try:
        for _ in range(100000):
            w.send(b"<30>filler")
    except BlockingIOError:
        pass
    w.close()
    return d


def in_own_dev(tmp_path, logsock):
    """A command prefix that runs its command in a mount namespace of its
    own whose /dev has only null and log (a symlink to logsock), so that
    the host's /dev/log is left alone."""
    old = tmp_path / "olddev"
    old.mkdir()
    script = ('set -e; mount --make-rprivate /; mount --bind /dev "$1"; '
              'mount -t tmpfs tmpfs /dev; touch /dev/null; '
              'mount --bind "$1/null" /dev/null; ln -s "$2" /dev/log; '
              'shift 2; exec "$@"')
    return ["unshare", "-m", "/bin/sh", "-c", script, "sh", str(old),
            str(logsock)]


needs_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or subprocess.run(
        ["unshare", "-m", "true"], capture_output=True).returncode != 0,
    reason="needs a mount namespace of its own (root)")


@needs_namespace
def test_syslog_lines_reach_the_daemon(raw_backend, tmp_path):
    """What the log socket gets: RFC 3164 datagrams of facility daemon,
    ident wstunnel with the pid, the access line at info."""
    path = str(tmp_path / "log.sock")
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(path)
    try:
        b = raw_backend(echo_101)
        cmd = in_own_dev(tmp_path, path) + wslib.command(
            ["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
        p = subprocess.run(cmd, input=build_request() + b"ping",
                           capture_output=True, timeout=5 + SLACK)
        assert p.returncode == 0, p.stderr
        d.setblocking(False)
        got = []
        while select.select([d], [], [], 0.2)[0]:
            got.append(d.recv(4096).decode())
        access = [g for g in got if " client=" in g]
        assert len(access) == 1, got
        assert re.match(r"<30>\w{3} [ \d]\d \d\d:\d\d:\d\d wstunnel\[\d+\]: "
                        r"client=\S+ path=/ backend=127\.0\.0\.1:\d+ "
                        r"status=101 ", access[0]), access[0]
    finally:
        d.close()


@needs_namespace
def test_syslog_daemon_stalled(raw_backend, tmp_path):
    """The syslog daemon's queue is full (journald busy): the session is
    served and ends all the same; its lines are dropped."""
    d = full_syslog(tmp_path)
    try:
        b = raw_backend(echo_101)
        cmd = in_own_dev(tmp_path, d.getsockname()) + wslib.command(
            ["-v", "--log", "syslog", "--close-timeout", "1",
             f"ws://127.0.0.1:{b.port}"])
        try:
            p = subprocess.run(cmd, input=build_request() + b"ping",
                               capture_output=True, timeout=5 + SLACK)
        except subprocess.TimeoutExpired:
            raise AssertionError("wstunnel blocked on a full syslog socket")
        res = wslib.Response(p.stdout)
        assert res.status == 101 and res.rest == b"ping", p.stdout
        assert p.returncode == 0, p.stderr
        assert b.connections == 1
    finally:
        d.close()


# ---------------------------------------------------------------- signals

def check_ended_by_signal(p, log, sig=signal.SIGTERM):
    """Exit status 1 (no tunnel), one access line with end=signal, no
    status (nothing was answered), the flags of fd 0 and 1 as they were."""
    rc = p.wait(timeout=SLACK + 1)
    assert rc == 1, f"exit status {rc}"
    lines = access_lines_of(file_reader(log)())
    assert len(lines) == 1, file_reader(log)()
    assert lines[0]["end"] == "signal", lines[0]
    assert lines[0]["reason"] == f'"{sig.name}"', lines[0]
    assert lines[0]["status"] == "-", lines[0]
    assert not nonblocking(p.fd0), "fd 0 left O_NONBLOCK"
    assert not nonblocking(p.fd1), "fd 1 left O_NONBLOCK"
    return lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT,
                                 signal.SIGHUP],
                         ids=["TERM", "INT", "HUP"])
def test_signal_while_reading_the_head(tmp_path, piped, sig):
    log = tmp_path / "wstunnel.log"
    port = dead_port()
    p = piped(["--log", str(log), "--handshake-timeout", "30",
               f"ws://127.0.0.1:{port}"])
    p.write(b"GET / HTTP/1.1\r\nHost: example.test\r\n")
    assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
    t0 = time.monotonic()
    p.proc.send_signal(sig)
    line = check_ended_by_signal(p, log, sig)
    assert time.monotonic() - t0 < SLACK
    assert line["backend"] == "-", line
    assert line["path"] == "/", line         # the request line came
    assert p.read_until(b"\r\n\r\n", timeout=0.5) == b"", p.out


def test_sigterm_while_waiting_for_the_proxy_header(tmp_path, piped):
    log = tmp_path / "wstunnel.log"
    p = piped(["--log", str(log), "--proxy-protocol",
               "--handshake-timeout", "30", f"ws://127.0.0.1:{dead_port()}"])
    p.write(b"PROXY TCP4 192.0.2.7 ")
    assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    check_ended_by_signal(p, log)
    assert time.monotonic() - t0 < SLACK


def test_sigterm_while_connecting(tmp_path, piped):
    """The backend's accept queue is full, so the connect hangs in SYN-SENT
    for the whole --connect-timeout."""
    fl = FullListener()
    try:
        if not fl.ok:
            pytest.skip("the kernel kept accepting on a full listener")
        log = tmp_path / "wstunnel.log"
        p = piped(["--log", str(log), "--connect-timeout", "30",
                   f"ws://127.0.0.1:{fl.port}"])
        p.write(build_request())
        assert wslib.wait_for(lambda: syn_sent_to(fl.port), timeout=START)
        assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        check_ended_by_signal(p, log)
        assert time.monotonic() - t0 < SLACK
        assert p.read_until(b"\r\n\r\n", timeout=1) == b"", p.out
    finally:
        fl.close()


def test_sigterm_while_waiting_for_the_answer(raw_backend, tmp_path, piped):
    """The backend took the request and does not answer; the signal ends
    the session, and the backend's connection is closed."""
    done = threading.Event()
    closed = {}

    def silent(conn, head, rest):
        conn.settimeout(10)
        try:
            closed["eof"] = conn.recv(1) == b""
        except OSError:
            closed["eof"] = True
        done.set()

    b = raw_backend(silent)
    log = tmp_path / "wstunnel.log"
    p = piped(["--log", str(log), "--handshake-timeout", "30",
               f"ws://127.0.0.1:{b.port}"])
    p.write(build_request())
    assert wslib.wait_for(lambda: len(b.heads) == 1, timeout=START)
    assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    line = check_ended_by_signal(p, log)
    assert time.monotonic() - t0 < SLACK
    assert line["backend"] == f"127.0.0.1:{b.port}", line
    assert done.wait(timeout=3) and closed["eof"], "backend left open"


def test_sigterm_in_the_tunnel_restores_flags(raw_backend, tmp_path, piped):
    """The tunnel already ended on a signal with its line; the flags of fd
    0 and 1 are given back there too, and the exit status is 0."""
    log = tmp_path / "wstunnel.log"
    b = raw_backend(echo_101)
    p = piped(["--log", str(log), f"ws://127.0.0.1:{b.port}"])
    p.write(build_request() + b"ping")
    assert p.read_until(b"ping", timeout=5).endswith(b"ping"), p.out
    assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
    p.proc.send_signal(signal.SIGTERM)
    assert p.wait(timeout=SLACK + 1) == 0
    lines = access_lines_of(file_reader(log)())
    assert len(lines) == 1 and lines[0]["end"] == "signal", lines
    assert lines[0]["reason"] == '"SIGTERM"', lines
    assert lines[0]["status"] == "101", lines
    assert not nonblocking(p.fd0) and not nonblocking(p.fd1)


def self_signed(d):
    """A throwaway certificate and key for localhost."""
    cert, key = d / "c.pem", d / "k.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-subj",
                        "/CN=localhost", "-days", "2"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return str(cert), str(key)


@pytest.mark.parametrize("side", ["client", "backend"])
def test_sigterm_during_a_tls_handshake(tmp_path, piped, side):
    """The client (--tls-cert on fd 0/1) or a wss:// backend does not go
    on with its TLS handshake."""
    log = tmp_path / "wstunnel.log"
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    try:
        if side == "client":
            cert, key = self_signed(tmp_path)
            p = piped(["--log", str(log), "--tls-cert", cert, "--tls-key",
                       key, "--handshake-timeout", "30",
                       f"ws://127.0.0.1:{lst.getsockname()[1]}"])
        else:
            p = piped(["--log", str(log), "--backend-insecure",
                       "--connect-timeout", "30",
                       f"wss://127.0.0.1:{lst.getsockname()[1]}"])
            p.write(build_request())
            lst.settimeout(START)
            conn, _ = lst.accept()     # and never answers the ClientHello
        assert wslib.wait_for(lambda: in_poll(p.proc.pid), timeout=START)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        check_ended_by_signal(p, log)
        assert time.monotonic() - t0 < SLACK
        if side == "backend":
            conn.settimeout(3)
            while conn.recv(65536):     # the ClientHello, then the close
                pass
            conn.close()
    finally:
        lst.close()
