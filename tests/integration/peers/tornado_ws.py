"""A python3-tornado application with a WebSocket handler routed on /ws
only, as GateOne and other tornado apps route theirs: any other path is
tornado's own 404.

usage: tornado_ws.py PORT

Prints "ready" on stdout once it listens.  Each WebSocket connection prints
its request path as one JSON line, and every message is sent back prefixed
with "echo: ".
"""
import asyncio
import json
import sys

import tornado.web
import tornado.websocket


class Echo(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    def open(self):
        print(json.dumps({"path": self.request.uri}), flush=True)

    def on_message(self, message):
        self.write_message("echo: " + message)


async def main():
    app = tornado.web.Application([(r"/ws", Echo)])
    app.listen(int(sys.argv[1]), address="127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
