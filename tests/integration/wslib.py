"""Helpers shared by the integration tests: running wstunnel, raw HTTP and
WebSocket framing, and scripted peers.  Everything talks over loopback and
every wait is bounded."""
import base64
import hashlib
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WSTUNNEL = str(ROOT / "wstunnel")
PYTHON = "/usr/bin/python3"
PEERS = Path(__file__).resolve().parent / "peers"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# make valgrind: every wstunnel runs under this command (split on spaces)
WRAPPER = os.environ.get("WSTUNNEL_WRAPPER", "").split()


# Under valgrind or the sanitizers a process's memory is theirs as much as
# wstunnel's: bounds on it are widened by what they add.
INSTRUMENTED = bool(WRAPPER) or bool(os.environ.get("WSTUNNEL_REPORTS"))


def rss_limit_kb(kb):
    """The bound on wstunnel's VmRSS for a test that expects at most kb."""
    return kb + (64 * 1024 if INSTRUMENTED else 0)


def command(args):
    """The command line that runs wstunnel with args."""
    # valgrind runs its own code in the process, and the sandbox would
    # forbid what it does (executable memory for its translations)
    return [*WRAPPER, WSTUNNEL, *(["--no-sandbox"] if WRAPPER else []), *args]


def check_ok(err):
    """Whether err is --check's verdict on stderr: the configuration OK and
    whether the sandbox will be on (off in the sanitizer builds)."""
    return re.fullmatch(r"wstunnel: configuration OK, sandbox "
                        r"(on|off \(.+\))\n", err) is not None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(path="/", host="example.test", key=None, extra=()):
    """A valid WebSocket upgrade request head, as bytes."""
    key = key or new_key()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Version: 13",
             f"Sec-WebSocket-Key: {key}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(payload, opcode=0x2, mask=True):
    """One WebSocket frame (client frames are masked)."""
    if isinstance(payload, str):
        payload, opcode = payload.encode(), 0x1
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    m = os.urandom(4)
    return head + m + bytes(b ^ m[i % 4] for i, b in enumerate(payload))


def parse_frames(data):
    """(list of (opcode, payload), rest) from unmasked server frames."""
    out = []
    while len(data) >= 2:
        n = data[1] & 0x7F
        i = 2
        if n == 126:
            if len(data) < 4:
                break
            n, i = int.from_bytes(data[2:4], "big"), 4
        elif n == 127:
            if len(data) < 10:
                break
            n, i = int.from_bytes(data[2:10], "big"), 10
        if len(data) < i + n:
            break
        out.append((data[0] & 0x0F, data[i:i + n]))
        data = data[i + n:]
    return out, data


class Response:
    """A parsed HTTP response head, with whatever came after it."""

    def __init__(self, raw):
        head, _, self.rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})", lines[0])
        self.status = int(m.group(1)) if m else None
        self.status_line = lines[0]
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name, value.strip()))
        self.complete = b"\r\n\r\n" in raw

    def get(self, name):
        vals = [v for n, v in self.headers if n.lower() == name.lower()]
        return vals[0] if vals else None

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def body(self):
        n = self.get("Content-Length")
        return self.rest[:int(n)] if n is not None else self.rest


def read_until(sock, marker=b"\r\n\r\n", timeout=10, limit=1 << 24):
    """Reads from sock until marker was seen or the peer closed."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and len(data) < limit:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_all(sock, timeout=10):
    """Everything until the peer closes (or timeout)."""
    return read_until(sock, marker=b"\x00never\x00", timeout=timeout)


def run_pipe(args, data, timeout=15, close_stdin=True):
    """Runs wstunnel with pipes on fd 0/1 and --log stderr.  Returns
    (stdout bytes, stderr text, exit status)."""
    p = subprocess.Popen(command(["--log", "stderr", *args]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        if close_stdin:
            out, err = p.communicate(data, timeout=timeout)
        else:
            p.stdin.write(data)
            p.stdin.flush()
            out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"wstunnel did not exit in {timeout}s; log: {err!r}")
    return out, err.decode(errors="replace"), p.returncode


def wait_for(cond, timeout=10, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class RawBackend:
    """A scripted TCP backend.  handler(conn, head, rest) is called in a
    thread for each connection once a complete request head arrived (or the
    peer closed); it decides what to answer.  Records every connection."""

    def __init__(self, handler=None, port=None, family=socket.AF_INET,
                 host="127.0.0.1"):
        self.handler = handler or switch_101
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port or 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.heads = []
        self.received = []      # all bytes each connection sent, at its end
        self.closed = []        # monotonic time each connection saw EOF
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        data = read_until(conn, timeout=10)
        head, sep, rest = data.partition(b"\r\n\r\n")
        with self.lock:
            self.heads.append(head + sep)
        try:
            self.handler(conn, head + sep, rest)
        except OSError:
            pass
        finally:
            conn.close()

    def request_headers(self, i=0):
        lines = self.heads[i].decode("latin-1").split("\r\n")
        return lines[0], [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if l]

    def close(self):
        self._stop = True
        self.sock.close()


def key_of(head):
    m = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
    return m.group(1).decode() if m else ""


def switch_101(conn, head, rest, then_echo=True, extra=b""):
    """Answers a valid 101, then echoes raw bytes until EOF."""
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                 + accept_for(key_of(head)).encode() + b"\r\n" + extra + b"\r\n")
    if rest:
        conn.sendall(rest)
    while then_echo:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


class EchoBackend:
    """python3-websockets echo server in its own process."""

    def __init__(self, where=None, greeting=None, tls=None, deflate=False,
                 report_close=False):
        self.port = None
        if where is None:
            self.port = free_port()
            where = str(self.port)
        args = [PYTHON, str(PEERS / "echo_backend.py"), where]
        if greeting is not None:
            args += ["--greeting", greeting]
        if tls is not None:
            args += ["--tls", *tls]
        if deflate:
            args += ["--deflate"]
        if report_close:
            args += ["--report-close"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"echo backend did not start: {line!r}"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


class SocketActivated:
    """wstunnel behind systemd-socket-activate --inetd -a on a loopback
    port, the way an inetd or systemd Accept=yes service runs it."""

    def __init__(self, args, logfile, port=None, env=None):
        self.port = port or free_port()
        self.logfile = str(logfile)
        cmd = ["systemd-socket-activate", "--inetd", "-a",
               "-l", f"127.0.0.1:{self.port}",
               *command(["--log", self.logfile, *args])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env)
        line = self.proc.stderr.readline()
        assert "Listening" in line, f"socket activation failed: {line!r}"
        # it reports every connection on stderr: a full pipe would stop it
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def log(self):
        try:
            return Path(self.logfile).read_text()
        except FileNotFoundError:
            return ""

    def access_lines(self):
        return [l for l in self.log().splitlines() if " client=" in l]

    def children(self):
        """wstunnel processes still running for this listener (their
        command lines are process titles by then, so by parent)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)],
                             capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
