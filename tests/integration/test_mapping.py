"""Path mapping of the route "/" (a bare URL) through the real binary, for
every kind of backend (SPEC.md, Command line): a request-target that is
exactly the route's PATH goes to exactly the backend URL's path, so with
ws://h/ws the request "/" reaches the backend as "/ws" (never "/ws/") and
"/x" as "/ws/x"; Location rewriting is the exact inverse.  And the case that
found it: a tornado application whose WebSocket handler is routed on /ws
only, behind a bare URL."""
import asyncio
import json
import subprocess
import threading

import pytest
import websockets

import wslib
import helpers_tls as H
from helpers_rb import RawUnixBackend, build_request, field
from test_backend import fields_of, one_access_line, pipe, response_101

BARE = [("/", "/ws"), ("/?q=1", "/ws?q=1"), ("/x", "/ws/x")]


@pytest.mark.parametrize("target,mapped", BARE)
def test_bare_url_unix_backend(target, mapped):
    b = RawUnixBackend(lambda conn, head, rest: conn.sendall(
        response_101(head)))
    try:
        out, err, _ = pipe([f"ws://unix:{b.path}:/ws"],
                           build_request(target=target))
    finally:
        b.close()
    assert wslib.Response(out).status == 101, (out, err)
    assert fields_of(b.heads[0])[0] == f"GET {mapped} HTTP/1.1"
    assert field(one_access_line(err), "path") == target


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return H.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("target,mapped", BARE)
def test_bare_url_wss_backend(pki, target, mapped):
    b = H.TLSBackend(*pki.server)
    try:
        out, err, _ = pipe(["--backend-ca", pki.ca,
                            f"wss://localhost:{b.port}/ws"],
                           build_request(target=target))
        assert wslib.Response(out).status == 101, (out, err)
        assert b.conns and b.conns[0]["done"].wait(5)
        assert fields_of(b.conns[0]["head"])[0] == f"GET {mapped} HTTP/1.1"
    finally:
        b.close()


@pytest.mark.parametrize("location,client_sees", [
    ("/ws", "/"), ("/ws?next=1", "/?next=1"), ("/ws/login", "/login"),
    ("http://127.0.0.1:{p}/ws", "http://front.example/"),
    ("http://127.0.0.1:{p}/ws/a?b", "http://front.example/a?b"),
    ("/wsx", "/wsx"),
])
def test_bare_url_location_is_the_inverse(raw_backend, location, client_sees):
    def answer(conn, head, rest):
        loc = location.format(p=b.port).encode()
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + loc +
                     b"\r\nContent-Length: 0\r\n\r\n")
    b = raw_backend(answer)
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}/ws"],
                        build_request(target="/", host="front.example"))
    res = wslib.Response(out)
    assert res.status == 302, (out, err)
    assert res.all("Location") == [client_sees]
    assert rc == 1


class TornadoApp:
    """peers/tornado_ws.py: a WebSocket handler on /ws, 404 elsewhere."""

    def __init__(self):
        self.port = wslib.free_port()
        self.proc = subprocess.Popen(
            [wslib.PYTHON, str(wslib.PEERS / "tornado_ws.py"),
             str(self.port)], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"tornado app did not start: {line!r}"
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.seen.append(json.loads(line)["path"])

    def paths(self, n, timeout=5):
        wslib.wait_for(lambda: len(self.seen) >= n, timeout=timeout)
        return self.seen

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture
def tornado_app():
    app = TornadoApp()
    yield app
    app.close()


def test_tornado_ws_handler_behind_bare_url(tornado_app, activated):
    s = activated([f"ws://127.0.0.1:{tornado_app.port}/ws"])

    async def talk(path):
        async with websockets.connect(
                f"ws://127.0.0.1:{s.port}{path}", open_timeout=10) as ws:
            await ws.send("hello " + path)
            return await asyncio.wait_for(ws.recv(), 10)

    assert asyncio.run(talk("/")) == "echo: hello /"
    assert asyncio.run(talk("/?q=1")) == "echo: hello /?q=1"
    assert tornado_app.paths(2) == ["/ws", "/ws?q=1"]
    wslib.wait_for(lambda: len(s.access_lines()) >= 2, timeout=10)
    log = s.access_lines()
    assert [field(l, "path") for l in log] == ["/", "/?q=1"], log
    assert all(field(l, "status") == "101" for l in log), log


def test_tornado_answers_404_for_a_path_it_does_not_route(tornado_app,
                                                          activated):
    """The other side of the same rule: "/x" goes as "/ws/x", which tornado
    does not route, and its 404 reaches the client as the answer."""
    s = activated([f"ws://127.0.0.1:{tornado_app.port}/ws"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/x",
                                      open_timeout=10):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        asyncio.run(talk())
    assert e.value.status_code == 404
