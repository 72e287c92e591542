"""Helpers for test_hostile.py and test_faults.py: a recording backend
handler, the descriptor table and memory of a live wstunnel read from /proc,
the wstunnel process behind a socket-activated listener (directly, or under
helpers_rb's /bin/sh status wrapper), and a real TLS ClientHello.  Loopback
only; every wait is bounded."""
import os
import re
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import wslib

# make valgrind runs every wstunnel under valgrind: its own descriptors and
# its memory are then in /proc, so the exact /proc checks are skipped
WRAPPED = bool(wslib.WRAPPER)


# ---------------------------------------------------------------- backends

def answer_101(head, extra=b""):
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + wslib.accept_for(wslib.key_of(head)).encode() + b"\r\n"
            + extra + b"\r\n")


class Recorder:
    """A RawBackend handler: waits pre_wait seconds and records what comes
    before it answers, sends answer (bytes, a function of the head, or
    None for nothing), then records (and with echo, echoes) what comes until
    EOF or hold seconds."""

    def __init__(self, answer, pre_wait=0.3, hold=5.0, echo=False):
        self.answer, self.pre_wait, self.hold, self.echo = \
            answer, pre_wait, hold, echo
        self.head = None
        self.pre = b""
        self.post = b""
        self.eof = False
        self.done = threading.Event()

    def _read(self, conn, seconds, echo):
        got, eof = b"", False
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got, eof
            conn.settimeout(left)
            try:
                d = conn.recv(65536)
            except socket.timeout:
                return got, eof
            except OSError:
                return got, True
            if not d:
                return got, True
            got += d
            if echo:
                conn.sendall(d)

    def __call__(self, conn, head, rest):
        try:
            self.head = head
            more, _ = self._read(conn, self.pre_wait, False)
            self.pre = rest + more
            if self.answer is not None:
                a = self.answer(head) if callable(self.answer) else self.answer
                conn.sendall(a)
            self.post, self.eof = self._read(conn, self.hold, self.echo)
        finally:
            self.done.set()


# ---------------------------------------------------------------- processes

def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True, timeout=10).stdout.split()
    return [int(p) for p in out]


def wstunnel_pid(listener, timeout=5, shell=False):
    """The one wstunnel behind a SocketActivated listener; with shell, the
    listener runs it under helpers_rb's /bin/sh wrapper (a grandchild)."""
    found = []

    def look():
        kids = children(listener.proc.pid)
        if shell:
            kids = [g for k in kids for g in children(k)]
        found[:] = kids
        return len(kids) == 1
    assert wslib.wait_for(look, timeout=timeout), \
        f"expected one wstunnel process, have {found}"
    return found[0]


def gone(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return st.rsplit(")", 1)[1].split()[0] == "Z"


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def pss_kb(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise AssertionError(f"no Pss for {pid}")


# ---------------------------------------------------------------- descriptors

def fd_table(pid):
    """{fd: what it points to} of a live process."""
    out = {}
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            out[int(name)] = os.readlink(f"{d}/{name}")
        except FileNotFoundError:
            pass
    return out


def inode(link):
    m = re.fullmatch(r"(?:socket|pipe):\[(\d+)\]", link)
    return m.group(1) if m else None


def tcp_sockets(pid):
    """{inode: (local port, remote port, state)} of the TCP sockets in
    pid's network namespace."""
    out = {}
    for f in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{f}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            p = line.split()
            lport = int(p[1].rsplit(":", 1)[1], 16)
            rport = int(p[2].rsplit(":", 1)[1], 16)
            out[p[9]] = (lport, rport, int(p[3], 16))
    return out


ESTABLISHED = 1


def check_tunnel_fds(pid, backend_port, logfile, splice=True,
                     inherited_fd2=None):
    """A wstunnel with an open tunnel holds exactly: the client socket on
    fd 0 and 1, the inherited fd 2, its log file, one socket connected to
    the backend, and (splice) two pipes, both ends of each.  Returns the
    table for the failure message of a caller."""
    t = fd_table(pid)
    assert t.get(0) is not None and t.get(0) == t.get(1), t
    assert inode(t[0]) is not None and t[0].startswith("socket:"), t
    if inherited_fd2 is not None:
        assert t.get(2) == inherited_fd2, t
    rest = {fd: l for fd, l in t.items() if fd > 2}
    logs = [fd for fd, l in rest.items() if l == str(logfile)]
    assert len(logs) == 1, f"log file not open exactly once: {t}"
    socks = [l for l in rest.values() if l.startswith("socket:")]
    assert len(socks) == 1, f"expected one backend socket: {t}"
    tcp = tcp_sockets(pid)
    assert tcp.get(inode(socks[0]), (None, None, None))[1:] == \
        (backend_port, ESTABLISHED), (socks, t)
    pipes = [inode(l) for l in rest.values() if l.startswith("pipe:")]
    if splice:
        assert len(pipes) == 4 and len(set(pipes)) == 2 and \
            all(pipes.count(p) == 2 for p in pipes), \
            f"expected two pipes (both ends) for splice: {t}"
    else:
        assert pipes == [], t
    assert len(t) == 3 + 1 + 1 + len(pipes), f"unexpected descriptors: {t}"
    return t


# ---------------------------------------------------------------- TLS

def client_hello(host="example.test"):
    """The bytes of a real TLS ClientHello, as a browser would send to a
    wss:// URL."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname=host)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outb.read()
    assert hello[:1] == b"\x16", hello[:16]
    return hello
