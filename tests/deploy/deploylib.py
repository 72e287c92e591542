"""Helpers of the deployment tests: the shipped files with their ports and
paths substituted, one WebSocket echo through a super-server, and what a
finished session must not leave behind."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import wslib

ROOT = wslib.ROOT
REPORTS = Path(os.environ.get("WSTUNNEL_REPORTS", ROOT / "tests" / "reports"))
# where scripts/deps --deploy unpacks xinetd and inetutils-inetd, which
# conflict with the installed openbsd-inetd (all are inet-superservers)
UNPACKED = "/var/lib/wstunnel-deps/{0}/usr/sbin/{0}"

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
              "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT",
              "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK",
              "0A": "LISTEN", "0B": "CLOSING"}


def public_copy():
    """wstunnel and its TLS module copied into a fresh directory that any
    user may enter: inetd and xinetd run it as nobody, and the checkout
    may be under a directory only root can read (/root).  Returns the
    directory; the caller removes it."""
    d = tempfile.mkdtemp(prefix="wstunnel-deploy-")
    os.chmod(d, 0o755)
    for name in ("wstunnel", "wstunnel-tls.so"):
        shutil.copy(ROOT / name, d)
        os.chmod(os.path.join(d, name), 0o755)
    return d


def shipped(name):
    return (ROOT / name).read_text()


def inetd_line(text, marker, flavour="openbsd-inetd"):
    """The first commented line of inetd.conf.example in the section of
    flavour (openbsd-inetd, inetutils-inetd) that contains marker,
    uncommented."""
    section = text.split(f"# ---- {flavour} ")[1].split("# ---- ")[0]
    for line in section.splitlines():
        if line.startswith("#") and " stream tcp" in line and marker in line:
            return line[1:]
    raise AssertionError(f"no inetd line with {marker!r}")


def tcp_sockets(port):
    """(state, local port, remote port, inode) of every TCP socket with
    port at either end, from /proc/net/tcp and tcp6."""
    out = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(f).read_text().splitlines()[1:]:
            fields = line.split()
            lport = int(fields[1].rsplit(":", 1)[1], 16)
            rport = int(fields[2].rsplit(":", 1)[1], 16)
            if port in (lport, rport):
                out.append((TCP_STATES.get(fields[3], fields[3]), lport,
                            rport, int(fields[9])))
    return out


def listening(port):
    return any(s[0] == "LISTEN" and s[1] == port for s in tcp_sockets(port))


def wait_listening(port, proc, timeout=10):
    """Waits until something listens on port; fails at once if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return
        assert proc.poll() is None, f"listener exited with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def socket_inodes(pids):
    """The inodes of the sockets the processes pids hold."""
    found = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                m = re.match(r"socket:\[(\d+)\]",
                             os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            if m:
                found.add(int(m.group(1)))
    return found


def backend_connections(port, others=()):
    """Connections to the backend's port that are still open (anything
    but the listener itself and TIME_WAIT, which is closed), leaving out
    those of the processes others (a browser's own connections to the
    server of its page) at both ends."""
    socks = [s for s in tcp_sockets(port)
             if s[0] not in ("LISTEN", "TIME_WAIT")]
    theirs = socket_inodes(others)
    ports = {s[1] for s in socks if s[3] in theirs}
    return [s for s in socks if s[1] not in ports and s[2] not in ports]


def descendants(pid):
    """pid and every process below it."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children(p))
    return found


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [int(p) for p in out]


def wstunnels_of(pid):
    """wstunnel processes among pid's children (by the binary they run:
    their command lines are process titles)."""
    found = []
    for c in children(pid):
        try:
            exe = os.readlink(f"/proc/{c}/exe")
        except OSError:
            continue
        if os.path.basename(exe).startswith("wstunnel"):
            found.append(c)
    return found


def echo(port, path, text, origin=None, ctx=None, host="127.0.0.1",
         during=None):
    """One WebSocket echo through the listener on port: upgrade, one text
    frame, the same text back, then during() while the tunnel is still
    open, a close.  Returns (status, text back)."""
    extra = [f"Origin: {origin}"] if origin else []
    raw = socket.create_connection((host, port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
    with sock:
        sock.sendall(wslib.upgrade_request(path, host="www.example.com",
                                           extra=extra))
        resp = wslib.Response(wslib.read_until(sock))
        if resp.status != 101:
            return resp.status, None
        sock.sendall(wslib.frame(text))
        data = resp.rest
        deadline = time.monotonic() + 10
        frames = []
        while not frames and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            frames, _ = wslib.parse_frames(data)
        if during is not None:
            during()
        sock.sendall(wslib.frame(b"\x03\xe8", opcode=0x8))
        wslib.read_all(sock, timeout=5)
    got = frames[0][1].decode() if frames and frames[0][0] == 1 else None
    return 101, got


def assert_live(super_pid, backend_port, user=None):
    """While a tunnel is open: its wstunnel under the super-server and its
    connection to the backend are seen, so that their absence afterwards
    means something; with user, the wstunnel runs as that user."""
    found = wstunnels_of(super_pid)
    assert len(found) == 1, children(super_pid)
    assert backend_connections(backend_port), tcp_sockets(backend_port)
    if user is not None:
        status = Path(f"/proc/{found[0]}/status").read_text()
        uids = re.search(r"(?m)^Uid:\s+(.*)$", status).group(1).split()
        assert uids == [str(pwd.getpwnam(user).pw_uid)] * 4, status


def assert_nothing_left(super_pid, backend_port, timeout=10, others=()):
    """No wstunnel left under the super-server, no connection left open
    to the backend (but those of the processes others), within timeout."""
    assert wslib.wait_for(lambda: not wstunnels_of(super_pid), timeout), \
        f"wstunnel processes left: {wstunnels_of(super_pid)}"
    assert wslib.wait_for(
        lambda: not backend_connections(backend_port, others), timeout), \
        "backend connections left: " \
        f"{backend_connections(backend_port, others)}"


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def substitute(text, pairs):
    """text with each (old, new) replaced, each old required to occur."""
    for old, new in pairs:
        assert old in text, f"{old!r} not in the shipped file"
        text = text.replace(old, new)
    return text


def exec_start(service_text):
    """The ExecStart= command of a unit (the last one, as systemd reads
    them), split into words."""
    cmds = re.findall(r"(?m)^ExecStart=(.*)$", service_text)
    assert cmds and cmds[-1], "no ExecStart= in the unit"
    return cmds[-1].split()
