"""Real applications served entirely through one wstunnel --http port and
rendered by headless Chromium (issue 11): GTK Broadway (broadwayd from
libgtk-3-bin, a python3-gi window; its page, broadway.js and the /socket
WebSocket all through wstunnel) and noVNC (Debian's novnc served by
websockify, Xvnc from tigervnc-standalone-server showing the same window;
vnc.html, its ES modules and the /websockify WebSocket through wstunnel).
The screenshot's pixels must show the window, not only that a page loaded.
Skipped, saying so, where chromium or a server is not installed
(scripts/deps installs them)."""
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


def _free_display():
    n = 100 + os.getpid() % 400
    while os.path.exists(f"/tmp/.X{n}-lock"):
        n += 1
    return n


def _stop(procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def novnc():
    if cdp.CHROMIUM is None or shutil.which("Xvnc") is None or \
            shutil.which("websockify") is None or \
            not os.path.exists("/usr/share/novnc/vnc.html"):
        pytest.skip("chromium, Xvnc (tigervnc-standalone-server), websockify "
                    "or novnc is not installed: the noVNC test did not run")
    n, vnc, web = _free_display(), wslib.free_port(), wslib.free_port()
    procs = []
    try:
        procs.append(subprocess.Popen(
            ["Xvnc", f":{n}", "-geometry", "800x600", "-depth", "24",
             "-rfbport", str(vnc), "-SecurityTypes", "None", "-localhost",
             "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wslib.wait_for(lambda: _listening(vnc), timeout=10)
        app = subprocess.Popen(
            [wslib.PYTHON, str(wslib.PEERS / "broadway_window.py")],
            env=dict(os.environ, GDK_BACKEND="x11", DISPLAY=f":{n}"),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(app)
        assert app.stdout.readline().strip() == "shown"
        procs.append(subprocess.Popen(
            ["websockify", "--web", "/usr/share/novnc", f"127.0.0.1:{web}",
             f"127.0.0.1:{vnc}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert wslib.wait_for(lambda: _listening(web), timeout=10)
        yield web
    finally:
        _stop(reversed(procs))


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


def test_novnc_through_wstunnel(novnc, activated):
    srv = activated(["--http", f"ws://127.0.0.1:{novnc}/"])
    shot = str(SHOTS / "novnc.png")
    b = cdp.Chromium()
    try:
        b.load(f"http://127.0.0.1:{srv.port}/vnc.html?autoconnect=true&"
               "resize=off", "document.readyState === 'complete'")
        # the desktop appears once the RFB session runs over the WebSocket
        assert wslib.wait_for(lambda: crimson(_shot(b, shot)), timeout=30,
                              step=0.5)
    finally:
        b.close()
    assert cdp.png_pixel(shot, 600, 300) == (0, 0, 0), "not the desktop"
    assert wslib.wait_for(lambda: "status=101" in srv.log(), timeout=10)
    lines = [fields(l) for l in access_lines(srv.log())]
    seen = {(l.get("method"), l["path"], l["status"]) for l in lines}
    assert ("GET", "/vnc.html?autoconnect=true&resize=off", "200") in seen, \
        seen
    assert ("GET", "/app/ui.js", "200") in seen, seen
    assert ("GET", "/core/rfb.js", "200") in seen, seen
    assert any(p == "/websockify" and s == "101" for _, p, s in seen), seen
