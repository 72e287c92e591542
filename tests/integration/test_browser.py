"""A whole application through one wstunnel port (issue 11): a tornado app
(peers/tornado_app.py: an HTML page, a static script, a POST form and a
WebSocket) loaded by headless Chromium from http://127.0.0.1:PORT/app/,
wstunnel --http behind systemd-socket-activate.  The page's script runs,
posts its form and exchanges messages over the WebSocket, all through
wstunnel; the same over client-side TLS with --allow in force.  Skipped,
saying so, only where Debian's chromium is not installed (scripts/deps
installs it).  Screenshots are kept in tests/screenshots/."""
import subprocess

import pytest

import wslib
from helpers_http import access_lines, fields

cdp = pytest.importorskip("cdp")
pytestmark = pytest.mark.skipif(
    cdp.CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium, or "
           "scripts/deps): the browser tests did not run")

SHOTS = wslib.ROOT / "tests" / "screenshots"
DONE = "document.title.startsWith('done') || document.title.includes('error')"
WANT = "done hello tunnel 42 echo:one,echo:two"


@pytest.fixture
def tornado_app():
    port = wslib.free_port()
    p = subprocess.Popen([wslib.PYTHON, str(wslib.PEERS / "tornado_app.py"),
                          str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)


@pytest.fixture
def browser():
    made = []

    def make(extra=()):
        b = cdp.Chromium(extra)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


def check_log(srv):
    """Every part of the page went through wstunnel, each with its line."""
    assert wslib.wait_for(lambda: any("status=101" in l
                                      for l in srv.access_lines()), 10)
    lines = [fields(l) for l in access_lines(srv.log())]
    seen = {(l.get("method"), l["path"], l["status"]) for l in lines}
    assert ("GET", "/app/", "200") in seen, seen
    assert ("GET", "/app/static/app.js", "200") in seen, seen
    assert ("POST", "/app/form", "200") in seen, seen
    assert (None, "/app/ws", "101") in seen, seen


def check_pixels(shot):
    """The page was rendered: its green banner and white body, from the
    screenshot's pixels."""
    r, g, b = cdp.png_pixel(shot, 400, 60)
    assert g > 120 and r < 60 and b < 120, (r, g, b)
    assert cdp.png_pixel(shot, 400, 400) == (255, 255, 255)


def test_tornado_app_through_wstunnel(tornado_app, activated, browser):
    srv = activated(["--http", f"/app=ws://127.0.0.1:{tornado_app}/"])
    b = browser()
    try:
        title = b.load(f"http://127.0.0.1:{srv.port}/app/", DONE,
                       screenshot=str(SHOTS / "tornado-http.png"))
    finally:
        b.close()
    assert title == WANT
    check_pixels(str(SHOTS / "tornado-http.png"))
    check_log(srv)


def test_tornado_app_over_tls_with_allow(tornado_app, activated, browser,
                                         tmp_path):
    import helpers_tls
    pki = helpers_tls.make_pki(tmp_path / "pki")
    tls = ["--tls-cert", pki.server[0], "--tls-key", pki.server[1]]
    route = f"/app=ws://127.0.0.1:{tornado_app}/"
    srv = activated(["--http", "--allow", "127.0.0.0/8", *tls, route])
    refused = activated(["--http", "--allow", "192.0.2.0/24", *tls, route])
    b = browser(["--ignore-certificate-errors"])
    try:
        title = b.load(f"https://localhost:{srv.port}/app/", DONE,
                       screenshot=str(SHOTS / "tornado-https-allow.png"))
        assert title == WANT
        check_pixels(str(SHOTS / "tornado-https-allow.png"))
        b.load(f"https://localhost:{refused.port}/app/",
               "document.body !== null && "
               "document.body.innerText.includes('403 Forbidden')")
    finally:
        b.close()
    check_log(srv)
    lines = [fields(l) for l in access_lines(refused.log())]
    assert any(l["path"] == "/app/" and l["status"] == "403" for l in lines)
    assert not any(l["status"] in ("200", "101") for l in lines)
