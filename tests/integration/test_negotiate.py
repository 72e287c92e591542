"""The backend's 101 must keep to what the client offered (RFC 6455 4.1):
a Sec-WebSocket-Protocol or an extension the client did not offer is a
502, with the reason in the log, and never a tunnel.  What was offered
passes, permessage-deflate among it, end to end with real peers."""
import asyncio

import pytest
import websockets

import wslib
from helpers_rb import build_request, check_one_access_line, field


def answer_with(extra, got):
    """A 101 with extra fields, then echo; what came after the head is
    appended to got at the end."""
    def handler(conn, head, rest):
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " +
                     wslib.accept_for(wslib.key_of(head)).encode() +
                     b"\r\n" + extra.encode() + b"\r\n")
        seen = rest
        conn.sendall(rest)
        while data := conn.recv(65536):
            seen += data
            conn.sendall(data)
        got.append(seen)
    return handler


def pipe(args, data):
    return wslib.run_pipe(args, data, timeout=15)


CASES = [
    # (client offers, backend answers, allowed)
    ([], "Sec-WebSocket-Protocol: chat\r\n", False),
    ([("Sec-WebSocket-Protocol", "a, b")], "Sec-WebSocket-Protocol: c\r\n",
     False),
    ([("Sec-WebSocket-Protocol", "a, b")],
     "Sec-WebSocket-Protocol: a, b\r\n", False),
    ([("Sec-WebSocket-Protocol", "a, b")], "Sec-WebSocket-Protocol: b\r\n",
     True),
    ([], "Sec-WebSocket-Extensions: permessage-deflate\r\n", False),
    ([("Sec-WebSocket-Extensions", "permessage-deflate")],
     "Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n", False),
    ([("Sec-WebSocket-Extensions",
       "permessage-deflate; client_max_window_bits")],
     "Sec-WebSocket-Extensions: permessage-deflate; "
     "server_no_context_takeover\r\n", True),
]


@pytest.mark.parametrize("offer,answer,allowed", CASES)
def test_backend_choice_against_offer(raw_backend, offer, answer, allowed):
    got = []
    b = raw_backend(answer_with(answer, got))
    out, err, rc = pipe([f"ws://127.0.0.1:{b.port}"],
                        build_request(add=offer) + b"AFTER")
    res = wslib.Response(out)
    if allowed:
        assert res.status == 101, (out, err)
        assert res.rest == b"AFTER" and rc == 0
        check_one_access_line(err, 101)
        return
    assert res.status == 502, (out, err)
    assert b"AFTER" not in out
    assert wslib.wait_for(lambda: got, timeout=5)
    assert got == [b""], "a refused upgrade forwarded bytes"
    assert rc == 1
    line = check_one_access_line(err, 502)
    assert field(line, "end") is not None
    assert "did not offer" in err or "more than one" in err, err


def test_permessage_deflate_end_to_end(echo_backend, activated):
    """A websockets client and server both offering compression: the
    extension passes through and large compressible messages arrive."""
    e = echo_backend(deflate=True)
    s = activated([f"ws://127.0.0.1:{e.port}"])
    msgs = ["x" * n for n in (0, 1, 1000, 100000)] + ["hello"] * 10

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/",
                                      compression="deflate",
                                      max_size=None) as ws:
            assert ws.extensions, "permessage-deflate was not negotiated"
            for m in msgs:
                await ws.send(m)
                assert await asyncio.wait_for(ws.recv(), 10) == m
    asyncio.run(talk())
