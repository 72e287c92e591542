"""The tunnel end to end with real peers, in both modes."""
import asyncio

import websockets

import wslib


def test_pipe_mode_prints_101_and_data_after_stdin_ended(echo_backend):
    b = echo_backend(greeting="hello from the backend")
    out, err, code = wslib.run_pipe(
        ["--close-timeout", "2", f"ws://127.0.0.1:{b.port}"],
        wslib.upgrade_request("/chat"))
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    frames, _ = wslib.parse_frames(res.rest)
    assert (0x1, b"hello from the backend") in frames
    assert code == 0
    assert "status=101" in err and "path=/chat" in err


def test_socket_activated_echo_with_websockets_client(echo_backend, activated):
    b = echo_backend()
    s = activated([f"/app=ws://127.0.0.1:{b.port}/ws"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/app/x?y=1") as ws:
            got = []
            for msg in ["one", b"\x00two\xff", "three" * 10000]:
                await ws.send(msg)
                got.append(await ws.recv())
            return got
    assert asyncio.run(talk()) == ["one", b"\x00two\xff", "three" * 10000]
    assert wslib.wait_for(lambda: s.access_lines())
    line = s.access_lines()[0]
    assert "status=101" in line and "path=/app/x?y=1" in line
    assert f"backend=127.0.0.1:{b.port}" in line
