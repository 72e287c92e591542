"""A python3-websockets client in a process of its own, so that a test can
SIGSTOP it: its kernel then still answers TCP, but nothing reads or answers
WebSocket frames.

usage: ws_client.py URL

Sends "hello", prints the echo, then waits without pinging, reading
whatever comes, until the connection closes or it is killed.
"""
import asyncio
import sys

import websockets


async def main():
    async with websockets.connect(sys.argv[1], ping_interval=None,
                                  open_timeout=10) as ws:
        await ws.send("hello")
        print(await ws.recv(), flush=True)
        try:
            async for _ in ws:
                pass
        finally:
            print(f"closed {ws.close_code}", flush=True)


asyncio.run(main())
