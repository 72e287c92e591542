"""Real applications served entirely through one wstunnel --http port and
rendered by headless Chromium (issue 11): GTK Broadway (broadwayd from
libgtk-3-bin, a python3-gi window; its page, broadway.js and the /socket
WebSocket all through wstunnel).  The screenshot's pixels must show the
window, not only that a page loaded.  Skipped, saying so, where chromium
or broadwayd is not installed (scripts/deps installs them)."""
import os
import shutil
import socket
import subprocess

import pytest

import wslib
from helpers_http import access_lines, fields

cdp = pytest.importorskip("cdp")
SHOTS = wslib.ROOT / "tests" / "screenshots"


def crimson(px):
    r, g, b = px
    return r > 180 and g < 60 and 30 < b < 100


@pytest.fixture
def broadway(tmp_path):
    if cdp.CHROMIUM is None or shutil.which("broadwayd") is None:
        pytest.skip("chromium or broadwayd (libgtk-3-bin) is not installed: "
                    "the Broadway test did not run")
    port = wslib.free_port()
    display = f":{port % 1000 + 100}"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path),
               XDG_CACHE_HOME=str(tmp_path))
    d = subprocess.Popen(["broadwayd", "--address", "127.0.0.1", "--port",
                          str(port), display], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        assert wslib.wait_for(lambda: _listening(port), timeout=10)
        app = subprocess.Popen(
            [wslib.PYTHON, str(wslib.PEERS / "broadway_window.py")],
            env=dict(env, GDK_BACKEND="broadway", BROADWAY_DISPLAY=display),
            stdout=subprocess.PIPE, text=True)
        assert app.stdout.readline().strip() == "shown"
        yield port
    finally:
        for p in (app, d):
            if p is not None:
                p.terminate()
                p.wait(timeout=10)


def _shot(b, path):
    b.shoot(path)
    return cdp.png_pixel(path, 200, 150)


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_gtk_broadway_through_wstunnel(broadway, activated):
    srv = activated(["--http", f"ws://127.0.0.1:{broadway}/"])
    shot = str(SHOTS / "broadway.png")
    b = cdp.Chromium()
    try:
        b.load(f"http://127.0.0.1:{srv.port}/", "typeof connect === "
               "'function' && document.readyState === 'complete'")
        # the window appears once the WebSocket has carried its frames
        assert wslib.wait_for(lambda: crimson(_shot(b, shot)), timeout=20,
                              step=0.5)
    finally:
        b.close()
    assert crimson(cdp.png_pixel(shot, 200, 150)), \
        f"no window at (200, 150): {cdp.png_pixel(shot, 200, 150)}"
    assert not crimson(cdp.png_pixel(shot, 700, 400))
    # the WebSocket's line comes when its tunnel ends, after the browser
    assert wslib.wait_for(lambda: "status=101" in srv.log(), timeout=10)
    lines = [fields(l) for l in access_lines(srv.log())]
    seen = {(l.get("method"), l["path"], l["status"]) for l in lines}
    assert ("GET", "/", "200") in seen, seen
    assert ("GET", "/broadway.js", "200") in seen, seen
    assert any(p == "/socket" and s == "101" for _, p, s in seen), seen
