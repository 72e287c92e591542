"""TLS on both sides of wstunnel (SPEC.md: wss:// backends, --tls-cert,
--tls-key, --tls-client-ca, --backend-ca, --backend-insecure, --backend-cert,
--backend-key, --backend-sni; man/wstunnel.8).

Backend side: chain and name verification, SNI, TLS 1.2 minimum, every
failure a 502/504 with a log line a user can act on, --backend-insecure,
--backend-sni, mutual TLS, wss://unix:.  Client side: the TLS server handshake
on fd 0/1, ALPN, versions, plain-HTTP and silent clients, client
certificates, X-Forwarded-Proto, certificate replacement.  The relay with TLS
on both sides: integrity, back-pressure, close_notify.  --check.

Certificates come from a private CA made with the openssl CLI at test time."""
import asyncio
import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import websockets

import wslib
import helpers_tls as H
from helpers_tls import MiB
from helpers_tun import cpu_seconds

SLACK = 1.5     # seconds allowed on top of a timeout


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return H.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_backend():
    """Factory: tls_backend(cert, key, handler=..., ...) -> TLSBackend."""
    made = []

    def make(cert, key, **kw):
        b = H.TLSBackend(cert, key, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def short_dir():
    """A directory with a short path, for unix sockets."""
    d = tempfile.mkdtemp(prefix="wst", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def pipe(args, path="/", timeout=15):
    """wstunnel in pipe mode, one upgrade request: (Response, log, code)."""
    out, err, code = wslib.run_pipe(args, wslib.upgrade_request(path),
                                    timeout=timeout)
    return wslib.Response(out), err, code


def tls_warning(log, url):
    """The one log line about the TLS failure with backend url."""
    lines = H.lines_with(log, f"backend {url}", "TLS")
    assert len(lines) == 1, f"expected one TLS line for {url}, log:\n{log}"
    return lines[0]


def echo_headers(backend, timeout=5):
    """The JSON line echo_backend.py prints for a connection."""
    r, _, _ = select.select([backend.proc.stdout], [], [], timeout)
    assert r, "the echo backend reported no connection"
    return json.loads(backend.proc.stdout.readline())


def tunnel_echo(sock, initial=b"", size=1000):
    """One masked frame through an open tunnel to an echoing raw backend:
    the same bytes come back."""
    f = wslib.frame(os.urandom(size))
    sock.sendall(f)
    assert H.recv_exact(sock, len(f), initial=initial) == f


def client_tls_args(pki, backend_url, *more):
    return ["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
            "--handshake-timeout", "3", *more, backend_url]


# ====================================================== backend side: success

def test_wss_echo_through_tunnel_with_websockets_tls_backend(pki, echo_backend,
                                                             activated):
    b = echo_backend(tls=pki.server)
    s = activated(["--backend-ca", pki.ca, f"/app=wss://localhost:{b.port}/ws"])
    msgs = [f"message {i} " * (i % 50) for i in range(300)]
    msgs += [os.urandom(n) for n in (0, 1, 125, 126, 65535, 65536, MiB)]

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/app/x?y=1",
                                      max_size=None, compression=None) as ws:
            got = []
            for m in msgs:
                await ws.send(m)
                got.append(await ws.recv())
            return got
    assert asyncio.run(asyncio.wait_for(talk(), 30)) == msgs
    hello = echo_headers(b)
    assert hello["path"] == "/ws/x?y=1"
    assert ["X-Forwarded-Proto", "http"] in hello["headers"]
    line = H.wait_access(s.log)[0]
    assert line["status"] == "101"
    assert line["backend"] == f"127.0.0.1:{b.port}"
    assert line["path"] == "/app/x?y=1"
    assert H.lines_with(s.log(), "warning") == [], s.log()


def test_sni_sent_for_names_not_for_addresses_and_address_verified(pki,
                                                                   tls_backend):
    b = tls_backend(*pki.server)
    res, log, code = pipe(["--backend-ca", pki.ca, f"wss://localhost:{b.port}/"])
    assert (res.status, code) == (101, 0), log
    # an address literal: no SNI (RFC 6066), verified against IP:127.0.0.1
    res, log, code = pipe(["--backend-ca", pki.ca, f"wss://127.0.0.1:{b.port}/"])
    assert (res.status, code) == (101, 0), log
    assert b.sni == ["localhost", None]
    assert [c["version"] for c in b.conns] == ["TLSv1.3", "TLSv1.3"]
    assert [c["alpn"] for c in b.conns] == [None, None]
    assert H.lines_with(log, "warning") == []


def test_system_store_is_the_hashed_directory_never_the_bundle(
        pki, tls_backend, tmp_path, monkeypatch):
    """Without --backend-ca the CAs come from OpenSSL's hashed directory
    (SSL_CERT_DIR here), one file per certificate a chain needs; the bundle
    (SSL_CERT_FILE), which would be parsed whole at every start, is not
    read at all."""
    hashed, empty = tmp_path / "hashed", tmp_path / "empty"
    hashed.mkdir()
    empty.mkdir()
    shutil.copy(pki.ca, hashed / "test-ca.pem")
    subprocess.run(["openssl", "rehash", str(hashed)], check=True,
                   capture_output=True)
    b = tls_backend(*pki.server)
    url = f"wss://localhost:{b.port}/"
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle"))
    res, log, code = pipe([url])
    assert (res.status, code) == (101, 0), log
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca)
    res, log, code = pipe([url])
    assert (res.status, code) == (502, 1), log
    assert "unable to get local issuer certificate" in tls_warning(log, url)


def mapped_tls_libraries(pid):
    maps = open(f"/proc/{pid}/maps").read()
    return sorted({os.path.basename(l.split()[-1]) for l in maps.splitlines()
                   if any(k in l for k in ("libssl", "libcrypto",
                                           "wstunnel-tls"))})


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_openssl_is_mapped_only_when_tls_is_configured(pki, tls_backend,
                                                       raw_backend,
                                                       activated, scheme):
    """A plain ws:// tunnel pays nothing for TLS: neither the module nor
    libssl or libcrypto is in the process of a live tunnel."""
    if scheme == "ws":
        b = raw_backend()
        s = activated([f"ws://127.0.0.1:{b.port}"])
    else:
        b = tls_backend(*pki.server)
        s = activated(["--backend-ca", pki.ca, f"wss://localhost:{b.port}/"])
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(wslib.upgrade_request("/"))
        head, err = H.read_head(c)
        assert wslib.Response(head).status == 101, (head, err)
        libs = mapped_tls_libraries(H.only_child(s))
    if scheme == "ws":
        assert libs == [], libs
    else:
        assert any(l.startswith("libssl") for l in libs), libs
        assert any(l.startswith("libcrypto") for l in libs), libs
        assert "wstunnel-tls.so" in libs, libs


@pytest.mark.parametrize("cert, status", [("server", 101), ("wrong", 502)])
def test_ipv6_backend_address_is_verified(pki, tls_backend, cert, status):
    b = tls_backend(*getattr(pki, cert), host="::1")
    url = f"wss://[::1]:{b.port}/"
    res, log, code = pipe(["--backend-ca", pki.ca, url])
    assert res.status == status, log
    assert b.sni == [None]          # an address: no SNI (RFC 6066)
    if status == 502:
        assert "IP address mismatch" in tls_warning(log, url)


# ====================================================== backend side: failures

@pytest.mark.parametrize("case", ["system-store", "other-ca", "signed-by-other-ca",
                                  "wrong-name", "expired"])
def test_backend_certificate_failure_is_502_with_reason(pki, tls_backend, case):
    cert, args, reason = {
        "system-store": (pki.server, [],
                         "certificate verification failed: unable to get local issuer certificate"),
        "other-ca": (pki.server, ["--backend-ca", pki.ca2],
                     "certificate verification failed: unable to get local issuer certificate"),
        "signed-by-other-ca": (pki.unknown, ["--backend-ca", pki.ca],
                               "certificate verification failed: unable to get local issuer certificate"),
        "wrong-name": (pki.wrong, ["--backend-ca", pki.ca],
                       "certificate verification failed: hostname mismatch"),
        "expired": (pki.expired, ["--backend-ca", pki.ca],
                    "certificate verification failed: certificate has expired"),
    }[case]
    b = tls_backend(*cert)
    url = f"wss://localhost:{b.port}/"
    res, log, code = pipe([*args, url])
    assert res.status == 502, log
    assert res.get("Connection") == "close"
    assert code == 1
    line = tls_warning(log, url)
    assert reason.lower() in line.lower(), line
    if "issuer" in reason:
        assert "--backend-ca" in line, line
    acc = H.access_lines(log)
    assert len(acc) == 1 and acc[0]["status"] == "502", log
    # the backend saw a handshake that the verifying side broke off
    assert wslib.wait_for(lambda: b.conns and b.conns[0]["done"].is_set(), 5)
    assert b.conns[0]["head"] is None


def test_backend_speaking_plain_tcp_is_502_with_reason(echo_backend):
    b = echo_backend()          # the python3-websockets echo, plain ws://
    url = f"wss://localhost:{b.port}/"
    t0 = time.monotonic()
    res, log, code = pipe(["--connect-timeout", "3", url])
    assert time.monotonic() - t0 < 2.5
    assert (res.status, code) == (502, 1), log
    line = tls_warning(log, url)
    assert "wrong version number" in line and "does the backend speak TLS?" in line, line


def test_backend_silent_during_handshake_is_504_within_connect_timeout():
    b = H.SilentBackend()
    try:
        url = f"wss://localhost:{b.port}/"
        t0 = time.monotonic()
        res, log, code = pipe(["--connect-timeout", "1", url])
        took = time.monotonic() - t0
    finally:
        b.close()
    assert (res.status, code) == (504, 1), log
    assert 0.9 <= took < 1 + SLACK, took
    line = tls_warning(log, url)
    assert "TLS handshake timed out" in line, line
    assert H.access_lines(log)[0]["status"] == "504"


def test_backend_offering_only_tls_1_1_is_refused(pki, tls_backend):
    old = tls_backend(*pki.server, tls_min=ssl.TLSVersion.TLSv1_1,
                      tls_max=ssl.TLSVersion.TLSv1_1, weak=True)
    # the backend really speaks TLS 1.1 to a client that allows it
    ctx = H.client_context(pki.ca, tls_min=ssl.TLSVersion.TLSv1_1,
                           tls_max=ssl.TLSVersion.TLSv1_1, weak=True)
    with H.tls_connect(old.port, ctx) as c:
        assert c.version() == "TLSv1.1"
    url = f"wss://localhost:{old.port}/"
    res, log, code = pipe(["--backend-ca", pki.ca, url])
    assert (res.status, code) == (502, 1), log
    assert "protocol version" in tls_warning(log, url)


# ====================================================== --backend-insecure

def test_backend_insecure_connects_and_warns_once_per_connection(pki, tls_backend,
                                                                 activated):
    wrong = tls_backend(*pki.wrong)
    unknown = tls_backend(*pki.unknown)
    expired = tls_backend(*pki.expired)
    ua, ub = f"wss://localhost:{wrong.port}/", f"wss://localhost:{unknown.port}/"
    uc = f"wss://localhost:{expired.port}/"
    s = activated(["--backend-insecure", f"/a={ua}", f"/b={ub}", f"/c={uc}"])
    for path in ("/a", "/b", "/c"):
        with s.connect() as c:
            c.sendall(wslib.upgrade_request(path))
            head, err = H.read_head(c)
            res = wslib.Response(head)
            assert res.status == 101, (head, err, s.log())
            tunnel_echo(c, res.rest)
    lines = H.wait_access(s.log, 3)
    assert [l["status"] for l in lines] == ["101", "101", "101"]
    warnings = H.lines_with(s.log(), "--backend-insecure")
    assert len(warnings) == 3, s.log()
    for url, w in zip((ua, ub, uc), warnings):
        assert f"backend {url}: certificate not verified" in w, warnings
    assert [c["head"] is not None for c in
            wrong.conns + unknown.conns + expired.conns] == [True, True, True]


# ====================================================== --backend-sni

def test_backend_sni_overrides_the_name_sent_and_verified(pki, tls_backend):
    b = tls_backend(*pki.sni)       # only DNS:backend.internal.test
    url = f"wss://127.0.0.1:{b.port}/"
    res, log, code = pipe(["--backend-ca", pki.ca,
                           "--backend-sni", "backend.internal.test", url])
    assert (res.status, code) == (101, 0), log
    assert b.sni == ["backend.internal.test"]
    hosts = b.header("Host")
    assert hosts == [f"127.0.0.1:{b.port}"], hosts
    res, log, code = pipe(["--backend-ca", pki.ca, url])
    assert (res.status, code) == (502, 1), log
    assert b.sni == ["backend.internal.test", None]
    assert "certificate verification failed: IP address mismatch" in tls_warning(log, url)
    # the overriding name is verified too
    res, log, code = pipe(["--backend-ca", pki.ca,
                           "--backend-sni", "other.internal.test", url])
    assert (res.status, code) == (502, 1), log
    assert b.sni[-1] == "other.internal.test"
    assert "hostname mismatch" in tls_warning(log, url).lower()


# ====================================================== wss://unix:

def test_wss_unix_socket_backend(pki, echo_backend, activated, short_dir):
    path = os.path.join(short_dir, "tls.sock")
    b = echo_backend(where=f"unix:{path}", tls=pki.server)
    s = activated(["--backend-ca", pki.ca, f"/u=wss://unix:{path}:/inner"])

    async def talk():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/u/x",
                                      max_size=None) as ws:
            got = []
            for m in ["over unix", os.urandom(200000), "again"]:
                await ws.send(m)
                got.append((m, await ws.recv()))
            return got
    for sent, got in asyncio.run(asyncio.wait_for(talk(), 20)):
        assert sent == got
    assert echo_headers(b)["path"] == "/inner/x"
    line = H.wait_access(s.log)[0]
    assert line["status"] == "101", s.log()


def test_wss_unix_socket_backend_is_verified(pki, tls_backend, short_dir):
    path = os.path.join(short_dir, "wrong.sock")
    tls_backend(*pki.wrong, unix=path)
    url = f"wss://unix:{path}:/"
    res, log, code = pipe(["--backend-ca", pki.ca, url])
    assert (res.status, code) == (502, 1), log
    assert "hostname mismatch" in tls_warning(log, url).lower()


# ====================================================== mutual TLS to the backend

def test_backend_mutual_tls_with_client_certificate(pki, tls_backend):
    b = tls_backend(*pki.server, client_ca=pki.ca)
    res, log, code = pipe(["--backend-ca", pki.ca, "--backend-cert", pki.client[0],
                           "--backend-key", pki.client[1], f"wss://localhost:{b.port}/"])
    assert (res.status, code) == (101, 0), log
    assert b.conns[0]["peercert"]["subject"] == ((("commonName", "test client"),),)


def test_backend_mutual_tls_without_client_certificate_is_502_with_reason(
        pki, tls_backend):
    b = tls_backend(*pki.server, client_ca=pki.ca)
    url = f"wss://localhost:{b.port}/"
    res, log, code = pipe(["--backend-ca", pki.ca, url])
    assert (res.status, code) == (502, 1), log
    assert wslib.wait_for(lambda: b.conns and b.conns[0]["done"].is_set(), 5)
    assert "did not return a certificate" in str(b.conns[0]["error"])
    assert b.conns[0]["head"] is None
    # the backend's alert says it wants a certificate: the log must say so
    # (a bare "backend closed before answering" gives a user nothing to act on)
    assert "certificate required" in log, log


# ====================================================== client side

def test_client_tls_alpn_forwarded_proto_and_echo(pki, raw_backend, activated):
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    ctx = H.client_context(pki.ca, alpn=["h2", "http/1.1"])
    with H.tls_connect(s.port, ctx) as c:
        assert c.selected_alpn_protocol() == "http/1.1"
        assert c.version() == "TLSv1.3"
        assert c.getpeercert()["serialNumber"] == H.serial_of(pki.server[0])
        c.sendall(wslib.upgrade_request("/p", host="localhost"))
        head, err = H.read_head(c)
        res = wslib.Response(head)
        assert res.status == 101, (head, err)
        tunnel_echo(c, res.rest, 5000)
    assert wslib.wait_for(lambda: b.heads, 5)
    _, headers = b.request_headers(0)
    assert [v for n, v in headers if n.lower() == "x-forwarded-proto"] == ["https"]
    line = H.wait_access(s.log)[0]
    assert (line["status"], line["path"]) == ("101", "/p")


def s_client(port, *args, stdin=b"", timeout=10):
    """openssl s_client against wstunnel's TLS port: its output."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return (p.stdout + p.stderr).decode(errors="replace")


def test_client_tls_server_cipher_preference(pki, raw_backend, activated):
    """TLS 1.2: the server's order wins over the client's (the client lists
    AES-128 first; OpenSSL's default order puts AES-256 first)."""
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    ctx = H.client_context(pki.ca, tls_max=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:"
                    "ECDHE-ECDSA-AES256-GCM-SHA384")
    with H.tls_connect(s.port, ctx) as c:
        assert c.version() == "TLSv1.2"
        assert c.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384", c.cipher()


def test_client_tls_renegotiation_refused(pki, raw_backend, activated):
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    out = s_client(s.port, "-tls1_2", "-CAfile", pki.ca, stdin=b"R\n")
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, out
    line = H.wait_access(s.log)[0]
    assert line["status"] == "-", line
    assert b.connections == 0


def test_client_tls_with_websockets_client_and_tls_backend(pki, echo_backend,
                                                           activated):
    b = echo_backend(tls=pki.server)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))

    async def talk():
        async with websockets.connect(f"wss://127.0.0.1:{s.port}/both",
                                      ssl=H.client_context(pki.ca),
                                      server_hostname="localhost",
                                      max_size=None) as ws:
            got = []
            for m in ["a", os.urandom(300000), "b" * 70000]:
                await ws.send(m)
                got.append((m, await ws.recv()))
            return got
    for sent, got in asyncio.run(asyncio.wait_for(talk(), 20)):
        assert sent == got
    hello = echo_headers(b)
    assert ["X-Forwarded-Proto", "https"] in hello["headers"]
    assert H.wait_access(s.log)[0]["status"] == "101"


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_client_tls_versions_accepted(pki, raw_backend, activated, version):
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    v = getattr(ssl.TLSVersion, version)
    ctx = H.client_context(pki.ca, tls_min=v, tls_max=v)
    with H.tls_connect(s.port, ctx) as c:
        assert c.version() == version.replace("_", ".")
        c.sendall(wslib.upgrade_request("/", host="localhost"))
        head, err = H.read_head(c)
        res = wslib.Response(head)
        assert res.status == 101, (head, err)
        tunnel_echo(c, res.rest)


def test_client_tls_1_1_is_refused(pki, raw_backend, activated, tls_backend):
    # the client below really does TLS 1.1 with a server that allows it
    old = tls_backend(*pki.server, tls_min=ssl.TLSVersion.TLSv1_1,
                      tls_max=ssl.TLSVersion.TLSv1_1, weak=True)
    ctx = H.client_context(pki.ca, tls_min=ssl.TLSVersion.TLSv1_1,
                           tls_max=ssl.TLSVersion.TLSv1_1, weak=True)
    with H.tls_connect(old.port, ctx) as c:
        assert c.version() == "TLSv1.1"
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    raw = s.connect()
    with raw:
        with pytest.raises(ssl.SSLError) as e:
            ctx.wrap_socket(raw, server_hostname="localhost")
        assert "PROTOCOL_VERSION" in str(e.value).upper(), e.value
    line = H.wait_access(s.log)[0]
    assert line["end"] == "tls-failed", s.log()
    assert H.lines_with(s.log(), "TLS: unsupported protocol"), s.log()
    assert b.connections == 0


def plain_http_on_tls_port(pki, raw_backend, activated):
    """Sends a plain upgrade request to the TLS port; returns (bytes
    received, the reset error or None, seconds to the close, server,
    backend)."""
    b = raw_backend()
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    with s.connect() as c:
        t0 = time.monotonic()
        c.sendall(wslib.upgrade_request("/", host="localhost"))
        data, reset = b"", None
        c.settimeout(5)
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            raise AssertionError(f"no close within 5 s; got {data!r}")
        except ConnectionResetError as e:
            reset = e
        took = time.monotonic() - t0
    return data, reset, took, s, b


def test_plain_http_client_on_tls_port_is_closed_without_http(pki, raw_backend,
                                                              activated):
    data, reset, took, s, b = plain_http_on_tls_port(pki, raw_backend, activated)
    assert took < 2.0, took
    assert b"HTTP" not in data, data
    assert H.wait_access(s.log)[0]["end"] == "tls-failed", s.log()
    assert H.lines_with(s.log(), "TLS: http request (the client does not speak TLS)"), s.log()
    assert b.connections == 0


def test_plain_http_client_on_tls_port_gets_fin_not_reset(pki, raw_backend,
                                                          activated):
    """A clean close is a FIN: wstunnel exits with the rest of the request
    unread, and the kernel answers that with a reset instead."""
    data, reset, took, s, b = plain_http_on_tls_port(pki, raw_backend, activated)
    assert b"HTTP" not in data, data
    assert reset is None, f"connection reset (after {data!r}) instead of a clean close"


def test_silent_client_closed_within_handshake_timeout(pki, raw_backend,
                                                       activated):
    b = raw_backend()
    s = activated(["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
                   "--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    with s.connect() as c:
        t0 = time.monotonic()
        c.settimeout(5)
        try:
            data = c.recv(65536)
        except socket.timeout:
            raise AssertionError("a silent client was not closed in 5 s")
        took = time.monotonic() - t0
    assert data == b""
    assert 0.8 <= took < 1 + SLACK, took
    assert H.wait_access(s.log)[0]["end"] == "tls-failed", s.log()
    assert H.lines_with(s.log(), "TLS handshake timed out"), s.log()


def test_slow_tls_client_shares_the_handshake_timeout(pki, raw_backend,
                                                      activated):
    """The TLS handshake and the request head share --handshake-timeout:
    a client that finishes TLS and then dribbles its request past the
    deadline gets 408."""
    b = raw_backend()
    s = activated(["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
                   "--handshake-timeout", "1", f"ws://127.0.0.1:{b.port}"])
    with H.tls_connect(s.port, H.client_context(pki.ca)) as c:
        t0 = time.monotonic()
        c.sendall(b"GET / HTTP/1.1\r\n")
        head, err = H.read_head(c, timeout=5)
        took = time.monotonic() - t0
    assert wslib.Response(head).status == 408, (head, err)
    assert took < 1 + SLACK, took
    assert b.connections == 0


class TestClientCertificates:
    @pytest.fixture
    def server(self, pki, raw_backend, activated):
        b = raw_backend()
        s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}",
                                      "--tls-client-ca", pki.ca))
        return s, b

    def test_with_client_certificate(self, pki, server):
        s, b = server
        ctx = H.client_context(pki.ca, cert=pki.client)
        with H.tls_connect(s.port, ctx) as c:
            c.sendall(wslib.upgrade_request("/", host="localhost"))
            head, err = H.read_head(c)
            res = wslib.Response(head)
            assert res.status == 101, (head, err)
            tunnel_echo(c, res.rest)
        assert H.wait_access(s.log)[0]["status"] == "101"

    def test_without_certificate_tls12_handshake_fails(self, pki, server):
        s, b = server
        ctx = H.client_context(pki.ca, tls_max=ssl.TLSVersion.TLSv1_2)
        raw = s.connect()
        with raw:
            with pytest.raises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="localhost")
        assert H.wait_access(s.log)[0]["end"] == "tls-failed", s.log()
        assert H.lines_with(s.log(), "did not return a certificate"), s.log()
        assert b.connections == 0

    def test_without_certificate_tls13_gets_no_http(self, pki, server):
        s, b = server
        ctx = H.client_context(pki.ca)
        data, error = b"", None
        try:
            with H.tls_connect(s.port, ctx) as c:
                # TLS 1.3: the server's verdict on the client comes after
                # the client finished its handshake
                c.sendall(wslib.upgrade_request("/", host="localhost"))
                data, error = H.read_head(c, 5)
        except ssl.SSLError as e:
            error = e
        assert b"HTTP" not in data, data
        # the alert (tlsv13 alert certificate required), or, when the
        # request crossed it, the close that followed
        assert isinstance(error, (ssl.SSLError, ConnectionResetError)), error
        assert H.wait_access(s.log)[0]["end"] == "tls-failed", s.log()
        assert H.lines_with(s.log(), "did not return a certificate"), s.log()
        assert b.connections == 0

    def test_certificate_of_another_ca_refused(self, pki, server):
        s, b = server
        ctx = H.client_context(pki.ca, cert=pki.client2,
                               tls_max=ssl.TLSVersion.TLSv1_2)
        raw = s.connect()
        with raw:
            with pytest.raises(ssl.SSLError) as e:
                ctx.wrap_socket(raw, server_hostname="localhost")
        assert "UNKNOWN_CA" in str(e.value).upper(), e.value
        assert H.wait_access(s.log)[0]["end"] == "tls-failed", s.log()
        assert H.lines_with(s.log(), "client certificate verification failed",
                            "unable to get local issuer certificate"), s.log()
        assert b.connections == 0


def test_replaced_certificate_served_on_next_connection(pki, raw_backend,
                                                        activated, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(pki.server[0], cert)
    shutil.copy(pki.server[1], key)
    b = raw_backend()
    s = activated(["--tls-cert", str(cert), "--tls-key", str(key),
                   f"ws://127.0.0.1:{b.port}"])
    ctx = H.client_context(pki.ca)

    def served():
        with H.tls_connect(s.port, ctx) as c:
            pc = c.getpeercert()
            c.sendall(wslib.upgrade_request("/", host="localhost"))
            head, err = H.read_head(c)
            res = wslib.Response(head)
            assert res.status == 101, (head, err)
            tunnel_echo(c, res.rest)
            return pc["serialNumber"], pc["subject"]

    first = served()
    assert first == (H.serial_of(pki.server[0]), ((("commonName", "localhost"),),))
    for src, dst in ((pki.server_b[1], key), (pki.server_b[0], cert)):
        tmp = dst.with_suffix(".new")
        shutil.copy(src, tmp)
        os.replace(tmp, dst)
    second = served()
    assert second == (H.serial_of(pki.server_b[0]),
                      ((("commonName", "localhost replacement"),),))
    assert [l["status"] for l in H.wait_access(s.log, 2)] == ["101", "101"]


# ====================================================== the relay over TLS

def test_tls_both_sides_large_payloads_both_ways_at_once(pki, tls_backend,
                                                         activated):
    n = 6 * MiB
    up_data, down_data = os.urandom(n), os.urandom(n)
    result = {}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        result["got"] = H.duplex(conn, down_data, n, timeout=40, initial=rest)

    b = tls_backend(*pki.server, handler=handler)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca), "/bulk")
    with c:
        got = H.duplex(c, up_data, n, timeout=40, initial=res.rest)
    assert wslib.wait_for(lambda: b.conns and b.conns[0]["done"].is_set(), 30)
    assert b.conns[0]["error"] is None, b.conns[0]["error"]
    assert got == (n, hashlib.sha256(down_data).hexdigest()), \
        "backend->client bytes differ"
    assert result["got"] == (n, hashlib.sha256(up_data).hexdigest()), \
        "client->backend bytes differ"
    line = H.wait_access(s.log)[0]
    assert line["status"] == "101"
    assert (line["up"], line["down"]) == (str(n), str(n)), line


def test_tls_backpressure_client_stops_reading(pki, tls_backend, activated):
    total = 64 * MiB
    progress = {"sent": 0, "hash": hashlib.sha256(), "error": None}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        conn.settimeout(30)
        try:
            for chunk in H.stream(7, total, 64 * 1024):
                conn.sendall(chunk)
                progress["hash"].update(chunk)
                progress["sent"] += len(chunk)
        except OSError as e:
            progress["error"] = e

    b = tls_backend(*pki.server, handler=handler)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca))
    with c:
        pid = H.only_child(s)
        # the client reads nothing: the backend must come to a stop
        stopped = H.wait_stalled(lambda: progress["sent"])
        stalled = progress["sent"]
        rss = H.rss_kb(pid)
        assert 0 < stalled < total, f"backend sent {stalled} of {total} to a client that does not read"
        assert stopped, "the backend never stopped"
        assert rss < wslib.rss_limit_kb(20 * 1024), f"wstunnel VmRSS {rss} kB"
        # the client resumes: every byte, in order
        h = hashlib.sha256(res.rest)
        count = len(res.rest)
        c.settimeout(20)
        while count < total:
            chunk = c.recv(1 << 20)
            assert chunk, f"EOF after {count} of {total}"
            h.update(chunk)
            count += len(chunk)
    assert progress["error"] is None, progress["error"]
    assert (count, h.hexdigest()) == (total, progress["hash"].hexdigest())
    assert H.wait_access(s.log)[0]["down"] == str(total)


def test_tls_backpressure_backend_stops_reading(pki, tls_backend, activated):
    total = 64 * MiB
    resume = threading.Event()
    got = {}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        resume.wait(20)         # reads nothing until then
        h, count = hashlib.sha256(rest), len(rest)
        conn.settimeout(20)
        while count < total:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            count += len(chunk)
        got["data"] = (count, h.hexdigest())

    b = tls_backend(*pki.server, handler=handler)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca))
    progress = {"sent": 0, "hash": hashlib.sha256(), "error": None}

    def writer():               # the only user of c until it is joined
        c.settimeout(30)
        try:
            for chunk in H.stream(11, total, 64 * 1024):
                c.sendall(chunk)
                progress["hash"].update(chunk)
                progress["sent"] += len(chunk)
        except OSError as e:
            progress["error"] = e

    with c:
        pid = H.only_child(s)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            H.wait_stalled(lambda: progress["sent"])
            stalled = progress["sent"]
            rss = H.rss_kb(pid)
        finally:
            resume.set()
        t.join(30)
        assert not t.is_alive()
        assert 0 < stalled < total, f"client sent {stalled} of {total} to a backend that does not read"
        assert rss < wslib.rss_limit_kb(20 * 1024), f"wstunnel VmRSS {rss} kB"
        assert progress["error"] is None, progress["error"]
        assert wslib.wait_for(lambda: "data" in got, 20)
    assert got["data"] == (total, progress["hash"].hexdigest()), \
        "bytes lost or reordered after back-pressure"


def test_key_update_while_writes_to_that_client_are_held(pki, raw_backend,
                                                        activated):
    """A TLS 1.3 KeyUpdate with an update requested obliges wstunnel to
    answer with a KeyUpdate of its own.  It arrives while wstunnel's writes
    to that client are held by back-pressure (the client reads nothing,
    the backend streams), so the answer cannot be written yet.  wstunnel
    must neither spin nor stall: the bytes that came with the KeyUpdate
    reach the backend once the client reads again, without waiting for
    more from the client, and both directions complete in order."""
    down = os.urandom(24 * MiB)
    up = [os.urandom(32 * 1024), os.urandom(32 * 1024)]
    st = {"sent": 0, "up": b""}

    def handler(conn, head, rest):
        H.send_101(conn, head)

        def stream():
            view = memoryview(down)
            try:
                for i in range(0, len(view), 65536):
                    conn.sendall(view[i:i + 65536])
                    st["sent"] = min(i + 65536, len(view))
            except OSError as e:
                st["down_error"] = e
        t = threading.Thread(target=stream, daemon=True)
        t.start()
        got = bytes(rest)
        conn.settimeout(20)
        try:
            while len(got) < sum(map(len, up)):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
                st["up"] = got
        except OSError as e:
            st["up_error"] = e
        t.join(30)
        st["done"] = True

    b = raw_backend(handler)
    s = activated(client_tls_args(pki, f"ws://127.0.0.1:{b.port}"))
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c = H.RawTLS(sock, pki.ca)
    try:
        c.sendall(wslib.upgrade_request("/ku", host="localhost"))
        data = b""
        while b"\r\n\r\n" not in data:
            more = c.recv(65536)
            assert more, data
            data += more
        head, _, got = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        got = bytearray(got)
        # wait until the stream toward this client has come to a stop
        H.wait_stalled(lambda: st["sent"], quiet=0.6, timeout=15, step=0.2)
        assert 0 < st["sent"] < len(down), "the stream did not stop"
        pid = H.only_child(s)
        c.key_update(requested=True)
        c.sendall(up[0])
        # held: wstunnel waits to write, it does not spin retrying a read
        cpu0 = cpu_seconds(pid)
        time.sleep(1.0)
        spent = cpu_seconds(pid) - cpu0
        assert spent < 0.3, f"wstunnel spun for {spent:.2f} s of CPU"
        while len(got) < len(down):
            more = c.recv(65536)
            assert more, f"end of stream after {len(got)} bytes"
            got += more
        assert bytes(got) == down, "stream toward the client damaged"
        assert wslib.wait_for(lambda: len(st["up"]) >= len(up[0]), 5), \
            f"backend has {len(st['up'])} of the {len(up[0])} bytes sent " \
            "with the KeyUpdate"
        c.key_update(requested=True)    # and once more, unhindered
        c.sendall(up[1])
        assert wslib.wait_for(lambda: "done" in st, 15)
    finally:
        c.close()
    assert st["up"] == b"".join(up), (len(st["up"]), st.get("up_error"))
    assert "down_error" not in st, st["down_error"]


def test_backend_close_notify_reaches_client_as_clean_close(pki, tls_backend,
                                                            activated):
    data = os.urandom(300000)
    unwrapped = {}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        conn.sendall(data)
        conn.settimeout(10)
        try:
            conn.unwrap()       # close_notify; waits for the peer's
            unwrapped["ok"] = True
        except OSError as e:
            unwrapped["ok"] = e

    b = tls_backend(*pki.server, handler=handler)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca))
    with c:
        got = H.recv_exact(c, len(data), initial=res.rest)
        assert got == data
        c.settimeout(5)
        assert H.recv_end(c) == b""     # with a close_notify
        c.unwrap()              # ours back: the backend's unwrap completes
    assert wslib.wait_for(lambda: "ok" in unwrapped, 10)
    assert unwrapped["ok"] is True, unwrapped["ok"]
    line = H.wait_access(s.log)[0]
    assert line["end"] == "backend-closed", line
    assert line["down"] == str(len(data))


def test_client_close_notify_reaches_backend_as_clean_close(pki, tls_backend,
                                                            activated):
    data = os.urandom(200000)
    seen = {}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        conn.settimeout(10)
        got = bytearray(rest)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
            seen["eof"] = "clean"
        except OSError as e:
            seen["eof"] = e
        seen["data"] = bytes(got)
        try:
            conn.unwrap()
            seen["unwrap"] = True
        except OSError as e:
            seen["unwrap"] = e

    b = tls_backend(*pki.server, handler=handler)
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca))
    with c:
        c.sendall(data)
        c.settimeout(10)
        c.unwrap()              # returns when the backend's close_notify came
    assert wslib.wait_for(lambda: "unwrap" in seen, 10)
    assert seen["eof"] == "clean", seen["eof"]
    assert seen["data"] == data
    assert seen["unwrap"] is True, seen["unwrap"]
    line = H.wait_access(s.log)[0]
    assert line["end"] == "client-closed", line
    assert line["up"] == str(len(data))


@pytest.mark.parametrize("ending", ["idle-timeout", "signal"])
def test_session_ended_by_wstunnel_sends_close_notify_both_ways(
        pki, tls_backend, activated, ending):
    """A tunnel that wstunnel ends itself (--idle-timeout, SIGTERM) is not a
    truncation: both TLS peers get a close_notify before the FIN."""
    seen = {}

    def handler(conn, head, rest, info):
        H.send_101(conn, head)
        conn.settimeout(10)
        try:
            seen["eof"] = "clean" if conn.recv(65536) == b"" else "data"
        except OSError as e:
            seen["eof"] = repr(e)

    b = tls_backend(*pki.server, handler=handler)
    more = ["--idle-timeout", "1"] if ending == "idle-timeout" else []
    s = activated(client_tls_args(pki, f"wss://localhost:{b.port}/",
                                  "--backend-ca", pki.ca, *more))
    c, res = H.open_tls_tunnel(s.port, H.client_context(pki.ca))
    with c:
        if ending == "signal":
            os.kill(H.only_child(s), 15)
        c.settimeout(10)
        assert H.recv_end(c) == b""     # with a close_notify
    assert wslib.wait_for(lambda: "eof" in seen, 10)
    assert seen["eof"] == "clean", seen["eof"]
    line = H.wait_access(s.log)[0]
    assert line["end"] == ending, line


# ====================================================== --check

@pytest.mark.parametrize("case", ["missing-cert", "garbage-cert", "missing-key",
                                  "key-mismatch", "missing-backend-ca",
                                  "missing-client-ca", "missing-backend-cert"])
def test_check_reports_bad_tls_files(pki, tmp_path, case):
    missing = str(tmp_path / "no" / "such.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    wss = "wss://localhost:9/"
    ws = "ws://127.0.0.1:9/"
    args, named = {
        "missing-cert": (["--tls-cert", missing, "--tls-key", pki.server[1], ws], [missing]),
        "garbage-cert": (["--tls-cert", str(garbage), "--tls-key", pki.server[1], ws],
                         [str(garbage)]),
        "missing-key": (["--tls-cert", pki.server[0], "--tls-key", missing, ws], [missing]),
        "key-mismatch": (["--tls-cert", pki.server[0], "--tls-key", pki.wrong[1], ws],
                         [pki.server[0], pki.wrong[1]]),
        "missing-backend-ca": (["--backend-ca", missing, wss], [missing]),
        "missing-client-ca": (["--tls-cert", pki.server[0], "--tls-key", pki.server[1],
                               "--tls-client-ca", missing, ws], [missing]),
        "missing-backend-cert": (["--backend-cert", missing, "--backend-key",
                                  pki.client[1], wss], [missing]),
    }[case]
    out, err, code = H.run(["--check", *args])
    assert code == 64, (code, err)
    assert out == b""
    msg = err.strip()
    assert msg and len(msg.splitlines()) == 1, err
    assert any(f in msg for f in named), msg
    if case == "key-mismatch":
        assert "match" in msg, msg


def test_check_accepts_good_tls_files(pki):
    out, err, code = H.run(["--check", "--tls-cert", pki.server[0], "--tls-key",
                            pki.server[1], "--tls-client-ca", pki.ca,
                            "--backend-ca", pki.ca, "--backend-cert", pki.client[0],
                            "--backend-key", pki.client[1], "wss://localhost:9/"])
    assert code == 0 and wslib.check_ok(err), err
    assert out == b""
