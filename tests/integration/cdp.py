"""Headless Chromium (Debian's chromium) driven through the DevTools
protocol with python3-websockets: load a page, wait for a condition in it,
take a screenshot.  Every wait is bounded."""
import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websockets

import wslib

CHROMIUM = shutil.which("chromium")


class Chromium:
    def __init__(self, extra=()):
        self.port = wslib.free_port()
        self.profile = tempfile.mkdtemp(prefix="wstunnel-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--window-size=800,600", f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}",
             "--remote-debugging-address=127.0.0.1", *extra, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = 0
        self.ws_url = self._page_target()

    def _page_target(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/json/list",
                        timeout=2) as r:
                    for t in json.load(r):
                        if t.get("type") == "page":
                            return t["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("chromium's DevTools endpoint did not come up")

    def load(self, url, until, timeout=30, screenshot=None):
        """Navigates to url, waits until the JavaScript expression until is
        true, saves a PNG screenshot; returns document.title."""
        return self._run(self._load(url, until, timeout, screenshot),
                         timeout + 15)

    def shoot(self, path, timeout=15):
        """A PNG screenshot of the page as it is now."""
        return self._run(self._shoot(path), timeout)

    @staticmethod
    def _run(coro, timeout):
        return asyncio.run(asyncio.wait_for(coro, timeout))

    async def _call(self, ws, method, **params):
        self.ids += 1
        i = self.ids
        await ws.send(json.dumps({"id": i, "method": method,
                                  "params": params}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("id") == i:
                assert "error" not in msg, msg
                return msg["result"]

    async def _save(self, ws, path):
        shot = await self._call(ws, "Page.captureScreenshot", format="png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    async def _shoot(self, path):
        async with websockets.connect(self.ws_url, max_size=None) as ws:
            await self._save(ws, path)

    async def _load(self, url, until, timeout, screenshot):
        async with websockets.connect(self.ws_url, max_size=None) as ws:
            await self._call(ws, "Page.enable")
            await self._call(ws, "Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            ok = False
            while time.monotonic() < deadline:
                r = await self._call(ws, "Runtime.evaluate",
                                     expression=until, returnByValue=True)
                if r["result"].get("value") is True:
                    ok = True
                    break
                await asyncio.sleep(0.2)
            title = (await self._call(
                ws, "Runtime.evaluate", expression="document.title",
                returnByValue=True))["result"].get("value")
            if screenshot:
                await self._save(ws, screenshot)
            assert ok, f"page never got there; title {title!r}"
            return title

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixel(path, x, y):
    """The (r, g, b) of one pixel of an 8-bit RGB or RGBA PNG, as Chromium
    writes them (no interlacing), decoded with zlib alone."""
    import struct
    import zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += n + 12
    assert depth == 8 and ctype in (2, 6) and interlace == 0
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev = zlib.decompress(idat), w * bpp, bytearray(w * bpp)
    for row in range(y + 1):
        f, line = raw[row * (stride + 1)], bytearray(
            raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        prev = line
    return tuple(prev[x * bpp:x * bpp + 3])
