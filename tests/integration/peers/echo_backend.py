"""A python3-websockets echo backend for the tests.

usage: echo_backend.py PORT|unix:PATH [--greeting TEXT] [--tls CERT KEY]
                       [--deflate] [--report-close]

Prints "ready" on stdout once it listens.  Every message is sent back; with
--greeting, TEXT is sent first on each new connection.  The request path and
headers of each connection are printed as one JSON line on stdout.  With
--deflate it accepts permessage-deflate when a client offers it; with
--report-close, the close code and reason each connection ended with are
printed as one more JSON line.
"""
import asyncio
import json
import ssl
import sys

import websockets


async def handler(ws, path=None):
    print(json.dumps({"path": ws.path, "headers": list(ws.request_headers.raw_items())}), flush=True)
    if GREETING is not None:
        await ws.send(GREETING)
    try:
        async for message in ws:
            await ws.send(message)
    finally:
        if REPORT_CLOSE:
            print(json.dumps({"close": ws.close_code,
                              "reason": ws.close_reason}), flush=True)


async def main():
    where = sys.argv[1]
    kwargs = {"max_size": None,
              "compression": "deflate" if "--deflate" in sys.argv else None}
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        kwargs["ssl"] = ctx
    if where.startswith("unix:"):
        server = websockets.unix_serve(handler, where[5:], **kwargs)
    else:
        server = websockets.serve(handler, "127.0.0.1", int(where), **kwargs)
    async with server:
        print("ready", flush=True)
        await asyncio.Future()


GREETING = None
REPORT_CLOSE = "--report-close" in sys.argv
if "--greeting" in sys.argv:
    GREETING = sys.argv[sys.argv.index("--greeting") + 1]
asyncio.run(main())
