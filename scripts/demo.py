"""make demo: an echo WebSocket backend, wstunnel in front of it behind
systemd-socket-activate on a loopback port (one process per connection, as
inetd or a systemd Accept=yes socket would run it), and a client whose
messages go through it.  Everything stops by itself."""
import asyncio
import os
import socket
import subprocess
import sys
import tempfile

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def client(port):
    url = f"ws://127.0.0.1:{port}/chat"
    print(f"client:   connecting to {url}")
    async with websockets.connect(url) as ws:
        for text in ["Hello through wstunnel!", "a second message"]:
            await ws.send(text)
            print(f"client:   sent {text!r}, got back {await ws.recv()!r}")


def plain_get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /chat HTTP/1.1\r\nHost: demo\r\n\r\n")
        answer = s.recv(4096).decode(errors="replace")
    print("client:   a plain HTTP GET instead gets: " + answer.splitlines()[0])


async def main():
    bport, fport = free_port(), free_port()
    async with websockets.serve(echo, "127.0.0.1", bport):
        print(f"backend:  echo WebSocket server on ws://127.0.0.1:{bport}/ws")
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "wstunnel.log")
            cmd = ["systemd-socket-activate", "--inetd", "-a",
                   "-l", f"127.0.0.1:{fport}",
                   os.path.join(ROOT, "wstunnel"), "--log", log,
                   f"/chat=ws://127.0.0.1:{bport}/ws"]
            print("frontend: " + " ".join(cmd[:5]) + " wstunnel --log "
                  f"FILE /chat=ws://127.0.0.1:{bport}/ws")
            front = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
            try:
                front.stderr.readline()         # "Listening on ..."
                await client(fport)
                await asyncio.get_running_loop().run_in_executor(
                    None, plain_get, fport)
                for _ in range(50):
                    lines = open(log).read().splitlines() if os.path.exists(log) else []
                    if len(lines) >= 2:
                        break
                    await asyncio.sleep(0.1)
                print("\nwstunnel's access log, one line per connection:")
                for line in lines:
                    print("  " + line)
            finally:
                front.terminate()
                front.wait(timeout=5)
    ok = any("status=101" in l for l in lines)
    print("\ndemo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


sys.exit(asyncio.run(main()))
