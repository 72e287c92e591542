"""A small python3-tornado application, as GateOne is one: a page whose
JavaScript talks to a WebSocket handler through wstunnel.

usage: tornado_app.py PORT

GET /?ws=URL serves the page; it opens a WebSocket to URL, sends two
messages, and writes what came back (or why nothing did) into #result.
/ws is the WebSocket handler: it answers each message with "tornado: " in
front.  Prints "ready" once it listens, and "open ORIGIN" for each
WebSocket it accepts, "closed" when one ends."""
import sys

import tornado.ioloop
import tornado.web
import tornado.websocket

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>wstunnel browser test</title>
<link rel="icon" href="data:,">
<style>body { font: 20px sans-serif; margin: 2em; }</style></head>
<body><h1>WebSocket through wstunnel</h1>
<p>to: <code id="url"></code></p>
<p id="result">pending</p>
<script>
const url = new URLSearchParams(location.search).get("ws");
const out = document.getElementById("result");
document.getElementById("url").textContent = url;
const got = [];
let opened = false;
const ws = new WebSocket(url);
ws.onopen = () => { opened = true; ws.send("hello"); ws.send("second"); };
ws.onmessage = (e) => {
    got.push(e.data);
    if (got.length === 2) {
        out.textContent = "received: " + got.join(" | ");
        ws.close(1000);
    }
};
ws.onclose = (e) => {
    if (!opened)
        out.textContent = "refused: the handshake failed (close code "
            + e.code + ")";
};
</script></body></html>
"""


class Page(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        # the browser closes its connection after the page, so that every
        # connection left open to this port afterwards would be wstunnel's
        self.set_header("Connection", "close")
        self.write(PAGE)


class Echo(tornado.websocket.WebSocketHandler):
    # tornado's own check_origin stays: the Origin must name the Host that
    # wstunnel sends, the backend's authority
    def open(self):
        print("open " + self.request.headers.get("Origin", "-"), flush=True)

    def on_close(self):
        print("closed", flush=True)

    def on_message(self, message):
        self.write_message("tornado: " + message)


def main():
    app = tornado.web.Application([(r"/", Page), (r"/ws", Echo)])
    app.listen(int(sys.argv[1]), address="127.0.0.1")
    print("ready", flush=True)
    tornado.ioloop.IOLoop.current().start()


main()
