"""A real browser through wstunnel: headless Chromium, driven through its
DevTools protocol, loads a page of a tornado application whose JavaScript
opens a WebSocket through wstunnel (behind systemd-socket-activate) to the
application's WebSocket handler.  With --origin naming the page's origin
the messages go through; with another origin the handshake is refused with
403 and the page says so.  Each run keeps a screenshot in tests/reports."""
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

import deploylib as dl
import wslib

CHROMIUM = shutil.which("chromium")
PEERS = Path(__file__).resolve().parent / "peers"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package "
    "chromium; make check-deploy installs it)")


class Tornado:
    def __init__(self):
        self.port = wslib.free_port()
        self.proc = subprocess.Popen(
            [wslib.PYTHON, str(PEERS / "tornado_app.py"), str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.opened = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.opened.append(line.strip())

    def close(self):
        dl.stop(self.proc)


class Chromium:
    """Headless Chromium with its DevTools endpoint on a loopback port it
    picks itself (written to DevToolsActivePort)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="wstunnel-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions",
             "--window-size=900,500", f"--user-data-dir={self.profile}",
             "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--disable-breakpad",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        active = Path(self.profile) / "DevToolsActivePort"
        assert wslib.wait_for(active.exists, timeout=30), \
            "chromium did not open its DevTools port"
        assert wslib.wait_for(lambda: len(active.read_text().split()) >= 2)
        self.port = int(active.read_text().split()[0])

    def page_url(self):
        """The DevTools WebSocket of the open page."""
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/json/list", timeout=10) as r:
            targets = json.load(r)
        return next(t["webSocketDebuggerUrl"] for t in targets
                    if t["type"] == "page")

    def close(self):
        dl.stop(self.proc)
        # its helpers (zygote, crashpad) are in its process group
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)


class DevTools:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.log = []           # the texts of the page's console log

    async def call(self, method, **params):
        self.next_id += 1
        await self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                       "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if msg.get("method") == "Log.entryAdded":
                self.log.append(msg["params"]["entry"]["text"])
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]


async def visit(devtools_url, url, screenshot):
    """Loads url, waits until #result is no longer "pending", keeps a
    screenshot; returns the result's text and the console log."""
    async with websockets.connect(devtools_url, max_size=None) as ws:
        dt = DevTools(ws)
        await dt.call("Page.enable")
        await dt.call("Log.enable")
        await dt.call("Page.navigate", url=url)
        text = "pending"
        deadline = time.monotonic() + 20
        while text in ("pending", "") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            r = await dt.call("Runtime.evaluate", expression=(
                "document.getElementById('result') ? "
                "document.getElementById('result').textContent : ''"))
            text = r["result"].get("value", "")
        shot = await dt.call("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return text, dt.log


@pytest.fixture
def chromium():
    c = Chromium()
    yield c
    c.close()


@pytest.fixture
def app():
    t = Tornado()
    yield t
    t.close()


def run_page(tmp_path, chromium, app, origin, name):
    page_origin = f"http://127.0.0.1:{app.port}"
    log = tmp_path / "wstunnel.log"
    front = wslib.SocketActivated(
        ["--origin", origin, f"/chat/ws=ws://127.0.0.1:{app.port}/ws"], log)
    try:
        url = (f"{page_origin}/?ws=ws://127.0.0.1:{front.port}/chat/ws")
        dl.REPORTS.mkdir(parents=True, exist_ok=True)
        shot = dl.REPORTS / f"browser-{name}.png"
        text, console = asyncio.run(visit(chromium.page_url(), url, shot))
        print(f"\n{name}: page says {text!r}; screenshot {shot}")
        assert shot.stat().st_size > 1000
        assert wslib.wait_for(lambda: front.access_lines(), timeout=10)
        dl.assert_nothing_left(front.proc.pid, app.port,
                               others=dl.descendants(chromium.proc.pid))
        return text, console, front.access_lines()
    finally:
        front.close()


def test_origin_allowed(tmp_path, chromium, app):
    origin = f"http://127.0.0.1:{app.port}"
    text, _, lines = run_page(tmp_path, chromium, app, origin,
                              "origin-allowed")
    assert text == "received: tornado: hello | tornado: second"
    assert len(lines) == 1 and "status=101" in lines[0], lines
    assert wslib.wait_for(lambda: len(app.opened) == 2)
    assert app.opened == [f"open {origin}", "closed"]


def test_origin_refused(tmp_path, chromium, app):
    text, console, lines = run_page(tmp_path, chromium, app,
                                    "https://gateone.example.com",
                                    "origin-refused")
    assert text.startswith("refused: the handshake failed"), text
    # what the browser itself saw (its console; the page's JavaScript is
    # never told the status)
    assert any("Unexpected response code: 403" in t for t in console), \
        console
    assert len(lines) == 1 and "status=403" in lines[0], lines
    assert app.opened == []
