"""Helpers for test_tls.py: a private PKI made with the openssl CLI, TLS
backends (TCP or unix socket) that record what they saw, TLS clients, and a
single-threaded pump that moves bytes both ways over one TLS socket.
Everything is on loopback and every wait is bounded."""
import hashlib
import random
import re
import select
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import wslib

MiB = 1 << 20

# ---------------------------------------------------------------- the PKI

REQ_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

LEAF_EXT = """\
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = {eku}
{san}
authorityKeyIdentifier = keyid
"""

CA_CNF = """\
[ca]
default_ca = testca
[testca]
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
certificate = {cert}
private_key = {key}
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
"""


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


def make_pki(d):
    """Writes the test PKI into directory d; returns its paths:
    ca, ca2 (a CA that signed nothing we serve to wstunnel), and pairs
    (cert, key) server (localhost, 127.0.0.1, ::1), server_b (the same names,
    another serial and subject), wrong (wrong.example only), sni
    (backend.internal.test only), expired (localhost, 127.0.0.1, expired in
    2020), unknown (localhost, 127.0.0.1, signed by ca2), client (client
    certificate of ca), client2 (client certificate of ca2)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    (d / "req.cnf").write_text(REQ_CNF)
    p = SimpleNamespace(dir=d)
    serial = [0x5000]

    def new_ca(name, cn):
        _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.pem", "-subj", f"/CN={cn}", "-days", "30",
                 "-config", "req.cnf", "-extensions", "v3_ca", cwd=d)
        return str(d / f"{name}.pem"), str(d / f"{name}.key")

    def leaf(name, cn, ca, san=None, client=False, expired=False):
        ext = LEAF_EXT.format(
            eku="clientAuth" if client else "serverAuth",
            san=f"subjectAltName = {san}" if san else "")
        (d / f"{name}.ext").write_text(ext)
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                 "-config", "req.cnf", cwd=d)
        serial[0] += 1
        if expired:
            db = d / "db"
            (db / "new").mkdir(parents=True, exist_ok=True)
            (db / "index.txt").write_text("")
            (db / "serial").write_text(f"{serial[0]:X}\n")
            (d / "ca.cnf").write_text(CA_CNF.format(d=db, cert=ca[0], key=ca[1]))
            _openssl("ca", "-batch", "-notext", "-config", "ca.cnf", "-in",
                     f"{name}.csr", "-out", f"{name}.pem",
                     "-startdate", "20200101000000Z", "-enddate",
                     "20200201000000Z", "-extfile", f"{name}.ext",
                     "-extensions", "leaf", cwd=d)
        else:
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca[0],
                     "-CAkey", ca[1], "-set_serial", str(serial[0]), "-days",
                     "30", "-extfile", f"{name}.ext", "-extensions", "leaf",
                     "-out", f"{name}.pem", cwd=d)
        return str(d / f"{name}.pem"), str(d / f"{name}.key")

    ca = new_ca("ca", "wstunnel test CA")
    ca2 = new_ca("ca2", "wstunnel other CA")
    p.ca, p.ca2 = ca[0], ca2[0]
    names = "DNS:localhost,IP:127.0.0.1,IP:::1"
    p.server = leaf("server", "localhost", ca, names)
    p.server_b = leaf("server_b", "localhost replacement", ca, names)
    p.wrong = leaf("wrong", "wrong.example", ca, "DNS:wrong.example")
    p.sni = leaf("sni", "backend.internal.test", ca, "DNS:backend.internal.test")
    p.expired = leaf("expired", "expired", ca, names, expired=True)
    p.unknown = leaf("unknown", "localhost", ca2, names)
    p.client = leaf("client", "test client", ca, client=True)
    p.client2 = leaf("client2", "stranger client", ca2, client=True)
    return p


def serial_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout",
                          "-serial"], capture_output=True, text=True,
                         timeout=10).stdout
    return out.strip().partition("=")[2].upper()


# ---------------------------------------------------------------- contexts

def server_context(cert, key, client_ca=None, sni_seen=None, tls_max=None,
                   tls_min=None, weak=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if weak:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if tls_min is not None:
        with warnings.catch_warnings():    # TLSv1_1 is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = tls_min
    if tls_max is not None:
        with warnings.catch_warnings():    # TLSv1_1 is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = tls_max
    # a ragged EOF must stay an error, so a close_notify can be told apart
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    if sni_seen is not None:
        def on_sni(sslobj, name, c):
            sni_seen.append(name)
        ctx.sni_callback = on_sni
    return ctx


def client_context(ca, cert=None, tls_max=None, tls_min=None, alpn=None,
                   weak=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if weak:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if tls_min is not None:
        with warnings.catch_warnings():    # TLSv1_1 is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = tls_min
    if tls_max is not None:
        with warnings.catch_warnings():    # TLSv1_1 is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = tls_max
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def tls_connect(port, ctx, name="localhost", timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=name,
                               suppress_ragged_eofs=False)
    except BaseException:
        raw.close()
        raise


# ---------------------------------------------------------------- reading

def read_head(sock, timeout=10, initial=b""):
    """Reads until the end of an HTTP head, EOF, error or timeout; returns
    (bytes, error or None)."""
    data = initial
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, "timeout"
        except OSError as e:
            return data, e
        if not chunk:
            return data, None
        data += chunk
    return data, None


def recv_exact(sock, n, timeout=10, initial=b""):
    data = bytearray(initial)
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(data)} of {n} bytes in {timeout}s"
        sock.settimeout(left)
        chunk = sock.recv(n - len(data))
        assert chunk, f"EOF after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def open_tls_tunnel(port, ctx, path="/", timeout=10, extra=()):
    """A TLS client through wstunnel's client side: (sslsocket, Response)."""
    c = tls_connect(port, ctx, timeout=timeout)
    c.sendall(wslib.upgrade_request(path, host="localhost", extra=extra))
    head, err = read_head(c, timeout)
    res = wslib.Response(head)
    assert res.status == 101, (head, err)
    return c, res


def stream(seed, n, chunk=256 * 1024):
    """n deterministic pseudo-random bytes, in chunks."""
    rnd = random.Random(seed)
    while n > 0:
        k = min(chunk, n)
        yield rnd.randbytes(k)
        n -= k


def duplex(sock, out, expect, timeout=60, initial=b""):
    """Sends the bytes out while receiving expect bytes on one (TLS) socket,
    in this thread, non-blocking: OpenSSL objects are not shared between
    threads.  Returns (received count, sha256 hex)."""
    sock.setblocking(False)
    h = hashlib.sha256(initial)
    got, sent = len(initial), 0
    view = memoryview(out)
    deadline = time.monotonic() + timeout
    try:
        while got < expect or sent < len(out):
            left = deadline - time.monotonic()
            assert left > 0, f"duplex: got {got}/{expect}, sent {sent}/{len(out)}"
            want_r, want_w = got < expect, sent < len(out)
            if not (want_r and sock.pending()):
                select.select([sock] if want_r else [],
                              [sock] if want_w else [], [], min(left, 0.5))
            if want_r:
                try:
                    chunk = sock.recv(256 * 1024)
                    assert chunk, f"duplex: EOF after {got} of {expect} bytes"
                    h.update(chunk)
                    got += len(chunk)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            if want_w:
                try:
                    sent += sock.send(view[sent:sent + 256 * 1024])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
    finally:
        sock.setblocking(True)
    return got, h.hexdigest()


# ---------------------------------------------------------------- backends

def send_101(conn, head, extra=b""):
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                 + wslib.accept_for(wslib.key_of(head)).encode() + b"\r\n"
                 + extra + b"\r\n")


def echo_101(conn, head, rest, info):
    """A valid 101, then the raw bytes echoed until EOF."""
    send_101(conn, head)
    if rest:
        conn.sendall(rest)
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


class TLSBackend:
    """A TLS backend on 127.0.0.1 or a unix socket.  Each connection gets
    a thread: TLS handshake, request head, then handler(conn, head, rest,
    info).  Records SNI names (sni), per connection info dicts (conns:
    peer certificate, TLS version, ALPN, head, handshake error)."""

    def __init__(self, cert, key, handler=echo_101, client_ca=None,
                 unix=None, tls_max=None, tls_min=None, weak=False,
                 host="127.0.0.1"):
        self.sni = []
        self.conns = []
        self.handler = handler
        self.ctx = server_context(cert, key, client_ca=client_ca,
                                  sni_seen=self.sni, tls_max=tls_max,
                                  tls_min=tls_min, weak=weak)
        if unix is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix)
            self.port = None
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host
                                      else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.lock = threading.Lock()
        self._stop = False
        self.threads = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._one, args=(raw,), daemon=True)
            self.threads.append(t)
            t.start()

    def _one(self, raw):
        info = {"error": None, "head": None, "done": threading.Event()}
        with self.lock:
            self.conns.append(info)
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True,
                                        do_handshake_on_connect=False,
                                        suppress_ragged_eofs=False)
        except OSError as e:
            info["error"] = e
            raw.close()
            info["done"].set()
            return
        try:
            try:
                conn.do_handshake()
            except OSError:
                # as a server process that lingers before its close would:
                # the peer reads the alert instead of a reset
                self._linger(conn)
                raise
            info["version"] = conn.version()
            info["alpn"] = conn.selected_alpn_protocol()
            info["peercert"] = conn.getpeercert()
            data, err = read_head(conn, 10)
            head, sep, rest = data.partition(b"\r\n\r\n")
            info["head"] = head + sep
            if sep:
                self.handler(conn, head + sep, rest, info)
        except (OSError, AssertionError) as e:
            info["error"] = e
        finally:
            conn.close()
            info["done"].set()

    @staticmethod
    def _linger(conn, limit=1.0):
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                if not socket.socket.recv(conn, 65536):
                    break
        except OSError:
            pass

    def header(self, name, i=0):
        head = self.conns[i]["head"].decode("latin-1")
        return [l.split(":", 1)[1].strip() for l in head.split("\r\n")[1:]
                if ":" in l and l.split(":", 1)[0].strip().lower() == name.lower()]

    def close(self):
        self._stop = True
        self.sock.close()


class SilentBackend:
    """Accepts TCP connections (the kernel does) and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- processes

def wait_stalled(count, quiet=1.0, timeout=10, step=0.25):
    """Waits until count() has not changed for quiet seconds: whether it
    came to such a stop within timeout."""
    last, since = -1, time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        time.sleep(step)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


def recv_end(sock):
    """What a TLS socket made with suppress_ragged_eofs=False reads at the
    end of its stream: b"" after a close_notify; an end without one raises
    SSLEOFError."""
    try:
        return sock.recv(65536)
    except ssl.SSLZeroReturnError:
        return b""


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def only_child(activated_server, timeout=5):
    assert wslib.wait_for(lambda: len(activated_server.children()) == 1,
                          timeout=timeout), activated_server.children()
    return activated_server.children()[0]


def run(args, data=b"", timeout=15):
    """wstunnel with pipes on fd 0/1 and no --log: (stdout, stderr, code)."""
    p = subprocess.run([wslib.WSTUNNEL, *args], input=data,
                       capture_output=True, timeout=timeout)
    return p.stdout, p.stderr.decode(errors="replace"), p.returncode


# ---------------------------------------------------------------- the log

def parse_access(line):
    _, _, tail = line.partition("]: ")
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', tail or line))


def access_lines(text):
    return [parse_access(l) for l in text.splitlines() if " client=" in l
            or l.startswith("client=")]


def wait_access(read_log, n=1, timeout=10):
    wslib.wait_for(lambda: len(access_lines(read_log())) >= n, timeout=timeout)
    lines = access_lines(read_log())
    assert len(lines) >= n, f"expected {n} access lines, log: {read_log()!r}"
    return lines


def lines_with(text, *words):
    """The log lines that contain every one of words."""
    return [l for l in text.splitlines() if all(w in l for w in words)]


# ---------------------------------------------------------------- libssl

class RawTLS:
    """A TLS 1.3 client driven through libssl itself (ctypes), for what
    Python's ssl module cannot do: a KeyUpdate at a moment the test
    chooses.  Blocking socket; reads are bounded with select()."""

    WANT_READ, WANT_WRITE = 2, 3

    def __init__(self, sock, ca):
        import ctypes
        import ctypes.util
        c = ctypes
        lib = c.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
        for name, res, args in (
                ("TLS_client_method", c.c_void_p, []),
                ("SSL_CTX_new", c.c_void_p, [c.c_void_p]),
                ("SSL_CTX_free", None, [c.c_void_p]),
                ("SSL_CTX_load_verify_locations", c.c_int,
                 [c.c_void_p, c.c_char_p, c.c_char_p]),
                ("SSL_CTX_set_verify", None, [c.c_void_p, c.c_int,
                                              c.c_void_p]),
                ("SSL_new", c.c_void_p, [c.c_void_p]),
                ("SSL_free", None, [c.c_void_p]),
                ("SSL_set_fd", c.c_int, [c.c_void_p, c.c_int]),
                ("SSL_ctrl", c.c_long, [c.c_void_p, c.c_int, c.c_long,
                                        c.c_void_p]),
                ("SSL_connect", c.c_int, [c.c_void_p]),
                ("SSL_get_error", c.c_int, [c.c_void_p, c.c_int]),
                ("SSL_read_ex", c.c_int, [c.c_void_p, c.c_void_p,
                                          c.c_size_t,
                                          c.POINTER(c.c_size_t)]),
                ("SSL_write_ex", c.c_int, [c.c_void_p, c.c_void_p,
                                           c.c_size_t,
                                           c.POINTER(c.c_size_t)]),
                ("SSL_pending", c.c_int, [c.c_void_p]),
                ("SSL_key_update", c.c_int, [c.c_void_p, c.c_int]),
                ("SSL_version", c.c_int, [c.c_void_p])):
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.c, self.lib, self.sock = c, lib, sock
        self.rbuf = c.create_string_buffer(1 << 16)
        sock.setblocking(True)
        # libssl blocks in the kernel: bounded there, not by Python
        tv = struct.pack("ll", 10, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        self.ctx = lib.SSL_CTX_new(lib.TLS_client_method())
        assert lib.SSL_CTX_load_verify_locations(self.ctx, ca.encode(),
                                                 None) == 1
        lib.SSL_CTX_set_verify(self.ctx, 1, None)     # SSL_VERIFY_PEER
        self.ssl = lib.SSL_new(self.ctx)
        lib.SSL_set_fd(self.ssl, sock.fileno())
        # SSL_set_tlsext_host_name: SSL_ctrl(55, TLSEXT_NAMETYPE_host_name)
        lib.SSL_ctrl(self.ssl, 55, 0, c.c_char_p(b"localhost"))
        r = lib.SSL_connect(self.ssl)
        assert r == 1, f"SSL_connect: error {lib.SSL_get_error(self.ssl, r)}"
        assert lib.SSL_version(self.ssl) == 0x304, "not TLS 1.3"

    def key_update(self, requested=True):
        assert self.lib.SSL_key_update(self.ssl, 1 if requested else 0) == 1

    def sendall(self, data):
        c = self.c
        n = c.c_size_t(0)
        buf = c.create_string_buffer(bytes(data), len(data))
        off = 0
        while off < len(data):
            r = self.lib.SSL_write_ex(self.ssl, c.byref(buf, off),
                                      len(data) - off, c.byref(n))
            assert r == 1, f"SSL_write: {self.lib.SSL_get_error(self.ssl, r)}"
            off += n.value

    def recv(self, size, timeout=10):
        """Up to size bytes; b"" at the end of the stream."""
        c = self.c
        if self.lib.SSL_pending(self.ssl) == 0:
            r, _, _ = select.select([self.sock], [], [], timeout)
            assert r, f"nothing to read within {timeout}s"
        size = min(size, len(self.rbuf))    # one buffer, not one per call
        n = c.c_size_t(0)
        r = self.lib.SSL_read_ex(self.ssl, self.rbuf, size, c.byref(n))
        if r == 1:
            return c.string_at(self.rbuf, n.value)
        err = self.lib.SSL_get_error(self.ssl, r)
        assert err in (5, 6), f"SSL_read: error {err}"   # SYSCALL, ZERO_RETURN
        return b""

    def close(self):
        self.lib.SSL_free(self.ssl)
        self.lib.SSL_CTX_free(self.ctx)
        self.sock.close()
