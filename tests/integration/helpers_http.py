"""Helpers for the --http tests: a scripted HTTP backend on RawBackend that
reads each request's body by its framing and records it, and a client
that reads one response by its framing."""
import re
import socket
import time

import wslib


class _Reader:
    """Buffered reads from a socket with one deadline."""

    def __init__(self, conn, initial, timeout):
        self.conn, self.buf = conn, bytearray(initial)
        self.deadline = time.monotonic() + timeout

    def _more(self):
        self.conn.settimeout(max(0.01, self.deadline - time.monotonic()))
        chunk = self.conn.recv(1 << 20)
        if not chunk:
            raise EOFError("peer closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n") + 2
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def read_body(conn, head, rest, timeout=30):
    """The body of the request (or response) head: (body, bytes after it,
    the framing bytes as they came; for a large chunked body only the
    size lines and trailers)."""
    r = _Reader(conn, rest, timeout)
    m = re.search(rb"(?im)^content-length:\s*(\d+)\r$", head)
    if re.search(rb"(?im)^transfer-encoding:\s*chunked\r$", head):
        body, framed = [], []
        while True:
            line = r.line()
            framed.append(line)
            size = int(line[:-2].split(b";")[0], 16)
            if size == 0:
                while True:
                    line = r.line()
                    framed.append(line)
                    if line == b"\r\n":
                        return b"".join(body), bytes(r.buf), b"".join(framed)
            data = r.exact(size + 2)
            body.append(data[:-2])
            framed.append(data if size < 4096 else b"<data>\r\n")
    n = int(m.group(1)) if m else 0
    body = r.exact(n)
    return body, bytes(r.buf), body


class HTTPBackend(wslib.RawBackend):
    """A backend answering each request with respond(head, body) -> bytes
    (a whole response), recording heads, bodies and framing bytes."""

    def __init__(self, respond=None, **kw):
        self.bodies = []
        self.framed = []
        self.respond = respond or (lambda head, body: ok(b"hello"))
        super().__init__(self._handle, **kw)

    def _handle(self, conn, head, rest):
        body, after, framed = read_body(conn, head, rest)
        with self.lock:
            self.bodies.append(body)
            self.framed.append(framed)
        out = self.respond(head, body)
        if out:
            conn.sendall(out)
        # the request said Connection: close: nothing more may come
        conn.settimeout(2)
        try:
            extra = after + conn.recv(65536)
        except socket.timeout:
            extra = after + b"<timeout>"
        with self.lock:
            self.received.append(extra)

    def request_line(self, i=0):
        return self.heads[i].split(b"\r\n", 1)[0].decode("latin-1")

    def header(self, name, i=0):
        _, fields = self.request_headers(i)
        return [v for n, v in fields if n.lower() == name.lower()]


def ok(body=b"", status="200 OK", extra=b""):
    return (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"\r\n" + body)


def request(method="GET", path="/", host="front.test", body=None,
            extra=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *extra]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def read_response(sock, initial=b"", head_only=False, timeout=10):
    """One response from sock: (Response, body bytes, what came after)."""
    data = initial
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    r = wslib.Response(head + sep)
    if head_only or r.status in (204, 304) or r.status < 200:
        return r, b"", rest
    if r.get("Content-Length") is None and r.get("Transfer-Encoding") is None:
        return r, rest + wslib.read_all(sock, timeout=timeout), b""
    body, after, _ = read_body(sock, head + sep, rest, timeout=timeout)
    return r, body, after


def access_lines(text):
    return [l for l in text.splitlines() if " client=" in l]


def fields(line):
    return dict(re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", line))
