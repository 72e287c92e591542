"""The tunnel that follows the WebSocket it carries (--ws-ping,
--ws-pong-timeout, --max-message-bytes): dead peers found by wstunnel's own
Pings, real Close frames when wstunnel ends a session, protocol errors and
oversized messages, and what the session did written in the access line.
Real peers: python3-websockets clients and servers, raw sockets for what a
library will not send."""
import asyncio
import hashlib
import json
import os
import signal
import struct
import subprocess
import threading
import time

import pytest
import websockets

import wslib
from helpers_rb import build_request, field

SLACK = 2.0


def access(s):
    assert wslib.wait_for(lambda: s.access_lines(), timeout=10), s.log()
    return s.access_lines()[0]


class Lines:
    """A process's stdout, line by line, in a thread."""

    def __init__(self, proc):
        self.lines = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line.strip())

    def wait(self, pred, timeout):
        ok = wslib.wait_for(lambda: any(pred(l) for l in self.lines),
                            timeout=timeout)
        return ok and next(l for l in self.lines if pred(l))


def closes(lines):
    return [json.loads(l) for l in lines if l.startswith('{"close"')]


def test_messages_intact_with_pings_between_fragments(echo_backend,
                                                      activated):
    """Fragmented messages of several MiB both ways, hash-checked, while
    wstunnel pings both sides every 0.2 s; permessage-deflate end to end."""
    e = echo_backend(deflate=True)
    s = activated(["--ws-ping", "0.2", "--max-message-bytes", "33554432",
                   f"ws://127.0.0.1:{e.port}"])

    def pieces(seed, n, size):
        return [hashlib.sha256(f"{seed}{i}".encode()).digest() * (size // 32)
                for i in range(n)]

    async def talk():
        async with websockets.connect(
                f"ws://127.0.0.1:{s.port}/", max_size=None,
                ping_interval=None, compression="deflate") as ws:
            assert ws.extensions
            for k in range(3):
                parts = pieces(k, 40, 65536)
                await ws.send(parts)
                got = await asyncio.wait_for(ws.recv(), 20)
                assert hashlib.sha256(got).digest() == \
                    hashlib.sha256(b"".join(parts)).digest()
                await asyncio.sleep(0.5)    # pings go out meanwhile
            await ws.send("text " * 1000)
            assert await asyncio.wait_for(ws.recv(), 10) == "text " * 1000
    asyncio.run(talk())
    line = access(s)
    assert field(line, "status") == "101"
    assert field(line, "msgs_up") == "4" and field(line, "msgs_down") == "4"
    assert int(field(line, "rtt_client")) >= 0, line
    assert int(field(line, "rtt_backend")) >= 0, line
    assert field(line, "ws_close") == "client:1000", line


def test_quiet_live_session_survives_many_ping_intervals(echo_backend,
                                                         activated):
    e = echo_backend()
    s = activated(["--ws-ping", "0.2", "--ws-pong-timeout", "0.5",
                   f"ws://127.0.0.1:{e.port}"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/",
                                      ping_interval=None) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            await asyncio.sleep(3)      # 15 ping intervals
            await ws.send("after")
            assert await asyncio.wait_for(ws.recv(), 5) == "after"
    asyncio.run(talk())
    assert field(access(s), "end") == "client-closed"


def test_stopped_client_found_dead_backend_gets_1001(echo_backend,
                                                     activated):
    e = echo_backend(report_close=True)
    out = Lines(e.proc)
    s = activated(["--ws-ping", "0.5", "--ws-pong-timeout", "1",
                   f"ws://127.0.0.1:{e.port}"])
    c = subprocess.Popen([wslib.PYTHON, str(wslib.PEERS / "ws_client.py"),
                          f"ws://127.0.0.1:{s.port}/"],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert c.stdout.readline().strip() == "hello"
        os.kill(c.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        assert out.wait(lambda l: l.startswith('{"close"'), 1.5 + SLACK + 3)
        took = time.monotonic() - t0
        assert closes(out.lines)[0]["close"] == 1001, out.lines
        assert took < 1.5 + SLACK, took
    finally:
        c.kill()
        c.wait()
    line = access(s)
    assert field(line, "end") == "client-unresponsive", line


def test_stopped_backend_found_dead_client_gets_1001(echo_backend,
                                                     activated):
    e = echo_backend()
    s = activated(["--ws-ping", "0.5", "--ws-pong-timeout", "1",
                   f"ws://127.0.0.1:{e.port}"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/",
                                      ping_interval=None) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
            os.kill(e.proc.pid, signal.SIGSTOP)
            t0 = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 1.5 + SLACK + 3)
            return ws.close_code, ws.close_reason, time.monotonic() - t0
    try:
        code, reason, took = asyncio.run(talk())
    finally:
        os.kill(e.proc.pid, signal.SIGCONT)
    assert code == 1001, (code, reason)
    assert "backend-unresponsive" in reason
    assert took < 1.5 + SLACK, took
    assert field(access(s), "end") == "backend-unresponsive"


def raw_frame(payload, opcode=0x2, mask=True, fin=True, rsv=0):
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def parse_frames(data, masked):
    """[(opcode, payload)] of a byte stream; payloads unmasked."""
    out = []
    while len(data) >= 2:
        op, n = data[0] & 0x0f, data[1] & 0x7f
        i = 2
        if n == 126:
            n, i = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            n, i = struct.unpack("!Q", data[2:10])[0], 10
        key = b""
        if data[1] & 0x80:
            key, i = data[i:i + 4], i + 4
        assert bool(key) == masked, "masking of wstunnel's frame"
        p = data[i:i + n]
        if key:
            p = bytes(b ^ key[j % 4] for j, b in enumerate(p))
        out.append((op, p))
        data = data[i + n:]
    return out


class Recorder:
    """A RawBackend handler: a valid 101, then records what arrives."""

    def __init__(self, answer=b""):
        self.got = []
        self.answer = answer

    def __call__(self, conn, head, rest):
        wslib.switch_101(conn, head, b"", then_echo=False)
        if self.answer:
            conn.sendall(self.answer)
        data = rest
        conn.settimeout(10)
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except OSError:
            pass
        self.got.append(data)


PROTOCOL_ERRORS = [
    ("unmasked client frame", raw_frame(b"hi", mask=False), 1002),
    ("reserved bit", raw_frame(b"hi", rsv=4), 1002),
    ("unknown opcode", raw_frame(b"hi", opcode=0x3), 1002),
    ("control frame over 125", raw_frame(b"p" * 126, opcode=0x9), 1002),
    ("fragmented control frame", raw_frame(b"p", opcode=0x9, fin=False),
     1002),
    ("message over the limit", raw_frame(b"x" * 101), 1009),
    # the first fragment is within the limit and goes on; the second not
    ("fragments over the limit", raw_frame(b"x" * 60, fin=False) +
     raw_frame(b"x" * 60, opcode=0x0), 1009),
]


@pytest.mark.parametrize("name,bad,code", PROTOCOL_ERRORS,
                         ids=[p[0] for p in PROTOCOL_ERRORS])
def test_client_protocol_error_closes_both_sides(raw_backend, name, bad,
                                                 code):
    rec = Recorder()
    b = raw_backend(rec)
    good = raw_frame(b"good")
    out, err, rc = wslib.run_pipe(
        ["--max-message-bytes", "100", f"ws://127.0.0.1:{b.port}"],
        build_request() + good + bad + raw_frame(b"never"))
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert parse_frames(res.rest, masked=False) == \
        [(0x8, struct.pack("!H", code) +
          parse_frames(res.rest, masked=False)[0][1][2:])], res.rest
    assert wslib.wait_for(lambda: rec.got, timeout=5)
    frames = parse_frames(rec.got[0], masked=True)
    passed = [(0x2, b"good")]
    if name.startswith("fragments"):
        passed.append((0x2, b"x" * 60))
    assert frames[:-1] == passed, "bytes after the broken frame went on"
    assert frames[-1][0] == 0x8 and frames[-1][1][:2] == \
        struct.pack("!H", code), frames
    end = "message-too-big" if code == 1009 else "protocol-error"
    lines = [l for l in err.splitlines() if " client=" in l]
    assert field(lines[0], "end") == end, err
    assert rc == 1


def test_masked_backend_frame_is_a_protocol_error(raw_backend):
    rec = Recorder(answer=raw_frame(b"from a server", mask=True))
    b = raw_backend(rec)
    r, w = os.pipe()        # the client's side stays open throughout
    os.write(w, build_request())
    try:
        p = subprocess.run(wslib.command(["--log", "stderr", "--ws-ping", "5",
                                          f"ws://127.0.0.1:{b.port}"]),
                           stdin=r, capture_output=True, timeout=10)
    finally:
        os.close(r)
        os.close(w)
    out = p.stdout
    res = wslib.Response(out)
    assert res.status == 101
    frames = parse_frames(res.rest, masked=False)
    assert frames and frames[0][0] == 0x8 and \
        frames[0][1][:2] == struct.pack("!H", 1002), res.rest
    assert b"from a server" not in res.rest
    assert wslib.wait_for(lambda: rec.got, timeout=5)
    assert parse_frames(rec.got[0], masked=True)[0][1][:2] == \
        struct.pack("!H", 1002)


@pytest.mark.parametrize("why,args", [
    ("idle-timeout", ["--idle-timeout", "0.5"]),
    ("signal", []),
])
def test_wstunnel_own_end_sends_close_frames(echo_backend, activated, why,
                                            args):
    e = echo_backend(report_close=True)
    out = Lines(e.proc)
    s = activated(["--max-message-bytes", "1000000", *args,
                   f"ws://127.0.0.1:{e.port}"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/",
                                      ping_interval=None) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
            if why == "signal":
                assert wslib.wait_for(lambda: s.children(), timeout=5)
                for pid in s.children():
                    os.kill(pid, signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code, ws.close_reason
    code, reason = asyncio.run(talk())
    assert (code, reason) == (1001, why)
    assert out.wait(lambda l: l.startswith('{"close"'), 5)
    assert closes(out.lines)[0] == {"close": 1001, "reason": why}
    assert field(access(s), "end") == why


def test_close_answered_ends_without_the_close_timeout(echo_backend,
                                                      activated):
    """A client's Close answered by the backend ends the session then, even
    while the backend keeps its TCP connection open."""
    e = echo_backend()
    s = activated(["--ws-ping", "30", "--close-timeout", "20",
                   f"ws://127.0.0.1:{e.port}"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/") as ws:
            await ws.send("x")
            await ws.recv()
            await ws.close(4000, "done here")
    t0 = time.monotonic()
    asyncio.run(talk())
    assert wslib.wait_for(lambda: s.access_lines(), timeout=5)
    assert time.monotonic() - t0 < 5
    line = access(s)
    assert field(line, "ws_close") == "client:4000"
    assert field(line, "ws_reason") == '"done' or 'ws_reason="done here"' \
        in line, line


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    import helpers_tls
    return helpers_tls.make_pki(tmp_path_factory.mktemp("pki"))


def test_tracking_with_tls_on_both_sides(pki, echo_backend, activated):
    """Frames followed through TLS records both ways: Pings written between
    the frames of multi-MiB messages, whatever SSL_write had pending."""
    import helpers_tls as H
    e = echo_backend(tls=pki.server)
    s = activated(["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
                   "--backend-ca", pki.ca, "--ws-ping", "0.1",
                   f"wss://localhost:{e.port}"])

    async def talk():
        async with websockets.connect(
                f"wss://127.0.0.1:{s.port}/", ssl=H.client_context(pki.ca),
                server_hostname="localhost", max_size=None,
                ping_interval=None) as ws:
            for k in range(4):
                parts = [os.urandom(50000) for _ in range(30)]
                await ws.send(parts)
                got = await asyncio.wait_for(ws.recv(), 30)
                assert got == b"".join(parts)
                await asyncio.sleep(0.3)
    asyncio.run(talk())
    line = access(s)
    assert field(line, "msgs_up") == "4", line
    assert int(field(line, "rtt_client")) >= 0 and \
        int(field(line, "rtt_backend")) >= 0, line


def test_close_timeout_sends_close_to_the_side_still_open(raw_backend):
    """The client ends its stream without a Close; the backend, silent,
    keeps its side open: when --close-timeout ends the session, the client
    (still reading) gets a Close 1001 first."""
    def silent(conn, head, rest):
        wslib.switch_101(conn, head, b"", then_echo=False)
        conn.settimeout(10)
        try:
            while conn.recv(65536):
                pass
            time.sleep(8)       # stays open after the client's end
        except OSError:
            pass
    b = raw_backend(silent)
    out, err, rc = wslib.run_pipe(
        ["--max-message-bytes", "1000", "--close-timeout", "0.5",
         f"ws://127.0.0.1:{b.port}"], build_request() + raw_frame(b"hi"),
        timeout=10)
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    frames = parse_frames(res.rest, masked=False)
    assert frames == [(0x8, struct.pack("!H", 1001) + b"close-timeout")], \
        res.rest
    lines = [l for l in err.splitlines() if " client=" in l]
    assert field(lines[0], "end") == "close-timeout", err
