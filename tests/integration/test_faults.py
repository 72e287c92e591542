"""Fault injection: backends that refuse, stall, reset or close half-way
through a head, reset mid-tunnel or stream a 2 GB body; clients that reset;
a full disk under --log; fd 0, 1 or 2 closed by the super-server; names
that do not resolve; routes whose every backend fails.

Each test asserts what the user sees (the status, the close, the access
line's end=), that no wstunnel outlives its session (the activated fixture
asserts it at teardown; pipe runs must exit), and that no descriptor leaks:
the descriptor table of a live wstunnel is read from /proc at a controlled
point (while its tunnel is open: fds 0-2, the log file, one backend socket
and two splice pipes, nothing else; after failed backend attempts, their
sockets closed).  Under `make valgrind` (WSTUNNEL_WRAPPER set) the /proc
checks are skipped and valgrind's --track-fds reports leaks instead."""
import os
import socket
import subprocess
import threading
import time

import pytest

import wslib
from helpers_faults import (WRAPPED, Recorder, answer_101, check_tunnel_fds,
                            fd_table, gone, status_kb, tcp_sockets,
                            wstunnel_pid)
from helpers_rb import (ACCEPT, FullListener, build_request, check_refusal,
                        dead_port)
from helpers_tun import activated_access, linger0, recv_exact, wait_closed

MiB = 1 << 20
proc_checks = pytest.mark.skipif(
    WRAPPED, reason="/proc checks of wstunnel itself; valgrind checks fds")
closes_fds = pytest.mark.skipif(
    WRAPPED, reason="valgrind's own files take the closed descriptors "
    "before wstunnel runs")


def fd2_of(listener):
    """What systemd-socket-activate passes its children as fd 2."""
    return os.readlink(f"/proc/{listener.proc.pid}/fd/2")


def request_on(s, data=None, timeout=8):
    """Sends a request to a socket-activated wstunnel and reads until it
    closes."""
    c = s.connect(timeout=5)
    try:
        c.sendall(data or build_request())
        return wslib.read_all(c, timeout=timeout)
    finally:
        c.close()


def one_access(s):
    lines = activated_access(s)
    assert len(lines) == 1, lines
    return lines[0]


def tunnel_on(s, path="/"):
    c = s.connect(timeout=5)
    c.sendall(build_request(target=path))
    res = wslib.Response(wslib.read_until(c, timeout=5))
    assert res.status == 101, res.status_line
    assert res.get("Sec-WebSocket-Accept") == ACCEPT
    return c, res


def echo_once(c, payload=b"ping"):
    c.sendall(payload)
    assert recv_exact(c, len(payload), timeout=5) == payload


def close_tunnel(c, s):
    """Ends a tunnel from the client side and waits for wstunnel."""
    c.shutdown(socket.SHUT_WR)
    assert wait_closed(c, 5) is not None, "wstunnel did not close"
    c.close()
    assert wslib.wait_for(lambda: s.children() == [], timeout=5), \
        f"wstunnel left over: {s.children()}"


# --------------------------------------------------------------------------
# backends that fail before the tunnel

def test_backend_refuses_502(activated):
    s = activated([f"ws://127.0.0.1:{dead_port()}"])
    t0 = time.monotonic()
    out = request_on(s)
    check_refusal(out, 502)
    assert time.monotonic() - t0 < 3
    line = one_access(s)
    assert (line["status"], line["end"]) == ("502", "backend-failed"), line


def test_backend_accepts_then_stalls_504(raw_backend, activated):
    """The backend takes the connection and the request and never answers:
    504 at --handshake-timeout.  While it waits, wstunnel holds its client,
    fd 2, the log and the one backend socket: nothing else."""
    rec = Recorder(None, pre_wait=0, hold=6)
    b = raw_backend(rec)
    s = activated(["--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c = s.connect(timeout=5)
    try:
        t0 = time.monotonic()
        c.sendall(build_request())
        if not WRAPPED:
            pid = wstunnel_pid(s)
            assert wslib.wait_for(lambda: b.connections == 1, timeout=2)
            t = fd_table(pid)
            socks = [l for fd, l in t.items() if fd > 2 and
                     l.startswith("socket:")]
            assert len(t) == 5 and len(socks) == 1, t
            assert not any(l.startswith("pipe:") for fd, l in t.items()
                           if fd > 2), t
        out = wslib.read_all(c, timeout=5)
        took = time.monotonic() - t0
    finally:
        c.close()
    check_refusal(out, 504)
    assert 0.8 <= took <= 2.5, took
    assert rec.done.wait(7)
    assert rec.eof, "backend connection left open after the 504"
    line = one_access(s)
    assert line["status"] == "504", line
    assert line["end"] in ("backend-failed", "timeout"), line


@pytest.mark.parametrize("partial", [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Len",
    b"HTTP/1.",
], ids=["half-101", "half-200", "half-status-line"])
@pytest.mark.parametrize("how", ["reset", "close"])
def test_backend_dies_mid_head_502(raw_backend, activated, partial, how):
    """Half a response head, then a reset (or a FIN): 502 at once, and none
    of the half head reaches the client."""
    def handler(conn, head, rest):
        conn.sendall(partial)
        time.sleep(0.1)
        if how == "reset":
            linger0(conn)
        conn.close()

    b = raw_backend(handler)
    s = activated(["--handshake-timeout", "5", f"ws://127.0.0.1:{b.port}"])
    t0 = time.monotonic()
    out = request_on(s)
    took = time.monotonic() - t0
    check_refusal(out, 502)
    assert partial not in out[len(b"HTTP/1.1 502"):], out
    assert took < 3, took
    line = one_access(s)
    assert (line["status"], line["end"]) == ("502", "backend-failed"), line


def test_backend_dies_mid_head_pipe_exit_1(raw_backend):
    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 101 Switching")
        linger0(conn)
        conn.close()

    b = raw_backend(handler)
    out, err, rc = wslib.run_pipe([f"ws://127.0.0.1:{b.port}"],
                                  build_request(), timeout=5)
    check_refusal(out, 502)
    assert rc == 1, err


def test_unresolvable_name_502(activated):
    s = activated(["ws://no-such-backend.invalid:8080/ws"])
    t0 = time.monotonic()
    out = request_on(s)
    check_refusal(out, 502)
    assert time.monotonic() - t0 < 5
    line = one_access(s)
    assert (line["status"], line["end"]) == ("502", "backend-failed"), line


def test_every_url_of_the_route_fails_502(activated):
    s = activated(["--balance", "first",
                   f"/=ws://127.0.0.1:{dead_port()},ws://nope.invalid:80,"
                   f"ws://127.0.0.1:{dead_port()}"])
    out = request_on(s)
    check_refusal(out, 502)
    line = one_access(s)
    assert (line["status"], line["end"]) == ("502", "backend-failed"), line


def test_every_url_fails_each_tried_once(activated):
    """A route of one backend that drops SYNs, one that refuses and one that
    does not resolve: each is tried once (one connect timeout in all),
    then 502."""
    full = FullListener()
    try:
        if not full.ok:
            pytest.skip("the kernel accepted every connection")
        s = activated(["--balance", "first", "--connect-timeout", "1",
                       f"/=ws://127.0.0.1:{full.port},"
                       f"ws://127.0.0.1:{dead_port()},ws://nope.invalid:80"])
        t0 = time.monotonic()
        out = request_on(s, timeout=8)
        took = time.monotonic() - t0
    finally:
        full.close()
    check_refusal(out, 502)
    assert 0.8 <= took <= 2.5, took
    line = one_access(s)
    assert line["status"] == "502", line


# --------------------------------------------------------------------------
# failover leaves no socket behind

@pytest.mark.parametrize("dead", ["refused", "unresolvable", "timeout"])
@pytest.mark.parametrize("relay", ["splice", "buffer"])
def test_failover_then_tunnel_holds_exactly_its_descriptors(
        raw_backend, activated, dead, relay):
    b = raw_backend()
    full = None
    if dead == "refused":
        bad = [f"ws://127.0.0.1:{dead_port()}", f"ws://127.0.0.1:{dead_port()}"]
    elif dead == "unresolvable":
        bad = ["ws://first.invalid:80", "ws://second.invalid:80"]
    else:
        full = FullListener()
        if not full.ok:
            full.close()
            pytest.skip("the kernel accepted every connection")
        bad = [f"ws://127.0.0.1:{full.port}"]
    try:
        args = ["--balance", "first", "--connect-timeout", "0.5",
                "/=" + ",".join(bad + [f"ws://127.0.0.1:{b.port}"])]
        if relay == "buffer":
            args.insert(0, "--no-splice")
        s = activated(args)
        c, _ = tunnel_on(s)
        echo_once(c)
        if not WRAPPED:     # else valgrind's --track-fds reports leaks
            pid = wstunnel_pid(s)
            check_tunnel_fds(pid, b.port, s.logfile,
                             splice=(relay == "splice"),
                             inherited_fd2=fd2_of(s))
        close_tunnel(c, s)
    finally:
        if full is not None:
            full.close()
    assert b.connections == 1
    line = one_access(s)
    assert line["backend"] == f"127.0.0.1:{b.port}", line
    assert line["end"] == "client-closed", line


# --------------------------------------------------------------------------
# resets mid-tunnel

def test_backend_resets_mid_tunnel(raw_backend, activated):
    go = threading.Event()

    def handler(conn, head, rest):
        conn.sendall(answer_101(head))
        data = rest
        while b"ping" not in data:
            more = conn.recv(100)
            if not more:
                return
            data += more
        conn.sendall(b"pong")
        go.wait(10)
        linger0(conn)
        conn.close()

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])        # close-timeout 5
    c, _ = tunnel_on(s)
    try:
        c.sendall(b"ping")
        assert recv_exact(c, 4) == b"pong"
        if not WRAPPED:
            pid = wstunnel_pid(s)
            check_tunnel_fds(pid, b.port, s.logfile, inherited_fd2=fd2_of(s))
        go.set()
        took = wait_closed(c, 3)
    finally:
        go.set()
        c.close()
    assert took is not None, "client connection left open"
    assert took < 1.0, f"client closed only after {took:.2f}s"
    assert wslib.wait_for(lambda: s.children() == [], timeout=2)
    line = one_access(s)
    assert (line["status"], line["end"]) == ("101", "backend-error"), line


def test_client_resets_mid_tunnel(raw_backend, activated):
    st = {}

    def handler(conn, head, rest):
        conn.sendall(answer_101(head))
        data = rest
        while b"ping" not in data:
            more = conn.recv(100)
            if not more:
                return
            data += more
        conn.sendall(b"pong")
        st["closed"] = wait_closed(conn, 10)
        st["at"] = time.monotonic()

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])
    c, _ = tunnel_on(s)
    c.sendall(b"ping")
    assert recv_exact(c, 4) == b"pong"
    if not WRAPPED:
        pid = wstunnel_pid(s)
        check_tunnel_fds(pid, b.port, s.logfile, inherited_fd2=fd2_of(s))
    linger0(c)
    c.close()
    t0 = time.monotonic()
    assert wslib.wait_for(lambda: "at" in st, timeout=3)
    assert st["closed"] is not None, "backend connection left open"
    assert st["at"] - t0 < 1.0, "backend connection not closed promptly"
    assert wslib.wait_for(lambda: s.children() == [], timeout=2)
    line = one_access(s)
    assert (line["status"], line["end"]) == ("101", "client-error"), line


# --------------------------------------------------------------------------
# a 2 GB answer that is not a 101

BIG = 1 << 31                   # Content-Length: 2147483648
ENOUGH = 512 * MiB              # what the client reads before it gives up
RSS_LIMIT_KB = wslib.rss_limit_kb(20 * 1024)


@proc_checks
def test_two_gigabyte_body_relayed_with_bounded_memory(raw_backend,
                                                       activated):
    """A 200 with a 2 GB body streamed by the backend: wstunnel relays it
    with a fixed buffer (VmRSS sampled while it streams
    stays under 20 MB), its descriptors are the client's, fd 2, the log and
    the backend's; when the client gives up after 512 MB, wstunnel exits at
    once and closes the backend connection."""
    pattern = os.urandom(MiB)
    twice = pattern + pattern
    st = {}

    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/"
                     b"octet-stream\r\nContent-Length: %d\r\n\r\n" % BIG)
        view = memoryview(pattern)
        sent = 0
        conn.settimeout(15)
        try:
            while sent < BIG:       # a generator would do the same
                conn.sendall(view)
                sent += len(view)
        except OSError:
            pass
        st["sent"] = sent
        st["ended"] = time.monotonic()

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])
    c = s.connect(timeout=5)
    buf = bytearray(MiB)
    got = 0
    rss = []
    fds = tcp = None
    corrupt = None
    try:
        c.sendall(build_request())
        head = wslib.read_until(c, timeout=5)
        res = wslib.Response(head)
        assert res.status == 200, head[:200]
        assert res.all("Content-Length") == [str(BIG)]
        rest = res.rest
        if rest != pattern[:len(rest)]:
            corrupt = 0
        got = len(rest)
        pid = wstunnel_pid(s)
        t0 = time.monotonic()
        next_sample = t0
        deadline = t0 + 60      # a bound, not a speed: the machine may be busy
        c.settimeout(5)
        while got < ENOUGH and time.monotonic() < deadline:
            n = c.recv_into(buf)
            assert n > 0, f"EOF after {got} bytes"
            off = got % MiB
            if corrupt is None and buf[:n] != twice[off:off + n]:
                corrupt = got
            got += n
            now = time.monotonic()
            if now >= next_sample:
                rss.append(status_kb(pid, "VmRSS"))
                if fds is None and got > 64 * MiB:
                    fds, tcp = fd_table(pid), tcp_sockets(pid)
                next_sample = now + 0.05
        took = time.monotonic() - t0
    finally:
        c.close()
    closed_at = time.monotonic()
    assert corrupt is None, f"bytes differ from offset {corrupt}"
    assert got >= ENOUGH, f"only {got >> 20} MB in 60 s"
    rate = got / took / MiB
    print(f"{got >> 20} MB in {took:.2f}s, {rate:.0f} MB/s, VmRSS max "
          f"{max(rss)} kB over {len(rss)} samples")
    assert len(rss) >= 3, rss
    assert max(rss) < RSS_LIMIT_KB, f"VmRSS up to {max(rss)} kB"
    assert fds is not None
    socks = [l for fd, l in fds.items() if fd > 2 and l.startswith("socket:")]
    assert len(fds) == 5 and len(socks) == 1, fds
    assert tcp.get(socks[0][8:-1], (0, 0))[1] == b.port, (fds, tcp)
    assert wslib.wait_for(lambda: gone(pid), timeout=3), \
        "wstunnel still relaying after its client left"
    assert time.monotonic() - closed_at < 3
    assert wslib.wait_for(lambda: "ended" in st, timeout=3), \
        "backend connection left open"
    assert st["sent"] < BIG
    line = one_access(s)
    assert (line["status"], line["end"]) == ("200", "not-upgraded"), line
    assert got <= int(line["down"]) < BIG, (got, line)


# --------------------------------------------------------------------------
# the log on a full disk

@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_log_on_full_disk_session_still_works(raw_backend, verbose):
    b = raw_backend()
    payload = os.urandom(100_000)
    p = subprocess.Popen(wslib.command([*verbose, "--log", "/dev/full",
                                        "--close-timeout", "1",
                                        f"ws://127.0.0.1:{b.port}"]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(build_request() + payload, timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("wstunnel did not exit with --log /dev/full")
    res = wslib.Response(out)
    assert res.status == 101, out[:300]
    assert res.get("Sec-WebSocket-Accept") == ACCEPT
    assert res.rest == payload, "tunnel data lost or changed"
    assert p.returncode == 0, err
    assert err == b"", err
    assert b.connections == 1


def test_log_on_full_disk_refusal_still_answered(raw_backend):
    b = raw_backend()
    p = subprocess.run(wslib.command(["--log", "/dev/full",
                                      f"ws://127.0.0.1:{b.port}"]),
                       input=build_request(method="POST"),
                       capture_output=True, timeout=10)
    check_refusal(p.stdout, 405, (("Allow", "GET"),))
    assert p.returncode == 1
    assert p.stderr == b""
    assert b.connections == 0


# --------------------------------------------------------------------------
# fd 0, 1 or 2 closed by the super-server

def closer(*fds):
    def pre():
        for fd in fds:
            os.close(fd)
    return pre


@closes_fds
@pytest.mark.parametrize("closed", [(1,), (0,), (0, 1)],
                         ids=["fd1", "fd0", "fd0-and-fd1"])
def test_client_fd_closed_exit_1_nothing_written(raw_backend, tmp_path,
                                                 closed):
    """No client to serve: exit status 1, nothing on stdout or stderr, no
    log file created, no backend contacted."""
    b = raw_backend()
    log = tmp_path / "wstunnel.log"
    p = subprocess.Popen(
        wslib.command(["--log", str(log), f"ws://127.0.0.1:{b.port}"]),
        stdin=subprocess.PIPE if 0 not in closed else subprocess.DEVNULL,
        stdout=subprocess.PIPE if 1 not in closed else subprocess.DEVNULL,
        stderr=subprocess.PIPE, preexec_fn=closer(*closed))
    try:
        if p.stdin is not None:
            try:
                p.stdin.write(build_request())
                p.stdin.close()
            except BrokenPipeError:
                pass
        rc = p.wait(timeout=5)
        out = p.stdout.read() if p.stdout is not None else b""
        err = p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for f in (p.stdout, p.stderr):
            if f is not None:
                f.close()
    assert rc == 1
    assert out == b"" and err == b"", (out, err)
    assert not log.exists() or log.read_bytes() == b"", log.read_bytes()
    time.sleep(0.05)
    assert b.connections == 0


@closes_fds
def test_fd2_closed_tunnel_works_and_nothing_lands_on_sockets(raw_backend):
    """fd 2 closed, --log stderr -v: the lowest free descriptor must not
    become the log's target; the backend gets exactly the head and the
    tunnel bytes, the client exactly the 101 and the echo, exit 0."""
    rec = Recorder(answer_101, pre_wait=0.2, hold=5, echo=True)
    b = raw_backend(rec)
    payload = os.urandom(4096)
    p = subprocess.Popen(
        wslib.command(["--log", "stderr", "-v", "--close-timeout", "1",
                       f"ws://127.0.0.1:{b.port}"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        preexec_fn=closer(2))
    try:
        p.stdin.write(build_request())
        p.stdin.flush()
        fd = p.stdout.fileno()
        out = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in out and time.monotonic() < deadline:
            out += os.read(fd, 65536)
        res = wslib.Response(out)
        assert res.status == 101, out
        if not WRAPPED:
            t = fd_table(p.pid)
            assert t.get(2) == "/dev/null", t
            socks = [l for l in t.values() if l.startswith("socket:")]
            assert len(socks) == 1, t
        rest, _ = p.communicate(payload, timeout=8)
        rc = p.returncode
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert res.rest + rest == payload
    assert rc == 0
    assert rec.done.wait(5)
    assert rec.pre == b""
    assert rec.post == payload, "the backend got more (or less) than the tunnel"
    assert b"wstunnel" not in rec.head and b"wstunnel" not in rec.post
    assert rec.head.startswith(b"GET / HTTP/1.1\r\n")
    assert rec.head.endswith(b"\r\n\r\n") and rec.head.count(b"\r\n\r\n") == 1


@closes_fds
def test_fd2_closed_log_file_still_written(raw_backend, tmp_path):
    b = raw_backend()
    log = tmp_path / "wstunnel.log"
    p = subprocess.run(
        wslib.command(["--log", str(log), "--close-timeout", "1",
                       f"ws://127.0.0.1:{b.port}"]),
        input=build_request() + b"data", stdout=subprocess.PIPE,
        preexec_fn=closer(2), timeout=10)
    res = wslib.Response(p.stdout)
    assert res.status == 101 and res.rest == b"data", p.stdout
    assert p.returncode == 0
    lines = [l for l in log.read_text().splitlines() if " client=" in l]
    assert len(lines) == 1 and " status=101 " in lines[0], lines
