"""--http and --http-route: plain HTTP requests through the same routes as
the WebSocket (issue 11).  Raw sockets on both sides: every test asserts
the bytes the backend received (or that no backend connection happened)
and what the client got back, through the real binary."""
import hashlib
import os
import socket
import threading
import time

import pytest

import wslib
from helpers_http import (HTTPBackend, access_lines, fields, ok, read_body,
                          read_response, request)
from wslib import run_pipe


@pytest.fixture
def http_backend():
    made = []

    def make(respond=None, **kw):
        b = HTTPBackend(respond, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


def url(b, path="/"):
    return f"ws://127.0.0.1:{b.port}{path}"


# ------------------------------------------------ without the option: 426

def test_without_http_a_plain_request_is_still_426(http_backend):
    b = http_backend()
    out, err, rc = run_pipe([url(b)], request("GET", "/"))
    assert out.startswith(b"HTTP/1.1 426 ")
    assert b"Upgrade: websocket\r\n" in out
    assert rc == 1 and b.connections == 0


def test_http_route_leaves_other_routes_as_they_were(http_backend):
    b = http_backend()
    args = ["--http-route", "/app", f"/app={url(b)}", f"/ws={url(b)}"]
    out, err, rc = run_pipe(args, request("GET", "/ws/x"))
    assert out.startswith(b"HTTP/1.1 426 ") and b.connections == 0
    out, err, rc = run_pipe(args, request("POST", "/ws/x", body=b"a"))
    assert out.startswith(b"HTTP/1.1 405 ") and b"Allow: GET\r\n" in out
    out, err, rc = run_pipe(args, request("GET", "/app/x"))
    assert out.startswith(b"HTTP/1.1 200 ") and b.connections == 1
    assert rc == 0


def test_http_route_must_name_a_route(http_backend):
    out, err, rc = run_pipe(["--http-route", "/nope", "/app=ws://127.0.0.1:1"],
                            b"")
    assert rc == 64 and "--http-route /nope: no such route" in err
    assert out == b""


# ------------------------------------------------ the request as forwarded

def test_request_mapped_and_rewritten(http_backend):
    b = http_backend()
    req = request("GET", "/app/a/b?x=1", extra=(
        "Connection: keep-alive, X-Hop", "X-Hop: secret", "Keep-Alive: 5",
        "Proxy-Connection: keep-alive", "TE: trailers", "Upgrade: h2c",
        "Cookie: c=1", "X-Forwarded-For: 192.0.2.1", "Connection: close"))
    out, err, rc = run_pipe(["--http", f"/app={url(b, '/base')}"], req)
    assert rc == 0, err
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b.request_line() == "GET /base/a/b?x=1 HTTP/1.1"
    assert b.header("Host") == [f"127.0.0.1:{b.port}"]
    for gone in ("X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade",
                 "Expect", "Content-Length", "Transfer-Encoding"):
        assert b.header(gone) == [], gone
    assert b.header("Connection") == ["close"]
    assert b.header("Cookie") == ["c=1"]
    assert b.header("X-Forwarded-For") == ["192.0.2.1, unknown"]
    assert b.header("X-Forwarded-Proto") == ["http"]
    assert b.header("X-Forwarded-Host") == ["front.test"]
    assert wslib.wait_for(lambda: b.received == [b""], timeout=5)


def test_preserve_host(http_backend):
    b = http_backend()
    run_pipe(["--http", "--preserve-host", url(b)], request("GET", "/x"))
    assert b.header("Host") == ["front.test"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE",
                                    "OPTIONS", "PATCH"])
def test_methods_pass(http_backend, method):
    b = http_backend(lambda h, body: ok(b"done"))
    body = b"payload" if method in ("POST", "PUT", "PATCH") else None
    out, err, rc = run_pipe(["--http", url(b)], request(method, "/m",
                                                        body=body))
    assert b.request_line() == f"{method} /m HTTP/1.1"
    assert b.bodies == [body or b""]
    assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out
    assert out.endswith(b"\r\n\r\n" if method == "HEAD" else b"done")
    line = fields(access_lines(err)[0])
    assert line["method"] == method and line["status"] == "200"
    assert line["path"] == "/m" and rc == 0


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "get"])
def test_other_methods_405(http_backend, method):
    b = http_backend()
    out, err, rc = run_pipe(["--http", url(b)], request(method, "/"))
    assert out.startswith(b"HTTP/1.1 405 ")
    assert (b"Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"
            in out)
    assert rc == 1 and b.connections == 0


def test_chunked_body_is_reframed(http_backend):
    b = http_backend()
    body = (b"5;ext=1\r\nhello\r\n1;a=\"q\"\r\n \r\n5\r\nworld\r\n"
            b"0\r\nX-Trailer: t\r\n\r\n")
    req = request("POST", "/c", extra=("Transfer-Encoding: chunked",)) + body
    out, err, rc = run_pipe(["--http", url(b)], req)
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b.header("Transfer-Encoding") == ["chunked"]
    assert b.bodies == [b"hello world"]
    # no extension, no trailer, nothing of the client's framing
    assert b"ext" not in b.framed[0] and b"X-Trailer" not in b.framed[0]
    assert b.framed[0].endswith(b"0\r\n\r\n")
    assert fields(access_lines(err)[0])["up"] == "11"


def test_expect_100_continue(http_backend):
    b = http_backend()
    p = wslib.subprocess.Popen(wslib.command(["--log", "stderr", "--http",
                                              url(b)]),
                               stdin=wslib.subprocess.PIPE,
                               stdout=wslib.subprocess.PIPE,
                               stderr=wslib.subprocess.PIPE)
    try:
        p.stdin.write(b"PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      b"Expect: 100-continue\r\n\r\n")
        p.stdin.flush()
        got = os.read(p.stdout.fileno(), 100)
        assert got == b"HTTP/1.1 100 Continue\r\n\r\n"
        p.stdin.write(b"abc")
        p.stdin.close()
        p.stdin = None
        out, err = p.communicate(timeout=10)
    finally:
        p.kill()
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b.bodies == [b"abc"] and b.header("Expect") == []


def test_unknown_expectation_417(http_backend):
    b = http_backend()
    out, err, rc = run_pipe(["--http", url(b)], request(
        "POST", "/", body=b"x", extra=("Expect: something-else",)))
    assert out.startswith(b"HTTP/1.1 417 ") and b.connections == 0


# ------------------------------------------------ smuggling

SMUGGLE = {
    "cl-te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
             b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
    "te-cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
    "cl-cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
             b"Content-Length: 40\r\n\r\nhelloGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
    "cl-list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl-sign": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    "te-obs-fold": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n"
                   b" chunked\r\n\r\n0\r\n\r\n",
    "te-space-colon": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : "
                      b"chunked\r\n\r\n0\r\n\r\n",
    "te-chunked-gzip": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                       b"chunked, gzip\r\n\r\n0\r\n\r\n",
    "te-gzip-chunked": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                       b"gzip, chunked\r\n\r\n0\r\n\r\n",
    "te-identity": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                   b"identity\r\n\r\n",
    "te-te": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: x\r\n\r\n0\r\n\r\n",
    "chunk-size-overflow": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           b"chunked\r\n\r\nffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    "chunk-size-bws": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                      b"chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
    "chunk-ext-bad": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                     b"chunked\r\n\r\n3;a=\"b\r\nabc\r\n0\r\n\r\n",
    "chunk-bare-lf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                     b"chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    "hidden-in-bad-chunk": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                           b"chunked\r\n\r\n0x0\r\n\r\nGET /admin HTTP/1.1\r\n"
                           b"Host: a\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLE))
def test_smuggling_refused_without_backend_connection(http_backend, name):
    b = http_backend()
    out, err, rc = run_pipe(["--http", url(b)], SMUGGLE[name])
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert b"Connection: close\r\n" in out
    assert out.count(b"HTTP/1.1") == 1
    assert rc == 1
    time.sleep(0.1)
    assert b.connections == 0


def test_request_hidden_in_a_body_stays_body(http_backend):
    """A second head inside a body that Content-Length frames is body
    bytes: one backend connection, which gets it as body."""
    b = http_backend()
    hidden = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
    out, err, rc = run_pipe(["--http", url(b)], request(
        "POST", "/", body=hidden, extra=("Connection: close",)))
    assert b.connections == 1 and b.bodies == [hidden]
    assert b.heads[0].count(b"HTTP/1.1") == 1
    assert len(access_lines(err)) == 1


# ------------------------------------------------ responses

def test_location_content_location_refresh_rewritten(http_backend):
    b = http_backend(lambda h, body: ok(extra=(
        f"Location: http://127.0.0.1:{b.port}/base/next\r\n"
        f"Content-Location: /base/c\r\n"
        f"Refresh: 3; url=http://127.0.0.1:{b.port}/base/r\r\n"
        f"X-Other: http://127.0.0.1:{b.port}/base/o\r\n"
        f"Keep-Alive: timeout=5\r\nConnection: keep-alive\r\n").encode(),
        status="302 Found"))
    out, err, rc = run_pipe(["--http", f"/app={url(b, '/base')}"],
                            request("GET", "/app/x", host="front.test:8080"))
    r = wslib.Response(out)
    assert r.status == 302
    assert r.get("Location") == "http://front.test:8080/app/next"
    assert r.get("Content-Location") == "/app/c"
    assert r.get("Refresh") == "3; url=http://front.test:8080/app/r"
    assert r.get("X-Other") == f"http://127.0.0.1:{b.port}/base/o"
    assert r.get("Keep-Alive") is None


def test_chunked_response_relayed_as_it_comes(raw_backend):
    step = threading.Event()

    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nfirst\r\n")
        step.wait(5)
        conn.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
        time.sleep(3)

    b = raw_backend(handler)
    s = wslib.subprocess.Popen(wslib.command(["--log", "stderr", "--http",
                                              url(b)]),
                               stdin=wslib.subprocess.PIPE,
                               stdout=wslib.subprocess.PIPE,
                               stderr=wslib.subprocess.PIPE)
    try:
        s.stdin.write(request("GET", "/"))
        s.stdin.flush()
        got = b""
        while b"first\r\n" not in got:
            got += os.read(s.stdout.fileno(), 4096)
        step.set()
        while not got.endswith(b"0\r\n\r\n"):
            got += os.read(s.stdout.fileno(), 4096)
        t0 = time.monotonic()
        s.stdin.close()
        s.stdin = None
        s.communicate(timeout=5)
        # the body's end is known: no wait for the backend to close
        assert time.monotonic() - t0 < 2
    finally:
        s.kill()
    assert got.endswith(b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n")


def test_close_delimited_response_closes_the_connection(raw_backend):
    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")

    b = raw_backend(handler)
    out, err, rc = run_pipe(["--http", url(b)],
                            request("GET", "/") + request("GET", "/second"))
    assert out.endswith(b"Connection: close\r\n\r\nuntil the end")
    assert b.connections == 1 and rc == 0


@pytest.mark.parametrize("status,method", [("204 No Content", "GET"),
                                           ("304 Not Modified", "GET"),
                                           ("200 OK", "HEAD")])
def test_no_body_answers_keep_the_connection(raw_backend, status, method):
    def handler(conn, head, rest):
        # a Content-Length that describes nothing sent; no close either
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n"
                     .encode())
        time.sleep(5)

    b = raw_backend(handler)
    t0 = time.monotonic()
    out, err, rc = run_pipe(["--http", url(b)],
                            request(method, "/1") + request(method, "/2"))
    assert time.monotonic() - t0 < 4
    assert out.count(f"HTTP/1.1 {status}".encode()) == 2
    assert b.connections == 2 and rc == 0


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
])
def test_ambiguous_response_is_cut(raw_backend, head):
    def handler(conn, h, rest):
        conn.sendall(head + b"hello0\r\n\r\n")

    b = raw_backend(handler)
    out, err, rc = run_pipe(["--http", url(b)], request("GET", "/"))
    assert out.startswith(b"HTTP/1.1 502 ")
    assert b"hello" not in out and rc == 1


def test_backend_stalling_mid_body_is_bounded(raw_backend):
    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        time.sleep(8)

    b = raw_backend(handler)
    t0 = time.monotonic()
    out, err, rc = run_pipe(["--http", "--handshake-timeout", "1", url(b)],
                            request("GET", "/"))
    assert time.monotonic() - t0 < 4
    assert out.endswith(b"part")
    line = fields(access_lines(err)[0])
    assert line["end"] == "timeout" and line["down"] == "4" and rc == 1


def test_backend_closing_mid_body(raw_backend):
    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")

    b = raw_backend(handler)
    out, err, rc = run_pipe(["--http", url(b)],
                            request("GET", "/") + request("GET", "/2"))
    assert out.endswith(b"part") and b.connections == 1
    assert fields(access_lines(err)[0])["end"] == "backend-closed"


def test_backend_unreachable_502(http_backend):
    port = wslib.free_port()
    out, err, rc = run_pipe(["--http", f"ws://127.0.0.1:{port}"],
                            request("GET", "/"))
    assert out.startswith(b"HTTP/1.1 502 ") and rc == 1


# ------------------------------------------------ access rules

def test_allow_deny_apply(http_backend, activated):
    b = http_backend()
    srv = activated(["--http", "--allow", "192.0.2.0/24", url(b)])
    with srv.connect() as c:
        c.sendall(request("GET", "/"))
        r, body, _ = read_response(c)
    assert r.status == 403 and b.connections == 0


def test_origin_applies(http_backend):
    b = http_backend()
    args = ["--http", "--origin", "https://good.test", url(b)]
    out, err, rc = run_pipe(args, request("POST", "/", body=b"x", extra=(
        "Origin: https://evil.test",)))
    assert out.startswith(b"HTTP/1.1 403 ") and b.connections == 0
    out, err, rc = run_pipe(args, request("POST", "/", body=b"x", extra=(
        "Origin: https://good.test",)))
    assert out.startswith(b"HTTP/1.1 200 ") and b.connections == 1


# ------------------------------------------------ keep-alive

def test_keep_alive_requests_in_sequence(http_backend, activated):
    b = http_backend(lambda h, body: ok(b"r:" + h.split(b" ")[1]))
    srv = activated(["--http", url(b)])
    with srv.connect() as c:
        for i in range(5):
            c.sendall(request("POST", f"/{i}", body=b"x" * i))
            r, body, after = read_response(c)
            assert r.status == 200 and body == f"r:/{i}".encode()
            assert r.get("Connection") is None and after == b""
    assert wslib.wait_for(lambda: len(srv.access_lines()) == 5)
    lines = [fields(l) for l in srv.access_lines()]
    assert [l["path"] for l in lines] == [f"/{i}" for i in range(5)]
    assert [l["up"] for l in lines] == [str(i) for i in range(5)]
    assert all(l["method"] == "POST" and l["status"] == "200" and
               l["down"] == "4" for l in lines)
    assert b.connections == 5


def test_pipelined_requests_answered_in_order(http_backend, activated):
    b = http_backend(lambda h, body: ok(h.split(b" ")[1]))
    srv = activated(["--http", url(b)])
    with srv.connect() as c:
        c.sendall(b"".join(request("GET", f"/p{i}") for i in range(4)))
        after = b""
        for i in range(4):
            r, body, after = read_response(c, initial=after)
            assert body == f"/p{i}".encode()
    assert [b.request_line(i) for i in range(4)] == [
        f"GET /p{i} HTTP/1.1" for i in range(4)]


def test_request_limit(http_backend, activated):
    b = http_backend()
    srv = activated(["--http", "--http-requests", "2", url(b)])
    with srv.connect() as c:
        c.sendall(request("GET", "/1"))
        r, _, _ = read_response(c)
        assert r.get("Connection") is None
        c.sendall(request("GET", "/2"))
        r, _, _ = read_response(c)
        assert r.get("Connection") == "close"
        assert wslib.read_all(c, timeout=5) == b""
    assert b.connections == 2


def test_idle_timeout_between_requests(http_backend, activated):
    b = http_backend()
    srv = activated(["--http", "--http-idle", "1", url(b)])
    with srv.connect() as c:
        c.sendall(request("GET", "/1"))
        read_response(c)
        t0 = time.monotonic()
        assert wslib.read_all(c, timeout=5) == b""
        assert 0.8 < time.monotonic() - t0 < 3
    assert wslib.wait_for(lambda: len(srv.access_lines()) == 1)


def test_client_close_ends_quietly(http_backend):
    b = http_backend()
    out, err, rc = run_pipe(["--http", url(b)], request("GET", "/1"))
    assert rc == 0 and len(access_lines(err)) == 1


def test_websocket_after_plain_requests(raw_backend, activated):
    def handler(conn, head, rest):
        if b"Upgrade: websocket" in head:
            wslib.switch_101(conn, head, rest)
        else:
            conn.sendall(ok(b"page"))

    b = raw_backend(handler)
    srv = activated(["--http", url(b)])
    with srv.connect() as c:
        c.sendall(request("GET", "/index.html"))
        r, body, _ = read_response(c)
        assert body == b"page"
        c.sendall(wslib.upgrade_request("/ws"))
        r = wslib.Response(wslib.read_until(c))
        assert r.status == 101
        c.sendall(b"echo me")
        assert wslib.read_until(c, b"echo me", timeout=5).endswith(b"echo me")
    assert wslib.wait_for(lambda: len(srv.access_lines()) == 2)
    first, second = (fields(l) for l in srv.access_lines())
    assert first["method"] == "GET" and first["status"] == "200"
    assert "method" not in second and second["status"] == "101"
    assert second["path"] == "/ws"


# ------------------------------------------------ large bodies, memory

def _pattern(n, seed):
    block = hashlib.sha256(seed).digest() * 2048   # 64 KiB
    full, part = divmod(n, len(block))
    return block, full, part


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.skipif(bool(wslib.WRAPPER), reason="under valgrind the memory "
                    "and the time are valgrind's; the sanitizer run keeps it")
def test_download_100mib_and_upload_10mib(raw_backend, activated):
    down_n, up_n = 100 << 20, 10 << 20
    block, full, part = _pattern(down_n, b"down")
    upload = hashlib.sha256()

    def handler(conn, head, rest):
        if head.startswith(b"GET"):
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {down_n}\r\n\r\n"
                         .encode())
            for _ in range(full):
                conn.sendall(block)
            conn.sendall(block[:part])
            return
        body, _, _ = read_body(conn, head, rest, timeout=60)
        upload.update(body)
        conn.sendall(ok(hashlib.sha256(body).hexdigest().encode()))

    b = raw_backend(handler)
    srv = activated(["--http", url(b)])
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in srv.children():
                try:
                    peak[0] = max(peak[0], _rss_kb(pid))
                except OSError:
                    pass
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        with srv.connect(timeout=60) as c:
            c.sendall(request("GET", "/big"))
            got = hashlib.sha256()
            data = wslib.read_until(c)
            head, _, rest = data.partition(b"\r\n\r\n")
            assert f"Content-Length: {down_n}".encode() in head
            n = len(rest)
            got.update(rest)
            c.settimeout(30)
            while n < down_n:
                chunk = c.recv(1 << 20)
                assert chunk, f"closed after {n} bytes"
                got.update(chunk)
                n += len(chunk)
            want = hashlib.sha256()
            for _ in range(full):
                want.update(block)
            want.update(block[:part])
            assert got.hexdigest() == want.hexdigest()
            ublock, ufull, upart = _pattern(up_n, b"up")
            c.sendall(f"POST /up HTTP/1.1\r\nHost: a\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\n".encode())
            uwant = hashlib.sha256()
            for _ in range(ufull):
                c.sendall(b"10000\r\n" + ublock + b"\r\n")
                uwant.update(ublock)
            c.sendall(b"0\r\n\r\n")
            r, body, _ = read_response(c, timeout=60)
            assert body == uwant.hexdigest().encode()
    finally:
        stop.set()
        t.join()
    assert peak[0] > 0
    assert peak[0] < wslib.rss_limit_kb(8 * 1024), f"VmRSS {peak[0]} kB"


# ------------------------------------------------ TLS on both sides

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    import helpers_tls
    return helpers_tls.make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_both_sides(pki, activated):
    import helpers_tls as H

    def handler(conn, head, rest, info):
        body, _, _ = read_body(conn, head, rest)
        info["body"] = body
        conn.sendall(ok(b"secret page", extra=b"Location: https://127.0.0.1:"
                        + str(b.port).encode() + b"/in/next\r\n"))

    b = H.TLSBackend(*pki.server, handler=handler)
    try:
        srv = activated(["--http", "--tls-cert", pki.server[0], "--tls-key",
                         pki.server[1], "--backend-ca", pki.ca,
                         f"/app=wss://127.0.0.1:{b.port}/in"])
        ctx = H.client_context(pki.ca)
        with H.tls_connect(srv.port, ctx) as c:
            for i in range(2):
                c.sendall(request("POST", f"/app/{i}", host="front.test",
                                  body=b"form=%d" % i))
                r, body, _ = read_response(c)
                assert r.status == 200 and body == b"secret page"
                assert r.get("Location") == "https://front.test/app/next"
        assert [x["head"].split(b"\r\n")[0] for x in b.conns] == [
            b"POST /in/0 HTTP/1.1", b"POST /in/1 HTTP/1.1"]
        assert [x["body"] for x in b.conns] == [b"form=0", b"form=1"]
        assert all(b"X-Forwarded-Proto: https\r\n" in x["head"]
                   for x in b.conns)
        assert wslib.wait_for(lambda: len(srv.access_lines()) == 2)
    finally:
        b.close()


def test_refused_request_line_names_its_method(http_backend):
    b = http_backend()
    out, err, rc = run_pipe(["--http", f"/app={url(b)}"],
                            request("DELETE", "/elsewhere"))
    assert out.startswith(b"HTTP/1.1 404 ") and b.connections == 0
    line = fields(access_lines(err)[0])
    assert line["method"] == "DELETE" and line["status"] == "404"
    assert line["path"] == "/elsewhere" and rc == 1
