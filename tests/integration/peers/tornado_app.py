"""A small tornado application of the kind put behind wstunnel --http: an
HTML page, a static script, a POST form handler and a WebSocket, all on
one port.  The page's script posts the form, then opens the WebSocket
(both by URLs relative to the page, so they go where the page came from),
exchanges messages and shows the result in the page and its title.

    tornado_app.py PORT        serves on 127.0.0.1:PORT, prints "ready"
"""
import asyncio
import sys

import tornado.web
import tornado.websocket

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>loading</title>
<style>
body { background: #fff; font: 24px sans-serif; margin: 0; }
#banner { background: rgb(0, 160, 80); color: #fff; height: 120px;
          padding: 20px; }
</style>
<script src="static/app.js"></script></head>
<body><div id="banner">wstunnel --http</div>
<p id="form">form: waiting</p><p id="ws">websocket: waiting</p></body></html>
"""

SCRIPT = """
async function run() {
  const form = await fetch("form", {method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: "name=tunnel&n=42"});
  const said = await form.text();
  document.getElementById("form").textContent = "form: " + said;
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  const got = [];
  ws.onopen = () => { ws.send("one"); ws.send("two"); };
  ws.onmessage = (e) => {
    got.push(e.data);
    if (got.length === 2) {
      document.getElementById("ws").textContent = "websocket: " + got.join(",");
      document.title = "done " + said + " " + got.join(",");
      ws.close();
    }
  };
  ws.onerror = () => { document.title = "websocket error"; };
}
window.addEventListener("load", () => run().catch(
  (e) => { document.title = "error " + e; }));
"""


class Page(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(PAGE)


class Script(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "application/javascript")
        self.write(SCRIPT)


class Form(tornado.web.RequestHandler):
    def post(self):
        self.write("hello %s %s" % (self.get_body_argument("name"),
                                    self.get_body_argument("n")))


class Echo(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True     # the page's origin is wstunnel's, not ours

    def on_message(self, message):
        self.write_message("echo:" + message)


async def main(port):
    app = tornado.web.Application([
        (r"/", Page), (r"/static/app.js", Script), (r"/form", Form),
        (r"/ws", Echo)])
    app.listen(port, address="127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
