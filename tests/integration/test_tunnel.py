"""The tunnel (SPEC.md "The tunnel", "Logging", "Exit status"): byte
integrity both ways at once, back-pressure, half-close, the close and idle
timeouts, dead and reset peers, signals, exit status, the access line's byte
counts, pipe mode, and inetd's fd 0/1/2 on one socket."""
import asyncio
import hashlib
import os
import shutil
import random
import signal
import socket
import subprocess
import threading
import time

import pytest
import websockets

import wslib
from helpers_tun import (MiB, Inetd, Pump, Sender, activated_access, cpu_seconds, digest,
                         linger0, only_child, open_tunnel, peer_gone, read_fd_until_eof, read_head,
                         recv_exact, recv_hash, recv_until_eof, rss_kb,
                         send_101, wait_access, wait_closed)

N = 8 * MiB          # bytes each way in the integrity tests
SLACK = 1.5          # seconds allowed on top of a timeout


RELAYS = {"splice": [], "buffer": ["--no-splice"],
          "busy-poll": ["--busy-poll", "1000"]}


@pytest.fixture(params=list(RELAYS))
def relay(request):
    """The relay's two stores, splice() through a pipe (the default) and
    the buffer (--no-splice), and the loop that polls without sleeping
    after each move (--busy-poll); the tests that stress the relay run
    each."""
    return RELAYS[request.param]


def stream_backend(raw_backend, n):
    """A backend that, after its 101, streams n random bytes while reading
    everything the client sends until EOF.  Returns (backend, result,
    done): result['got'] = (count, sha256) received, result['sent'] the
    same for what it sent."""
    result = {}
    done = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        sender = Sender(conn, n, shut=True)
        sender.start()
        try:
            result["got"] = recv_hash(conn, timeout=60, initial=rest)
        finally:
            sender.join(60)
            result["sent"] = (sender.sent, sender.digest())
            result["send_error"] = sender.error
            done.set()
    return raw_backend(handler), result, done


# ------------------------------------------------------------ byte integrity

def test_integrity_both_directions_at_once_socket_mode(raw_backend, activated, relay):
    b, result, done = stream_backend(raw_backend, N)
    s = activated([*relay, f"ws://127.0.0.1:{b.port}"])
    c, res = open_tunnel(s.port, "/bulk")
    with c:
        up = Sender(c, N, shut=True)
        up.start()
        count, h = recv_hash(c, timeout=60, initial=res.rest)
        up.join(60)
    assert up.error is None, up.error
    assert done.wait(60), "backend did not finish"
    assert result["send_error"] is None, result["send_error"]
    assert result["got"] == (N, up.digest()), "client->backend bytes differ"
    assert (count, h) == result["sent"], "backend->client bytes differ"
    assert result["sent"][0] == N
    line = activated_access(s)[0]
    assert line["status"] == "101"
    assert (line["up"], line["down"]) == (str(N), str(N)), line


def test_integrity_both_directions_at_once_pipe_mode(raw_backend, relay):
    b, result, done = stream_backend(raw_backend, N)
    p = subprocess.Popen([wslib.WSTUNNEL, "--log", "stderr", *relay, f"ws://127.0.0.1:{b.port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sent = {"hash": None, "error": None}

    def writer():
        h = hashlib.sha256()
        try:
            p.stdin.write(wslib.upgrade_request("/pipe"))
            left = N
            while left > 0:
                chunk = os.urandom(min(left, 256 * 1024))
                p.stdin.write(chunk)
                h.update(chunk)
                left -= len(chunk)
            p.stdin.close()
        except Exception as e:
            sent["error"] = e
        sent["hash"] = h.hexdigest()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    state = {"head": b"", "in_head": True, "hash": hashlib.sha256(), "n": 0}

    def on_chunk(chunk):
        if state["in_head"]:
            state["head"] += chunk
            if b"\r\n\r\n" in state["head"]:
                head, _, rest = state["head"].partition(b"\r\n\r\n")
                state["head"] = head + b"\r\n\r\n"
                state["in_head"] = False
                state["hash"].update(rest)
                state["n"] += len(rest)
            return
        state["hash"].update(chunk)
        state["n"] += len(chunk)
    try:
        read_fd_until_eof(p.stdout.fileno(), timeout=60, on_chunk=on_chunk)
        code = p.wait(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.join(15)
    err = p.stderr.read().decode(errors="replace")
    assert sent["error"] is None, sent["error"]
    assert wslib.Response(state["head"]).status == 101, state["head"]
    assert done.wait(30)
    assert result["got"] == (N, sent["hash"]), "stdin->backend bytes differ"
    assert (state["n"], state["hash"].hexdigest()) == result["sent"], \
        "backend->stdout bytes differ"
    assert code == 0, err
    lines = wait_access(lambda: err, 1, timeout=1)
    assert (lines[0]["up"], lines[0]["down"]) == (str(N), str(N)), err


def test_websockets_messages_of_random_sizes(echo_backend, activated):
    b = echo_backend()
    s = activated([f"/ws=ws://127.0.0.1:{b.port}"])
    rnd = random.Random(20240611)
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, MiB] + \
        [rnd.randint(0, MiB) for _ in range(24)]

    def message(i, n):
        if i % 4 == 3:      # text frames too, valid UTF-8
            return "".join(rnd.choice("abcxyzé€😀 ") for _ in range(n // 4))
        return os.urandom(n)

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/ws/echo",
                                      max_size=None, compression=None,
                                      open_timeout=10, close_timeout=5) as ws:
            bad = []
            # one at a time
            for i, n in enumerate(sizes):
                m = message(i, n)
                await ws.send(m)
                got = await asyncio.wait_for(ws.recv(), 20)
                if got != m:
                    bad.append((i, n))
            # and many in flight at once
            batch = [message(i, rnd.randint(0, MiB // 2)) for i in range(20)]

            async def send_all():
                for m in batch:
                    await ws.send(m)
            task = asyncio.ensure_future(send_all())
            for i, m in enumerate(batch):
                got = await asyncio.wait_for(ws.recv(), 20)
                if got != m:
                    bad.append(("batch", i))
            await task
            return bad
    assert asyncio.run(talk()) == []
    line = activated_access(s)[0]
    assert line["status"] == "101" and line["path"] == "/ws/echo"


# ------------------------------------------------------------ flow control

def check_backpressure(pump, pid):
    """Samples a pump that writes into a peer which does not read."""
    time.sleep(1.2)             # loopback buffers fill in milliseconds
    at_2, rss_2 = pump.sent, rss_kb(pid)
    time.sleep(0.6)
    at_3, rss_3 = pump.sent, rss_kb(pid)
    pump.stop.set()
    assert at_3 > 0, "the writer could not write at all"
    assert at_3 < 64 * MiB, f"{at_3} bytes taken for a peer that does not read"
    assert at_3 - at_2 < MiB, \
        f"still taking bytes after 1.2 s ({at_2} -> {at_3}): no back-pressure"
    assert max(rss_2, rss_3) < wslib.rss_limit_kb(20 * 1024), f"wstunnel RSS {rss_2}/{rss_3} kB"


def test_backpressure_client_stops_reading(raw_backend, activated, relay):
    pumps = []
    finished = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        pump = Pump(conn)
        pumps.append(pump)
        pump.run()              # in this thread
        finished.set()

    b = raw_backend(handler)
    s = activated([*relay, f"ws://127.0.0.1:{b.port}"])
    c, res = open_tunnel(s.port)
    with c:
        pid = only_child(s)
        assert wslib.wait_for(lambda: pumps, timeout=5)
        check_backpressure(pumps[0], pid)
        count, h = recv_hash(c, timeout=60, initial=res.rest)
    assert finished.wait(30)
    pump = pumps[0]
    assert pump.error is None, pump.error
    assert count == pump.sent, (count, pump.sent)
    assert h == pump.digest(), "bytes lost or reordered after back-pressure"
    line = activated_access(s)[0]
    assert line["down"] == str(pump.sent)


def test_backpressure_backend_stops_reading(raw_backend, activated, relay):
    resume = threading.Event()
    got = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        resume.wait(30)         # reads nothing until then
        got["data"] = recv_hash(conn, timeout=60, initial=rest)

    b = raw_backend(handler)
    s = activated([*relay, f"ws://127.0.0.1:{b.port}"])
    c, res = open_tunnel(s.port)
    with c:
        pid = only_child(s)
        pump = Pump(c)
        pump.start()
        try:
            check_backpressure(pump, pid)
        finally:
            pump.stop.set()
            resume.set()
        pump.join(30)
        assert not pump.is_alive()
        assert pump.error is None, pump.error
        assert wslib.wait_for(lambda: "data" in got, timeout=30)
        assert recv_until_eof(c, timeout=10, initial=res.rest) == b""
    assert got["data"] == (pump.sent, pump.digest()), \
        "bytes lost or reordered after back-pressure"
    line = activated_access(s)[0]
    assert line["up"] == str(pump.sent)


# ------------------------------------------------------------ half-close

def test_client_half_close_backend_replies(raw_backend, tmp_path, relay):
    res = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        data = recv_until_eof(conn, timeout=10, initial=rest)
        res["got"] = data
        conn.sendall(b"reply:" + digest(data).encode())

    b = raw_backend(handler)
    log = tmp_path / "w.log"
    t = Inetd([*relay, "--close-timeout", "3", f"ws://127.0.0.1:{b.port}"], log)
    try:
        c = t.client
        c.sendall(wslib.upgrade_request("/half"))
        head = read_head(c)
        assert head.status == 101
        payload = os.urandom(300_000)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = recv_until_eof(c, timeout=5, initial=head.rest)
        code = t.wait(5)
    finally:
        t.close()
    assert res.get("got") == payload, "backend did not get all bytes then EOF"
    assert got == b"reply:" + digest(payload).encode()
    assert code == 0, t.log()
    line = wait_access(t.log)[0]
    assert line["end"] == "client-closed", line
    assert line["up"] == str(len(payload)) and line["down"] == str(len(got)), line


def test_backend_half_close_client_still_sends(raw_backend, tmp_path, relay):
    payload = os.urandom(200_000)
    res = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        res["got"] = recv_until_eof(conn, timeout=10, initial=rest)

    b = raw_backend(handler)
    log = tmp_path / "w.log"
    t = Inetd([*relay, "--close-timeout", "3", f"ws://127.0.0.1:{b.port}"], log)
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        head = read_head(c)
        assert head.status == 101
        got = recv_until_eof(c, timeout=5, initial=head.rest)
        assert got == payload, "client did not get all bytes then EOF"
        c.sendall(b"after the backend's EOF")
        c.shutdown(socket.SHUT_WR)
        code = t.wait(5)
    finally:
        t.close()
    assert wslib.wait_for(lambda: "got" in res, timeout=5)
    assert res["got"] == b"after the backend's EOF"
    assert code == 0
    line = wait_access(t.log)[0]
    assert line["end"] == "backend-closed", line
    assert line["down"] == str(len(payload)), line
    assert line["up"] == str(len(b"after the backend's EOF")), line


def test_close_timeout_after_client_half_close(raw_backend, tmp_path):
    held = {}
    release = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        recv_until_eof(conn, timeout=10, initial=rest)
        held["eof_at"] = time.monotonic()
        held["conn"] = conn
        release.wait(15)            # neither sends nor closes

    b = raw_backend(handler)
    log = tmp_path / "w.log"
    t = Inetd(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"], log)
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        assert read_head(c).status == 101
        c.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        t.wait(1 + SLACK + 1)
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed <= 1 + SLACK, f"ended after {elapsed:.2f}s"
        assert wslib.wait_for(lambda: "conn" in held, timeout=2)
        assert held["eof_at"] - t0 < 0.5, "backend saw the client's EOF late"
        assert peer_gone(held["conn"], timeout=2), "backend connection left open"
        assert wait_closed(c, 2) is not None, "client connection left open"
    finally:
        release.set()
        t.close()
    line = wait_access(t.log)[0]
    assert line["end"] == "close-timeout", line


def test_close_timeout_after_backend_half_close(raw_backend, tmp_path):
    held = {}
    release = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        conn.shutdown(socket.SHUT_WR)
        held["conn"] = conn
        release.wait(15)

    b = raw_backend(handler)
    log = tmp_path / "w.log"
    t = Inetd(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"], log)
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        head = read_head(c)
        assert head.status == 101
        assert recv_until_eof(c, timeout=2, initial=head.rest) == b""
        t0 = time.monotonic()       # the client neither closes nor sends
        t.wait(1 + SLACK + 1)
        elapsed = time.monotonic() - t0
        assert elapsed <= 1 + SLACK, f"ended after {elapsed:.2f}s"
        assert peer_gone(c, timeout=2), "client connection left open"
        assert wait_closed(held["conn"], 2) is not None, "backend connection left open"
    finally:
        release.set()
        t.close()
    line = wait_access(t.log)[0]
    assert line["end"] == "close-timeout", line


def test_close_timeout_spares_a_drain_that_keeps_moving(raw_backend,
                                                        tmp_path, relay):
    """The backend sends its last bytes and ends; the client reads them
    slowly, every read well within --close-timeout but all of them over
    it.  What wstunnel read from the backend is delivered whole: the close
    timeout bounds the other direction, and a drain that stops moving."""
    payload = os.urandom(150_000)

    def handler(conn, head, rest):
        send_101(conn, head)
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        recv_until_eof(conn, timeout=30, initial=rest)

    b = raw_backend(handler)
    log = tmp_path / "w.log"
    # small fixed socket buffers toward the client, so that when wstunnel
    # reads the backend's end most of the payload is still in its own store
    t = Inetd(["--close-timeout", "1", *relay, f"ws://127.0.0.1:{b.port}"],
              log, server_sndbuf=4096, client_rcvbuf=4096)
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        head = read_head(c)
        assert head.status == 101
        got = bytearray(head.rest)
        c.settimeout(5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
        c.shutdown(socket.SHUT_WR)
        t.wait(1 + SLACK + 1)
    finally:
        t.close()
    assert len(got) == len(payload), f"{len(payload) - len(got)} bytes lost"
    assert bytes(got) == payload
    line = wait_access(t.log)[0]
    assert line["down"] == str(len(payload)), line


# ------------------------------------------------------------ idle timeout

def test_idle_timeout_ends_a_silent_tunnel(raw_backend, tmp_path):
    b = raw_backend()
    t = Inetd(["--idle-timeout", "1", f"ws://127.0.0.1:{b.port}"], tmp_path / "w.log")
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        assert read_head(c).status == 101
        t0 = time.monotonic()
        took = wait_closed(c, 1 + SLACK + 1)
        assert took is not None, "silent tunnel not ended by --idle-timeout 1"
        assert 0.8 <= time.monotonic() - t0 <= 1 + SLACK
        t.wait(5)
    finally:
        t.close()
    line = wait_access(t.log)[0]
    assert line["end"] == "idle-timeout", line
    assert 0.9 <= float(line["secs"]) <= 1 + SLACK, line


def test_idle_timeout_spares_a_busy_tunnel(raw_backend, tmp_path):
    b = raw_backend()
    t = Inetd(["--idle-timeout", "1", f"ws://127.0.0.1:{b.port}"], tmp_path / "w.log")
    try:
        c = t.client
        c.sendall(wslib.upgrade_request())
        assert read_head(c).status == 101
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 2.4:
            msg = b"tick%d" % i
            c.sendall(msg)
            assert recv_exact(c, len(msg), timeout=2) == msg
            i += 1
            time.sleep(0.3)
        assert time.monotonic() - t0 > 2.0
        assert t.proc.poll() is None, "busy tunnel ended"
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c, timeout=5) == b""
        assert t.wait(5) == 0
    finally:
        t.close()
    line = wait_access(t.log)[0]
    assert line["end"] == "client-closed", line


# ------------------------------------------------------------ small pipes

@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv (util-linux)")
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_small_pipes_fall_back_to_the_buffer(raw_backend, user):
    """Past fs.pipe-user-pages-soft an unprivileged user's new pipes hold 2
    pages, not 16; wstunnel then relays through its buffer rather than
    splice() 8 KiB at a time (root's pipes are never cut: the control)."""
    b, result, done = stream_backend(raw_backend, MiB)
    limit = "/proc/sys/fs/pipe-user-pages-soft"
    saved = open(limit).read()
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with open(limit, "w") as f:
        f.write("1")
    t = None
    try:
        t = Inetd(["--log", "stderr", "-v", f"ws://127.0.0.1:{b.port}"],
                  prefix=prefix if user == "nobody" else ())
        c = t.client
        c.sendall(wslib.upgrade_request())
        res = read_head(c)
        assert res.status == 101
        up = Sender(c, MiB, shut=True)
        up.start()
        count, h = recv_hash(c, timeout=30, initial=res.rest)
        up.join(30)
        assert t.wait(10) == 0
        err = t.stderr()
    finally:
        with open(limit, "w") as f:
            f.write(saved)
        if t is not None:
            t.close()
    assert done.wait(10)
    assert result["got"] == (MiB, up.digest()), "client->backend bytes differ"
    assert (count, h) == result["sent"], "backend->client bytes differ"
    how = "buffers" if user == "nobody" else "splice()"
    assert f"relay through {how}: 1048576 bytes up, 1048576 down" in err, err


# ------------------------------------------------------------ busy polling

def busy_tunnel(raw_backend, tmp_path, args):
    """An upgraded tunnel the inetd way with args, to an echoing backend."""
    b = raw_backend()
    t = Inetd([*args, f"ws://127.0.0.1:{b.port}"], tmp_path / "w.log")
    try:
        t.client.sendall(wslib.upgrade_request())
        assert read_head(t.client).status == 101
    except BaseException:
        t.close()
        raise
    return t


def echoed(c, msg):
    c.sendall(msg)
    assert recv_exact(c, len(msg), timeout=5) == msg


def test_busy_poll_spins_after_traffic_then_sleeps(raw_backend, tmp_path):
    """--busy-poll 600000: after a message the relay stays awake for 0.6 s,
    spending CPU, then sleeps and spends none; a message after that is
    relayed as ever."""
    t = busy_tunnel(raw_backend, tmp_path, ["--busy-poll", "600000"])
    try:
        c = t.client
        time.sleep(1.0)             # the window after the 101 has passed
        pid = t.proc.pid
        cpu0 = cpu_seconds(pid)
        time.sleep(0.5)
        quiet = cpu_seconds(pid) - cpu0
        echoed(c, b"tick")
        cpu0 = cpu_seconds(pid)
        time.sleep(0.4)
        busy = cpu_seconds(pid) - cpu0
        time.sleep(0.6)             # the window has ended
        cpu0 = cpu_seconds(pid)
        time.sleep(1.0)
        after = cpu_seconds(pid) - cpu0
        echoed(c, b"tock")
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c, timeout=5) == b""
        assert t.wait(5) == 0
    finally:
        t.close()
    assert quiet < 0.05, f"{quiet:.2f} s of CPU while the tunnel was quiet"
    assert busy >= 0.1, f"only {busy:.2f} s of CPU in 0.4 s of busy polling"
    assert after < 0.05, f"{after:.2f} s of CPU after the window ended"
    line = wait_access(t.log)[0]
    assert line["end"] == "client-closed", line
    assert (line["up"], line["down"]) == ("8", "8"), line


def test_busy_poll_keeps_the_idle_timeout(raw_backend, tmp_path):
    """A window of busy polling longer than --idle-timeout does not delay
    it."""
    t = busy_tunnel(raw_backend, tmp_path,
                    ["--busy-poll", "1000000", "--idle-timeout", "0.2"])
    try:
        echoed(t.client, b"tick")
        t.wait(1 + SLACK)
    finally:
        t.close()
    line = wait_access(t.log)[0]
    assert line["end"] == "idle-timeout", line
    # 1 s, the end of the window, if the window ignored the timer
    assert 0.15 <= float(line["secs"]) <= 0.8, line


def test_busy_poll_sigterm_while_spinning(raw_backend, tmp_path):
    t = busy_tunnel(raw_backend, tmp_path, ["--busy-poll", "1000000"])
    try:
        echoed(t.client, b"tick")
        t0 = time.monotonic()
        t.proc.send_signal(signal.SIGTERM)
        t.wait(5)
        took = time.monotonic() - t0
    finally:
        t.close()
    assert took < 0.5, f"SIGTERM took {took:.2f} s while busy polling"
    line = wait_access(t.log)[0]
    assert line["end"] == "signal", line


# ------------------------------------------------------------ dead and reset peers

ORPHAN_CLIENT = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[2])
import wslib
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(wslib.upgrade_request("/orphan"))
r = wslib.Response(wslib.read_until(s, timeout=10))
if r.status != 101:
    print("status", r.status, flush=True)
    sys.exit(1)
s.sendall(b"hello")
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("backend", ["holds", "closes", "streams"])
def test_orphaned_connection_client_killed(raw_backend, activated, backend):
    state = {}
    release = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        data = rest
        while b"hello" not in data:
            more = conn.recv(100)
            if not more:
                break
            data += more
        state["hello"] = data
        if backend == "streams":    # until the dead client's end shows
            pump = Pump(conn, shut=False, limit_s=15)
            pump.run()
            state["closed_at"] = time.monotonic() if pump.error else None
            return
        took = wait_closed(conn, 15)
        state["closed_at"] = time.monotonic() if took is not None else None
        if backend == "holds":
            state["conn"] = conn
            release.wait(15)

    b = raw_backend(handler)
    s = activated(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    client = subprocess.Popen([wslib.PYTHON, "-c", ORPHAN_CLIENT, str(s.port),
                               os.path.dirname(wslib.__file__)],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = client.stdout.readline()
        assert line.strip() == "ready", line
        assert wslib.wait_for(lambda: "hello" in state, timeout=5)
        pid = only_child(s)
        client.kill()
        client.wait(5)
        t0 = time.monotonic()
        assert wslib.wait_for(lambda: "closed_at" in state, timeout=1 + SLACK)
        assert state["closed_at"] is not None
        assert state["closed_at"] - t0 <= 1 + SLACK, "backend not told"
        gone = wslib.wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                              pid not in s.children(), timeout=1 + SLACK)
        assert gone, f"wstunnel {pid} outlived its client by {time.monotonic() - t0:.1f}s"
        assert s.children() == []
        if backend == "holds":
            assert peer_gone(state["conn"], timeout=2), "backend connection left open"
    finally:
        release.set()
        if client.poll() is None:
            client.kill()
            client.wait()
    line = activated_access(s)[0]
    assert line["status"] == "101" and line["up"] == "5", line
    if backend == "streams":
        assert line["end"] == "client-error", line


@pytest.mark.parametrize("how", ["reset", "closed", "half-closed"])
def test_client_gone_before_the_backend_answers(raw_backend, activated, how):
    """The client leaves while the backend takes its time to answer: the
    backend connection is closed within --close-timeout, not held for the
    whole --handshake-timeout.  A client that only half-closed still gets
    an answer that comes within the close timeout."""
    state = {}
    release = threading.Event()

    def handler(conn, head, rest):
        state["conn"] = conn
        if how == "half-closed":
            time.sleep(0.5)
            send_101(conn, head)
        release.wait(15)

    b = raw_backend(handler)
    s = activated(["--close-timeout", "1", "--handshake-timeout", "10",
                   f"ws://127.0.0.1:{b.port}"])
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        c.sendall(wslib.upgrade_request("/slow"))
        assert wslib.wait_for(lambda: "conn" in state, timeout=5)
        t0 = time.monotonic()
        if how == "reset":
            linger0(c)
        if how == "half-closed":
            c.shutdown(socket.SHUT_WR)
            assert read_head(c).status == 101
        else:
            c.close()
        # (the backend must not write: any byte would be its answer)
        assert wait_closed(state["conn"], 1 + SLACK + 1) is not None, \
            "backend connection held for a client that has gone"
        assert time.monotonic() - t0 <= 1 + SLACK, "backend held too long"
    finally:
        release.set()
        c.close()
    line = activated_access(s)[0]
    assert line["status"] == ("101" if how == "half-closed" else "504"), line


def test_process_title_names_client_and_backend(raw_backend, activated):
    """ps shows which client each wstunnel serves, and through which
    backend (setproctitle)."""
    b = raw_backend()
    s = activated([f"ws://127.0.0.1:{b.port}"])
    c, _ = open_tunnel(s.port)
    with c:
        pid = only_child(s)
        title = open(f"/proc/{pid}/cmdline", "rb").read()
        cport = c.getsockname()[1]
    title = title.rstrip(b"\0").decode()
    assert title == f"wstunnel: 127.0.0.1:{cport} -> 127.0.0.1:{b.port}", title


def test_client_reset_mid_tunnel(raw_backend, activated):
    state = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        data = rest
        while b"ping" not in data:
            data += conn.recv(100)
        conn.sendall(b"pong")
        took = wait_closed(conn, 10)
        state["closed"] = took
        state["at"] = time.monotonic()

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])     # close-timeout 5
    c, res = open_tunnel(s.port)
    c.sendall(b"ping")
    assert recv_exact(c, 4) == b"pong"
    linger0(c)
    c.close()
    t0 = time.monotonic()
    assert wslib.wait_for(lambda: "at" in state, timeout=3)
    assert state["closed"] is not None, "backend connection left open"
    assert state["at"] - t0 < 1.0, "backend connection not closed promptly"
    assert wslib.wait_for(lambda: s.children() == [], timeout=2)
    line = activated_access(s)[0]
    assert line["end"] == "client-error", line


def test_backend_reset_mid_tunnel(raw_backend, activated):
    def handler(conn, head, rest):
        send_101(conn, head)
        data = rest
        while b"ping" not in data:
            data += conn.recv(100)
        conn.sendall(b"pong")
        time.sleep(0.2)
        linger0(conn)
        conn.close()

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])     # close-timeout 5
    c, res = open_tunnel(s.port)
    with c:
        c.sendall(b"ping")
        assert recv_exact(c, 4) == b"pong"
        t0 = time.monotonic()
        took = wait_closed(c, 3)
        assert took is not None, "client connection left open"
        assert time.monotonic() - t0 < 1.2, "client connection not closed promptly"
    assert wslib.wait_for(lambda: s.children() == [], timeout=2)
    line = activated_access(s)[0]
    assert line["end"] == "backend-error", line


def kill_leftovers(s):
    """After a failed check: ends wstunnel children still running, so the
    fixture's teardown does not wait for them."""
    for pid in s.children():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_client_reset_while_backend_not_reading(raw_backend, activated, relay):
    """Back-pressure holds the client->backend direction (the backend reads
    nothing) when the client resets: the reset still ends the session at
    once and the backend connection is closed (the orphan problem)."""
    st = {}
    release = threading.Event()

    def handler(conn, head, rest):
        send_101(conn, head)
        st["conn"] = conn
        release.wait(15)        # reads nothing

    b = raw_backend(handler)
    s = activated([*relay, "--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c, _ = open_tunnel(s.port)
    try:
        pump = Pump(c, shut=False)
        pump.start()
        assert wslib.wait_for(lambda: pump.sent > MiB, timeout=5)
        time.sleep(0.5)         # until the buffers on the way are full
        pump.stop.set()
        pump.join(5)
        assert "conn" in st
        linger0(c)
        c.close()
        t0 = time.monotonic()
        gone = wslib.wait_for(lambda: s.children() == [], timeout=1 + SLACK)
        assert gone, "client reset not noticed while the backend does not read; " \
            "wstunnel and its backend connection stay"
        assert time.monotonic() - t0 <= 1 + SLACK
        assert peer_gone(st["conn"], timeout=2), "backend connection left open"
    finally:
        kill_leftovers(s)
        release.set()
    line = activated_access(s)[0]
    assert line["end"] == "client-error", line


def test_backend_reset_while_client_not_reading(raw_backend, activated, relay):
    """The mirror image: the client reads nothing, the backend resets."""
    st = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        pump = Pump(conn, shut=False)
        pump.start()
        wslib.wait_for(lambda: pump.sent > MiB, timeout=5)
        time.sleep(0.5)
        pump.stop.set()
        pump.join(5)
        linger0(conn)
        conn.close()
        st["reset_at"] = time.monotonic()

    b = raw_backend(handler)
    s = activated([*relay, "--close-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    c, _ = open_tunnel(s.port)
    try:
        assert wslib.wait_for(lambda: "reset_at" in st, timeout=10)
        gone = wslib.wait_for(lambda: s.children() == [], timeout=1 + SLACK)
        assert gone, "backend reset not noticed while the client does not read"
    finally:
        kill_leftovers(s)
        c.close()
    line = activated_access(s)[0]
    assert line["end"] == "backend-error", line


def test_sigterm_mid_tunnel(raw_backend, activated):
    state = {}

    def handler(conn, head, rest):
        send_101(conn, head)
        data = rest
        while b"ping" not in data:
            data += conn.recv(100)
        conn.sendall(b"pong")
        state["closed"] = wait_closed(conn, 10)

    b = raw_backend(handler)
    s = activated([f"ws://127.0.0.1:{b.port}"])
    c, res = open_tunnel(s.port)
    with c:
        c.sendall(b"ping")
        assert recv_exact(c, 4) == b"pong"
        pid = only_child(s)
        os.kill(pid, signal.SIGTERM)
        assert wait_closed(c, 3) is not None, "client connection left open"
    assert wslib.wait_for(lambda: "closed" in state, timeout=3)
    assert state["closed"] is not None, "backend connection left open"
    assert wslib.wait_for(lambda: s.children() == [], timeout=3)
    line = activated_access(s)[0]
    assert line["end"] == "signal", line
    assert line["status"] == "101"


def test_keepalive_on_client_and_backend_sockets(raw_backend, activated):
    b = raw_backend()
    s = activated([f"ws://127.0.0.1:{b.port}"])
    c, _ = open_tunnel(s.port)
    with c:
        pid = only_child(s)
        out = subprocess.run(["ss", "-tnoHp", "state", "established"],
                             capture_output=True, text=True, timeout=10).stdout
        mine = [l for l in out.splitlines() if f"pid={pid}," in l]
        assert len(mine) == 2, out
        for l in mine:
            assert "keepalive" in l, f"no TCP keepalive on wstunnel's socket: {l}"


# ------------------------------------------------------------ exit status and counts

def test_exit_status_0_after_normal_tunnel_pipe_mode(raw_backend):
    b = raw_backend()
    out, err, code = wslib.run_pipe(["--close-timeout", "2", f"ws://127.0.0.1:{b.port}"],
                                    wslib.upgrade_request() + b"echo me")
    res = wslib.Response(out)
    assert res.status == 101 and res.rest == b"echo me", out
    assert code == 0, err


@pytest.mark.parametrize("kind", ["refused", "backend-down"])
def test_exit_status_1_after_refusal(raw_backend, kind):
    b = raw_backend()
    if kind == "refused":
        url = f"ws://127.0.0.1:{b.port}"
        req = wslib.upgrade_request().replace(b"GET ", b"POST ", 1)
        want = 405
    else:
        url = f"ws://127.0.0.1:{wslib.free_port()}"
        req = wslib.upgrade_request()
        want = 502
    out, err, code = wslib.run_pipe([url], req)
    assert wslib.Response(out).status == want, out
    assert code == 1, err
    if kind == "refused":
        assert b.connections == 0


def test_access_line_counts_payload_after_heads(raw_backend):
    early_down = os.urandom(777)
    late_down = os.urandom(2000)
    up = os.urandom(1000)
    res = {}

    def handler(conn, head, rest):
        send_101(conn, head, extra_after=early_down)     # in the same write
        res["got"] = recv_until_eof(conn, timeout=10, initial=rest)
        conn.sendall(late_down)

    b = raw_backend(handler)
    out, err, code = wslib.run_pipe(["--close-timeout", "3", f"ws://127.0.0.1:{b.port}"],
                                    wslib.upgrade_request() + up)   # one write
    r = wslib.Response(out)
    assert r.status == 101
    assert r.rest == early_down + late_down
    assert res["got"] == up
    assert code == 0, err
    line = wait_access(lambda: err, 1, timeout=1)[0]
    assert (line["up"], line["down"]) == ("1000", "2777"), line


def test_pipe_mode_stdin_closed_at_once(echo_backend):
    b = echo_backend(greeting="greetings, pipe")
    t0 = time.monotonic()
    out, err, code = wslib.run_pipe(["--close-timeout", "1", f"ws://127.0.0.1:{b.port}/x"],
                                    wslib.upgrade_request("/p"), timeout=1 + SLACK + 3)
    elapsed = time.monotonic() - t0
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    frames, _ = wslib.parse_frames(res.rest)
    assert (0x1, b"greetings, pipe") in frames, res.rest
    assert elapsed <= 1 + SLACK, f"took {elapsed:.2f}s with --close-timeout 1"
    assert code == 0, err


# ------------------------------------------------------------ fd 0, 1 and 2 one socket

@pytest.mark.parametrize("kind", ["tcp", "socketpair"])
def test_inetd_fd2_is_client_tunnel_gets_only_protocol(raw_backend, kind):
    b = raw_backend()
    t = Inetd(["--log", "stderr", "-v", f"ws://127.0.0.1:{b.port}"],
              kind=kind, same_stderr=True)
    try:
        c = t.client
        c.settimeout(10)
        c.sendall(wslib.upgrade_request())
        head = read_head(c)
        assert head.status == 101
        payload = os.urandom(50_000)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        rest = recv_until_eof(c, timeout=10, initial=head.rest)
        code = t.wait(10)
    finally:
        t.close()
    assert rest == payload, "bytes other than the echoed payload reached the client"
    assert b"wstunnel" not in head.status_line.encode() + rest
    assert code == 0


@pytest.mark.parametrize("kind", ["tcp", "socketpair"])
def test_inetd_fd2_is_client_refusal_gets_only_response(raw_backend, kind):
    b = raw_backend()
    t = Inetd(["--log", "stderr", "-v", f"ws://127.0.0.1:{b.port}"],
              kind=kind, same_stderr=True)
    try:
        c = t.client
        req = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" \
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
        c.sendall(req)
        data = recv_until_eof(c, timeout=10)
        c.shutdown(socket.SHUT_WR)      # ends wstunnel's lingering close
        code = t.wait(10)
    finally:
        t.close()
    res = wslib.Response(data)
    assert res.status == 400, data
    n = res.get("Content-Length")
    assert n is not None, data
    assert res.rest == res.rest[:int(n)], f"bytes after the response: {data!r}"
    assert b"wstunnel[" not in data
    assert code == 1
    assert b.connections == 0


@pytest.mark.parametrize("kind", ["tcp", "socketpair"])
@pytest.mark.parametrize("args", [["--no-such-option", "ws://127.0.0.1:1"],
                                  ["--log", "stderr", "--no-such-option", "ws://127.0.0.1:1"],
                                  ["--log", "stderr", "http://not-ws"]],
                         ids=["unknown-option", "unknown-option-log-stderr", "bad-url"])
def test_inetd_fd2_is_client_usage_error_writes_nothing(kind, args):
    t = Inetd(args, kind=kind, same_stderr=True)
    try:
        code = t.wait(5)
        data = recv_until_eof(t.client, timeout=5)
    finally:
        t.close()
    assert data == b"", f"usage error leaked to the client: {data!r}"
    assert code == 64
