"""Scale-out: Debian's haproxy in TCP mode (balance leastconn,
send-proxy-v2), configured by examples/haproxy.cfg, in front of two wstunnel
listeners run with --proxy-protocol."""
import json
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

import wslib

EXAMPLE = wslib.ROOT / "examples" / "haproxy.cfg"
CLIENT = "127.0.0.2"    # not haproxy's address: only PROXY v2 can tell it

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None,
                                reason="haproxy not installed (make deps)")


class Recorder:
    """A python3-websockets echo backend greeting with its name; keeps the
    request headers of each connection (one JSON line each)."""

    def __init__(self, name):
        self.backend = wslib.EchoBackend(greeting=name)
        self.heads = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.backend.proc.stdout:
            self.heads.append(dict(json.loads(line)["headers"]))


def haproxy_config(port, servers):
    """The shipped example with loopback addresses put in."""
    text = EXAMPLE.read_text()
    text = re.sub(r"(?m)^\tbind :80$", f"\tbind 127.0.0.1:{port}", text)
    for name, p in servers.items():
        text, n = re.subn(rf"(?m)^(\tserver {name}) \S+", rf"\1 127.0.0.1:{p}",
                          text)
        assert n == 1, f"server {name} not in {EXAMPLE}"
    return text


def echo_through(port, payload):
    """A WebSocket session from CLIENT through haproxy: which backend
    greeted, and that the payload came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=(CLIENT, 0))
    s.sendall(wslib.upgrade_request())
    data = wslib.read_until(s)
    assert wslib.Response(data).status == 101
    data = data.partition(b"\r\n\r\n")[2]
    s.sendall(wslib.frame(payload))
    deadline = time.monotonic() + 10
    while payload not in data and time.monotonic() < deadline:
        data += s.recv(65536)
    assert payload in data
    return s, re.search(rb"backend-\d", data).group().decode()


def test_example_config_is_valid():
    p = subprocess.run(["haproxy", "-c", "-f", str(EXAMPLE)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stdout + p.stderr


def test_haproxy_spreads_over_two_wstunnel_hosts(activated, tmp_path):
    rec = [Recorder("backend-0"), Recorder("backend-1")]
    svc = [activated(["--proxy-protocol",
                      f"ws://127.0.0.1:{r.backend.port}"]) for r in rec]
    port = wslib.free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config(port, {"ws1": svc[0].port,
                                         "ws2": svc[1].port}))
    ha = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    held = []
    try:
        assert wslib.wait_for(lambda: _listening(port)), "haproxy did not start"
        for i in range(6):
            held.append(echo_through(port, f"hello {i}".encode()))
        # leastconn over tunnels that stay open: three and three
        got = sorted(name for _, name in held)
        assert got == ["backend-0"] * 3 + ["backend-1"] * 3
        # the real client address, from the PROXY v2 header
        assert wslib.wait_for(lambda: len(rec[0].heads) + len(rec[1].heads)
                              == 6)
        for h in rec[0].heads + rec[1].heads:
            assert h["X-Forwarded-For"] == CLIENT
        log = svc[0].log() + svc[1].log()
        for s, _ in held:
            s.close()
        assert wslib.wait_for(lambda: sum(len(x.access_lines())
                                          for x in svc) >= 6)
        assert f"client={CLIENT}:" in svc[0].log() + svc[1].log(), log
    finally:
        for s, _ in held:
            s.close()
        ha.terminate()
        ha.wait(timeout=10)
        for r in rec:
            r.backend.close()


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
