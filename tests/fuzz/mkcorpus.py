#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ from the test
vectors: SPEC.md's table of refusals (as tests/integration/test_request.py
writes them), valid requests, backend answers, chunked bodies, URLs, routes,
CIDRs, origins and PROXY headers (as tests/unit/test_proxy.c has them).

Run it from anywhere; it rewrites its own files and leaves every other file
(the crash-* reproducers among them) alone.  Each file is one plain input.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "dGhlIHNhbXBsZSBub25jZQ=="            # RFC 6455's sample key
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="      # and its accept value


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- requests

def default_headers(host="example.test"):
    return [("Host", host), ("Upgrade", "websocket"),
            ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", KEY)]


def req(method="GET", target="/", version="HTTP/1.1", line=None,
        headers=None, drop=(), add=(), raw_fields=()):
    if line is None:
        line = f"{method} {target} {version}"
    if isinstance(line, str):
        line = line.encode("latin-1")
    fields = list(headers) if headers is not None else default_headers()
    drop = {d.lower() for d in drop}
    fields = [(n, v) for n, v in fields if n.lower() not in drop]
    fields += list(add)
    out = [line]
    for n, v in fields:
        out.append(f"{n}: {v}".encode("latin-1"))
    for r in raw_fields:
        out.append(r.encode("latin-1") if isinstance(r, str) else r)
    return b"\r\n".join(out) + b"\r\n\r\n"


def line_of(n):
    prefix, suffix = "GET ", " HTTP/1.1"
    return prefix + "/" + "a" * (n - len(prefix) - len(suffix) - 1) + suffix


REQUESTS = {
    # accepted
    "valid-upgrade.txt": req(),
    "valid-gateone-query.txt": req(target="/gateone/ws/a?x=1", add=[
        ("Origin", "https://example.test"), ("Cookie", "a=b; c=d"),
        ("Sec-WebSocket-Protocol", "chat, superchat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Authorization", "Basic dXNlcjpwYXNz")]),
    "valid-app-ws-route.txt": req(target="/app/ws/room/1"),
    "valid-unix-route.txt": req(target="/u/x/y?z"),
    "valid-v6-route.txt": req(target="/v6"),
    "valid-deep-route.txt": req(target="/a/b/c/d?e=/../f"),
    "valid-connection-list.txt": req(
        drop=["Connection", "Upgrade"],
        add=[("Connection", "keep-alive, Upgrade"),
             ("Upgrade", "h2c, websocket")]),
    "valid-connection-names-fields.txt": req(
        drop=["Connection"],
        add=[("Connection", "Upgrade, X-Hop, Cookie, Sec-WebSocket-Key"),
             ("X-Hop", "dropped"), ("Cookie", "kept=1"),
             ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
             ("Proxy-Authorization", "Basic eDp5")]),
    "valid-x-forwarded.txt": req(add=[
        ("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", ""),
        ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
        ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil")]),
    "valid-spoofed-client-facts.txt": req(add=[
        ("X_Forwarded_For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.1"),
        ("X-Forwarded_Host", "evil"), ("x_forwarded_proto", "https"),
        ("Forwarded", "for=6.6.6.6;proto=https"), ("X-Real-IP", "6.6.6.6"),
        ("X_Real_Ip", "6.6.6.7"), ("X_Other", "kept")]),
    "valid-ows.txt": req(headers=[
        ("Host", "example.test:8080"), ("Upgrade", "\tWebSocket "),
        ("Connection", " upgrade\t"), ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", KEY), ("X-Empty", "")]),
    "valid-no-space-after-colon.txt":
        b"GET / HTTP/1.1\r\nHost:example.test\r\nUpgrade:websocket\r\n"
        b"Connection:Upgrade\r\nSec-WebSocket-Version:13\r\n"
        b"Sec-WebSocket-Key:" + KEY.encode() + b"\r\n\r\n",
    "valid-content-length-0.txt": req(add=[("Content-Length", "0")]),
    "valid-obs-text.txt": req(add=[("X-Latin", "caf\xe9")]),
    "valid-percent-encoded.txt": req(target="/app/%7Euser/%41b%20c?x=%2e%2e"),
    "valid-100-fields.txt": req(add=[(f"X-F{i}", "v") for i in range(95)]),
    "valid-ipv6-host.txt": req(headers=[
        ("Host", "[2001:db8::1]:8080")] + default_headers()[1:]),
    "valid-then-frame.txt": req() + b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f"
                                    b"\x4d\x51\x58",
    "valid-two-origins.txt": req(add=[("Origin", "https://a.test"),
                                      ("origin", "https://b.test")]),
    # its last byte, '0', picks max_head 256 (see fuzz_request.c)
    "head-over-max-256.txt": req(add=[("X-Pad", "p" * 300)]) + b"0",
    "incomplete-no-empty-line.txt": req()[:-2],
    "incomplete-request-line.txt": b"GET /app/ws HTT",
    "incomplete-cr.txt": req()[:-1],
    # SPEC.md's refusals
    "method-POST.txt": req(method="POST"),
    "method-lowercase-get.txt": req(method="get"),
    "method-CONNECT.txt": req(line="CONNECT example.test:443 HTTP/1.1"),
    "version-HTTP-1.0.txt": req(version="HTTP/1.0"),
    "version-HTTP-2.0.txt": req(version="HTTP/2.0"),
    "version-HTTP-0.9.txt": req(version="HTTP/0.9"),
    "version-lowercase.txt": req(version="http/1.1"),
    "version-HTTP-1.10.txt": req(version="HTTP/1.10"),
    "absolute-form.txt": req(target="http://example.test/"),
    "asterisk-form.txt": req(target="*"),
    "authority-form.txt": req(target="example.test:80"),
    "line-double-space.txt": req(line="GET  / HTTP/1.1"),
    "line-trailing-space.txt": req(line="GET / HTTP/1.1 "),
    "line-leading-space.txt": req(line=" GET / HTTP/1.1"),
    "line-no-version.txt": req(line="GET /"),
    "line-tabs.txt": req(line="GET\t/\tHTTP/1.1"),
    "line-ctl-in-target.txt": req(line="GET /a\x01b HTTP/1.1"),
    "line-del-in-target.txt": req(line="GET /a\x7fb HTTP/1.1"),
    "line-8bit-in-target.txt": req(line=b"GET /a\xffb HTTP/1.1"),
    "line-empty.txt": req(line=""),
    "line-tls-hello.txt": req(line="\x16\x03\x01\x02\x00\x01"),
    "line-8192.txt": req(line=line_of(8192)),
    "line-8193.txt": req(line=line_of(8193)),
    "fields-101.txt": req(add=[(f"X-F{i}", "v") for i in range(96)]),
    "obs-fold.txt": req(raw_fields=["X-A: a", " folded"]),
    "obs-fold-tab.txt": req(raw_fields=["X-A: a", "\tfolded"]),
    "obs-fold-first-line.txt": req(line="GET / HTTP/1.1\r\n X-A: a"),
    "ws-before-colon.txt": req(raw_fields=["X-A : b"]),
    "tab-before-colon.txt": req(raw_fields=["X-A\t: b"]),
    "bare-CR-in-value.txt": req(raw_fields=[b"X-A: a\rb"]),
    "bare-CR-as-line-end.txt": req(raw_fields=[b"X-A: a\rX-B: b"]),
    "bare-CR-in-line.txt": req(line=b"GET /a\rb HTTP/1.1"),
    "bare-LF-field-line.txt": req(raw_fields=[b"X-A: a\nX-B: b"]),
    "bare-LF-request-line.txt": req(line=b"GET / HTTP/1.1\nHost: x"),
    "bare-LF-all-lines.txt": req().replace(b"\r\n", b"\n"),
    "bare-LF-empty-line.txt": req()[:-4] + b"\r\n\n",
    "NUL-in-value.txt": req(raw_fields=[b"X-A: a\x00b"]),
    "NUL-partial-line.txt": b"GET / HTTP/1.1\r\nHost: a\x00",
    "SOH-in-value.txt": req(raw_fields=[b"X-A: a\x01b"]),
    "DEL-in-value.txt": req(raw_fields=[b"X-A: a\x7fb"]),
    "name-paren.txt": req(raw_fields=["X(A): b"]),
    "name-empty.txt": req(raw_fields=[": b"]),
    "name-8bit.txt": req(raw_fields=[b"X\xe9A: b"]),
    "name-no-colon.txt": req(raw_fields=["XA"]),
    "Host-missing.txt": req(drop=["Host"]),
    "Host-duplicate.txt": req(add=[("host", "other.test")]),
    "Host-invalid.txt": req(drop=["Host"], add=[("Host", "a b")]),
    # issue 16: a Host RFC 3986 forbids
    "Host-hash.txt": req(drop=["Host"], add=[("Host", "exa#mple.com")]),
    "Host-pipe-caret-backtick.txt": req(drop=["Host"],
                                        add=[("Host", "a|b^c`d.example")]),
    "Host-pct-ascii.txt": req(drop=["Host"], add=[("Host", "a%2Fb")]),
    "Host-empty-label.txt": req(drop=["Host"], add=[("Host", "a..example")]),
    "Host-ends-in-number.txt": req(drop=["Host"], add=[("Host", "127.1")]),
    "Host-hex-ipv4.txt": req(drop=["Host"], add=[("Host", "0x7f.0.0.1")]),
    "Host-ipv4-leading-zero.txt": req(drop=["Host"],
                                      add=[("Host", "01.2.3.4:80")]),
    "Host-port-0.txt": req(drop=["Host"], add=[("Host", "example.test:0")]),
    "Host-port-empty.txt": req(drop=["Host"], add=[("Host", "example.test:")]),
    "Host-two-ports.txt": req(drop=["Host"], add=[("Host", "a:1:2")]),
    "Host-ipvfuture.txt": req(drop=["Host"], add=[("Host", "[v1.x]")]),
    "Host-ipv6-zone.txt": req(drop=["Host"],
                              add=[("Host", "[fe80::1%25eth0]:80")]),
    "Host-ipv6-after-bracket.txt": req(drop=["Host"],
                                       add=[("Host", "[::1]x")]),
    "valid-host-sub-delims.txt": req(drop=["Host"],
                                     add=[("Host", "a!$&'()*+,;=b:8080")]),
    "valid-host-pct-utf8.txt": req(drop=["Host"],
                                   add=[("Host", "caf%C3%A9.example.")]),
    "valid-host-ipv4.txt": req(drop=["Host"],
                               add=[("Host", "192.0.2.255:65535")]),
    "Content-Length-5.txt": req(add=[("Content-Length", "5")]) + b"hello",
    "Content-Length-twice.txt": req(add=[("Content-Length", "0"),
                                         ("Content-Length", "0")]),
    "Transfer-Encoding-chunked.txt":
        req(add=[("Transfer-Encoding", "chunked")]) + b"0\r\n\r\n",
    "Upgrade-missing.txt": req(drop=["Upgrade"]),
    "Upgrade-websockets.txt": req(drop=["Upgrade"],
                                  add=[("Upgrade", "websockets")]),
    "plain-http.txt": b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
    "Connection-keep-alive.txt": req(drop=["Connection"],
                                     add=[("Connection", "keep-alive")]),
    "Version-8.txt": req(drop=["Sec-WebSocket-Version"],
                         add=[("Sec-WebSocket-Version", "8")]),
    "Version-duplicate.txt": req(add=[("Sec-WebSocket-Version", "13")]),
    "Key-missing.txt": req(drop=["Sec-WebSocket-Key"]),
    "Key-duplicate.txt": req(add=[("Sec-WebSocket-Key",
                                   "AQIDBAUGBwgJCgsMDQ4PEA==")]),
    "Key-15-bytes.txt": req(drop=["Sec-WebSocket-Key"], add=[
        ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4P")]),
    "Key-stray-bits.txt": req(drop=["Sec-WebSocket-Key"], add=[
        ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEB==")]),
    "Key-not-base64.txt": req(drop=["Sec-WebSocket-Key"], add=[
        ("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==")]),
    "dot-segment.txt": req(target="/a/../b"),
    "dot-segment-single.txt": req(target="/a/./b"),
    "dot-final.txt": req(target="/a/.."),
    "dot-final-query.txt": req(target="/a/..?q=1"),
    "dot-percent-2e.txt": req(target="/%2e%2e/etc"),
    "dot-percent-mixed.txt": req(target="/a/.%2E/b"),
    # issue 16: path parameters after a dot-segment (servlet containers)
    "dot-dot-semicolon.txt": req(target="/app/..;/admin"),
    "dot-semicolon-params.txt": req(target="/a/.;x=1/b"),
    "dot-percent-semicolon.txt": req(target="/a/%2e%2e;/b"),
    "dot-mixed-semicolon.txt": req(target="/a/.%2E;/b"),
    "dot-encoded-semicolon.txt": req(target="/a/..%3B/b"),
    "valid-semicolon-not-dot.txt": req(target="/a/b;c/...;/x..;/d?/..;"),
    "encoded-slash.txt": req(target="/a%2Fb"),
    "encoded-nul.txt": req(target="/a%00b"),
    "bad-percent.txt": req(target="/a%zz"),
    "backslash.txt": req(target="/a\\b"),
    "fragment.txt": req(target="/a#frag"),
}


# ---------------------------------------------------------------- responses

def res(status="101 Switching Protocols", fields=(), body=b"",
        version="HTTP/1.1"):
    out = [f"{version} {status}".encode("latin-1")]
    for n, v in fields:
        out.append(f"{n}: {v}".encode("latin-1"))
    return b"\r\n".join(out) + b"\r\n\r\n" + body


SWITCH = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
          ("Sec-WebSocket-Accept", ACCEPT)]
FRAME = b"\x81\x05hello"

RESPONSES = {
    "101-valid.txt": res(fields=SWITCH),
    "101-valid-then-frame.txt": res(fields=SWITCH, body=FRAME),
    "101-protocol-and-extra.txt": res(fields=SWITCH + [
        ("Sec-WebSocket-Protocol", "chat"), ("Set-Cookie", "s=1"),
        ("Keep-Alive", "timeout=5"), ("Content-Length", "0")]),
    "101-connection-names-field.txt": res(fields=[
        ("Upgrade", "websocket"), ("Connection", "Upgrade, X-Hop, Warning"),
        ("X-Hop", "1"), ("Warning", "199 - x"),
        ("Sec-WebSocket-Accept", ACCEPT)]),
    "101-wrong-accept.txt": res(fields=[
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")]),
    "101-duplicate-accept.txt": res(fields=SWITCH + [
        ("Sec-WebSocket-Accept", ACCEPT)]),
    "101-no-upgrade.txt": res(fields=SWITCH[1:]),
    "101-upgrade-h2c.txt": res(fields=[("Upgrade", "h2c")] + SWITCH[1:]),
    "101-no-accept.txt": res(fields=SWITCH[:2]),
    "101-http-1.0.txt": res(fields=SWITCH, version="HTTP/1.0"),
    "101-no-reason.txt": res(status="101", fields=SWITCH),
    "200-content-length.txt": res("200 OK", [("Content-Length", "5")],
                                  b"helloEXTRA"),
    "200-content-length-0.txt": res("200 OK", [("Content-Length", "0")],
                                    b"x"),
    "200-content-length-repeated.txt": res("200 OK", [
        ("Content-Length", "3"), ("Content-Length", "3")], b"abc"),
    "200-content-length-differ.txt": res("200 OK", [
        ("Content-Length", "3"), ("Content-Length", "4")], b"abcd"),
    "200-content-length-list.txt": res("200 OK", [
        ("Content-Length", "3, 3")], b"abc"),
    "200-content-length-19-digits.txt": res("200 OK", [
        ("Content-Length", "1234567890123456789")], b"abc"),
    "200-chunked.txt": res("200 OK", [("Transfer-Encoding", "chunked")],
                           b"5\r\nhello\r\n0\r\n\r\nAFTER"),
    "200-chunked-ext-trailer.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")],
        b"5 ;a=b;c\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n"
        b"Y: 2\r\n\r\n"),
    "200-chunked-hex-upper.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")],
        b"00000000000000F\r\n" + b"x" * 15 + b"\r\n0\r\n\r\n"),
    "200-chunked-16-digits.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")],
        b"0000000000000001\r\nx\r\n0\r\n\r\n"),
    "200-chunked-bad-size.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")], b"zz\r\nhello\r\n"),
    "200-chunked-size-space-garbage.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")], b"1 2\r\nx\r\n0\r\n\r\n"),
    "200-chunked-bare-LF.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")], b"5\nhello\n0\n\n"),
    "200-chunked-missing-data-CRLF.txt": res(
        "200 OK", [("Transfer-Encoding", "chunked")], b"5\r\nhelloX0\r\n\r\n"),
    "200-te-gzip-chunked.txt": res("200 OK", [
        ("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
        b"3\r\nabc\r\n0\r\n\r\n"),
    "200-te-chunked-gzip.txt": res("200 OK", [
        ("Transfer-Encoding", "chunked, gzip")], b"anything until close"),
    "200-te-and-cl.txt": res("200 OK", [
        ("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
        b"0\r\n\r\n"),
    "200-until-close.txt": res("200 OK", [("Content-Type", "text/html")],
                               b"<html>body</html>"),
    "200-connection-names-framing.txt": res("200 OK", [
        ("Connection", "close, Content-Length, X-Hop"), ("X-Hop", "1"),
        ("Content-Length", "2"), ("Upgrade", "websocket")], b"ok"),
    "204-no-body.txt": res("204 No Content", [("Content-Length", "9")], b"x"),
    "304-not-modified.txt": res("304 Not Modified", [("ETag", '"a"')]),
    "100-continue.txt": res("100 Continue", []),
    "302-location-absolute.txt": res("302 Found", [
        ("Location", "http://backend.example:8080/ws/next?a=1"),
        ("Content-Length", "0")]),
    "302-location-ws-scheme.txt": res("302 Found", [
        ("Location", "ws://BACKEND.example:8080/ws"),
        ("Content-Length", "0")]),
    "302-location-relative.txt": res("302 Found", [
        ("Location", "/ws/a/b?c"), ("Content-Location", "/ws"),
        ("Content-Length", "0")]),
    "302-location-other-host.txt": res("302 Found", [
        ("Location", "https://elsewhere.example/ws/x"),
        ("Content-Length", "0")]),
    "302-location-network-path.txt": res("302 Found", [
        ("Location", "//backend.example:8080/ws/x")]),
    "302-location-network-path-default-port.txt": res("302 Found", [
        ("Location", "//backend.example/ws/x"), ("Content-Length", "0")]),
    "302-location-network-path-leading-zero.txt": res("302 Found", [
        ("Location", "//backend.example:08080/ws/x?y=//z"),
        ("Content-Location", "//backend.example:8080")]),
    "302-location-port-leading-zero.txt": res("302 Found", [
        ("Location", "http://backend.example:008080/ws/x"),
        ("Content-Location", "https://backend.example:/ws")]),
    "302-location-no-path.txt": res("302 Found", [
        ("Location", "http://backend.example:8080")]),
    "302-location-outside.txt": res("302 Found", [
        ("Location", "http://backend.example:8080/wsx")]),
    "403-forbidden.txt": res("403 Forbidden", [
        ("Content-Type", "text/plain"), ("Content-Length", "6")], b"denied"),
    "500-with-reason-spaces.txt": res("500 Internal  Server\tError", [
        ("Content-Length", "0")]),
    "599-status.txt": res("599 Odd", [("Content-Length", "0")]),
    "bad-status-600.txt": res("600 Nope", []),
    "bad-status-short.txt": b"HTTP/1.1 20\r\n\r\n",
    "bad-status-no-space.txt": b"HTTP/1.1 200OK\r\n\r\n",
    "bad-version.txt": b"HTTP/1.x 200 OK\r\n\r\n",
    "bad-obs-fold.txt": res("200 OK", [("X-A", "a\r\n b")]),
    "bad-bare-LF.txt": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "bad-NUL-in-value.txt": res("200 OK", [("X-A", "a\x00b")]),
    "bad-ctl-in-reason.txt": b"HTTP/1.1 200 O\x01K\r\n\r\n",
    "incomplete-head.txt": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web",
    # interim answers before the final one (RFC 9110 section 15.2)
    "interim-100-then-101.txt": res("100 Continue") + res(fields=SWITCH),
    "interim-103-then-101-then-frame.txt": res("103 Early Hints", [
        ("Link", "</style.css>; rel=preload; as=style"),
        ("Link", "</app.js>; rel=preload")]) + res(fields=SWITCH, body=FRAME),
    "interim-100-102-103-then-403.txt": res("100 Continue") + res(
        "102 Processing") + res("103 Early Hints", [("Link", "</a>")]) + res(
        "403 Forbidden", [("Content-Length", "6")], b"denied"),
    "interim-9-then-101.txt": res("103 Early Hints") * 9 + res(fields=SWITCH),
    "interim-then-bad-status.txt": res("100 Continue") + b"HTTP/1.1 20\r\n\r\n",
    "interim-then-incomplete.txt": res("103") + b"HTTP/1.1 101 Swit",
    "interim-199-no-reason.txt": b"HTTP/1.1 199\r\n\r\n" + res(fields=SWITCH),
    # the bound of a response head, HTTP_MAX_RESPONSE_HEAD, and one over it
    "101-at-bound.txt": res(fields=SWITCH + [("X-Pad", "p" * (32768 - len(
        res(fields=SWITCH + [("X-Pad", "")]))))]),
    "101-over-bound.txt": res(fields=SWITCH + [("X-Pad", "p" * (32769 - len(
        res(fields=SWITCH + [("X-Pad", "")]))))]),
}


# ---------------------------------------------------------------- url lines

def url_input(url="", route="", target="", cidr="", origin="", req_origin=""):
    return "\n".join([url, route, target, cidr, origin, req_origin]) + "\n"


URLS = {
    "gateone.txt": url_input(
        "ws://127.0.0.1:8000/ws", "/gateone/ws=ws://127.0.0.1:8000/ws",
        "/gateone/ws/a?x=1", "192.0.2.0/24", "https://example.test",
        "https://example.test"),
    "bare-url-route.txt": url_input(
        "ws://backend.example", "ws://backend.example",
        "/anything/at/all?q", "10.0.0.1", "http://a.test:8080",
        "HTTP://A.TEST:8080"),
    "unix-socket.txt": url_input(
        "ws://unix:/run/app.sock:/path", "/app=ws://unix:/run/app.sock:/sock/",
        "/app/x?y", "::1", "null", "null"),
    "unix-no-path.txt": url_input(
        "wss://unix:/run/app.sock", "", "/app", "::/0", "", ""),
    "unix-bad-path.txt": url_input(
        "ws://unix:/run/app.sock:/a b", "/=ws://unix:/s:/a?b", "/", "", "", ""),
    "ipv6.txt": url_input(
        "wss://[2001:db8::1]:8443/ws", "/v6/=wss://[2001:db8::1]/,ws://[::1]",
        "/v6/", "2001:db8::/32", "https://[::1]:8443", "https://[::1]:8443"),
    "several-backends.txt": url_input(
        "ws://a:1/x", "/app=ws://a:1/x,ws://b:2/y/,wss://c/,ws://d",
        "/app/deep/path?and=query", "192.0.2.7/32", "http://*.example.com",
        "http://sub.example.com"),
    "trailing-slashes.txt": url_input(
        "ws://h/x/", "/app///=ws://h//", "/app?only-query", "0.0.0.0/0",
        "https://*.example.com", "https://example.com"),
    "root-prefix-root-path.txt": url_input(
        "ws://h/", "/=ws://h/", "/", "::ffff:10.0.0.1/100",
        "wss://x.test", "ws://x.test"),
    "percent-url-path.txt": url_input(
        "ws://h/%41", "/a=ws://h/%7e/b", "/a%41/x", "10.0.0.0/8",
        "https://h.test:443", "https://h.test"),
    "dot-url-path.txt": url_input(
        "ws://h/./x", "/b=ws://h/../x", "/b", "", "", ""),
    "bad-userinfo.txt": url_input(
        "ws://user@h/", "/=ws://user@h", "", "1.2.3.4/33",
        "http://a@b", "http://a@b"),
    "bad-ports.txt": url_input(
        "ws://h:0/", "/=ws://h:65536", "", "1.2.3.4/", "http://h:",
        "http://h:123456"),
    "bad-scheme.txt": url_input(
        "http://h/", "/=https://h", "", "300.1.2.3", "h", "://h"),
    "bad-ipv6.txt": url_input(
        "ws://[::1/", "/=ws://[zz]", "", "fe80::1%eth0/64", "http://[::1",
        "http://[::1]x"),
    "bad-query-in-path.txt": url_input(
        "ws://h/a?b", "/a?b=ws://h", "/a#b", "::1/129", "http://*h",
        "http://*.h"),
    "bad-route-no-equals.txt": url_input(
        "ws://h:80:90/", "/app", "", "1.2.3.4/024", "http://a/b", "null"),
    # issue 16: ports with leading zeros and default ports, hosts a
    # wstunnel would refuse in Host
    "port-leading-zeros.txt": url_input(
        "ws://h:08000/ws", "/a=ws://h:08000/ws,wss://[::1]:0443,ws://h:0080",
        "/a/x", "", "", ""),
    "port-default-written.txt": url_input(
        "wss://h:443/", "/=ws://h:80,wss://h:80,ws://h:443", "/", "", "", ""),
    "bad-host-ends-in-number.txt": url_input(
        "ws://127.1:8000", "/=ws://h.123,ws://a..b", "/", "", "", ""),
    "many-backends.txt": url_input(
        "", "/m=" + ",".join(f"ws://h{i}" for i in range(65)), "/m", "",
        "", ""),
    "origin-wildcard-apex.txt": url_input(
        "", "", "", "", "https://*.EXAMPLE.com:8443",
        "https://EXAMPLE.com:8443"),
}


# ---------------------------------------------------------------- PROXY

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, addr):
    return V2SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(addr)) \
        + addr


TCP4 = bytes([192, 0, 2, 7, 10, 0, 0, 1, 0xc8, 0x22, 0, 80])
TCP6 = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1] + [0] * 15 + [1]) \
    + b"\x01\x02\x00\x50"
TLV = b"\x04\x00\x04abcd"      # a NOOP TLV

PROXY = {
    "v1-tcp4.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\nGET",
    "v1-tcp6.txt": "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n",
    "v1-unknown.txt": "PROXY UNKNOWN\r\n",
    "v1-unknown-addresses.txt": "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
    "v1-longest.txt": "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    "v1-incomplete-cr.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r",
    "v1-incomplete.txt": "PROXY TCP4 192.0.2.7",
    "v1-prefix.txt": "PROX",
    "v1-leading-zero-address.txt": "PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n",
    "v1-leading-zero-port.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n",
    "v1-port-65536.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n",
    "v1-family-mismatch.txt": "PROXY TCP4 ::1 10.0.0.1 1 2\r\n",
    "v1-too-few-words.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n",
    "v1-too-many-words.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 1 2 3\r\n",
    "v1-double-space.txt": "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n",
    "v1-bare-LF.txt": "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n",
    "v1-bare-CR.txt": "PROXY TCP4 192.0.2.7\r10.0.0.1 1 2\r\n",
    "v1-udp4.txt": "PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n",
    "v1-lowercase.txt": "proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n",
    "v1-too-long.txt": "PROXY UNKNOWN " + "x" * 100 + "\r\n",
    "http-request.txt": "GET / HTTP/1.1\r\n",
    "v2-tcp4.bin": v2(1, 0x11, TCP4) + b"GET / HTTP/1.1\r\n",
    "v2-udp4.bin": v2(1, 0x12, TCP4),
    "v2-tcp6-tlv.bin": v2(1, 0x21, TCP6 + TLV),
    "v2-local.bin": v2(0, 0x00, b""),
    "v2-local-with-addresses.bin": v2(0, 0x11, TCP4),
    "v2-unspec.bin": v2(1, 0x00, b"ignored"),
    "v2-unix.bin": v2(1, 0x31, b"/tmp/a".ljust(108, b"\0") +
                      b"/tmp/b".ljust(108, b"\0")),
    "v2-tcp4-short.bin": v2(1, 0x11, TCP4[:8]),
    "v2-command-2.bin": v2(2, 0x11, TCP4),
    "v2-family-4.bin": v2(1, 0x41, TCP4),
    "v2-version-1.bin": V2SIG + b"\x11\x11\x00\x0c" + TCP4,
    "v2-too-long.bin": V2SIG + b"\x21\x11\x20\x00",
    "v2-largest.bin": V2SIG + b"\x21\x11\x10\x00" + TCP4 + b"\0" * 4084,
    "v2-incomplete.bin": v2(1, 0x11, TCP4)[:20],
    "v2-signature-only.bin": V2SIG,
}


# ---------------------------------------------------------------- frames
# The first byte: bit 0 from the client, bit 1 permessage-deflate, bits 2-7
# the message limit (0: none); then the frames (fuzz_frame.c).
MASK = b"\x37\xfa\x21\x3d"


def fr(op, payload=b"", fin=True, masked=False, rsv=0):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv << 4 | op])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if masked:
        payload = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        head += MASK
    return head + payload


FRAMES = {
    "server-text.bin": b"\x00" + fr(1, b"hello"),
    "client-text.bin": b"\x01" + fr(1, b"hello", masked=True),
    "client-unmasked.bin": b"\x01" + fr(1, b"hello"),
    "server-masked.bin": b"\x00" + fr(1, b"hello", masked=True),
    "fragments-ping.bin": b"\x00" + fr(1, b"ab", fin=False) + fr(9, b"p") +
                          fr(0, b"cd", fin=False) + fr(0, b"e"),
    "close-1000.bin": b"\x00" + fr(8, b"\x03\xe8bye"),
    "close-masked.bin": b"\x01" + fr(8, b"\x03\xe9away", masked=True),
    "close-one-byte.bin": b"\x00" + fr(8, b"\x03"),
    "len16.bin": b"\x00" + fr(2, bytes(300)),
    "len64.bin": b"\x00" + fr(2, bytes(70000))[:20],
    "deflate.bin": b"\x02" + fr(1, b"xx", rsv=4),
    "rsv1-undeclared.bin": b"\x00" + fr(1, b"xx", rsv=4),
    "limit-8.bin": bytes([8 << 2]) + fr(2, b"1234", fin=False) +
                   fr(0, b"56789"),
    "long-ping.bin": b"\x00" + fr(9, bytes(126)),
    "not-shortest.bin": b"\x00\x82\x7e\x00\x05hello",
    "top-bit.bin": b"\x00\x82\x7f\x80" + bytes(7),
}


def main():
    for name, data in REQUESTS.items():
        write("request", name, data)
    for name, data in RESPONSES.items():
        write("response", name, data)
    for name, data in URLS.items():
        write("url", name, data)
    for name, data in PROXY.items():
        write("proxy", name, data)
    for name, data in FRAMES.items():
        write("frame", name, data)


if __name__ == "__main__":
    main()
