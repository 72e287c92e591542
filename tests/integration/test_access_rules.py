"""Access rules beyond --allow/--deny and --origin, through the real binary:
HTTP Basic against htpasswd files written by Debian's htpasswd at test
time, --require-origin, rules per route, --trust-forwarded, --send-proxy
and --max-per-client.  Every refused client is checked to have produced no
backend connection, and its access line to name the rule (denied=)."""
import base64
import os
import signal
import socket
import subprocess

import pytest

import wslib
from helpers_rb import (ACCEPT, activated_rc, assert_no_connection,  # noqa: F401
                        build_request, check_one_access_line, check_refusal,
                        field)

PASSWORD = "open sesame:42"


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def htpasswd(path, user, password, flag):
    """Adds user to path with htpasswd's flag (-B, -5, -2, -s, -m)."""
    args = ["htpasswd", "-b", flag]
    if flag == "-B":
        args += ["-C", "4"]        # the cheapest cost: tests stay fast
    if not path.exists():
        args.append("-c")
    subprocess.run([*args, str(path), user, password], check=True,
                   capture_output=True)


def run(backend, data, args=(), routes=None):
    routes = routes or [f"ws://127.0.0.1:{backend.port}"]
    return wslib.run_pipe(["--close-timeout", "1", *args, *routes], data,
                          timeout=10)


def accepted(backend, data, args=(), routes=None):
    out, err, rc = run(backend, data, args, routes)
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT, out
    assert rc == 0, err
    assert backend.connections == 1, err
    check_one_access_line(err, 101)
    return err


def refused(backend, data, status, denied, args=(), routes=None, extra=()):
    out, err, rc = run(backend, data, args, routes)
    res = check_refusal(out, status, extra)
    assert rc == 1, err
    line = check_one_access_line(err, status)
    assert field(line, "denied") == denied, line
    assert_no_connection(backend, settle=0.1)
    return res, err


# --------------------------------------------------------------------------
# --auth-file, --realm

FORMATS = ["-B", "-5", "-2", "-s"]


@pytest.fixture
def pwfile(tmp_path):
    def make(flag, user="alice", password=PASSWORD):
        path = tmp_path / f"htpasswd{flag}"
        htpasswd(path, "bob", "other", flag)
        htpasswd(path, user, password, flag)
        return path
    return make


@pytest.mark.parametrize("flag", FORMATS)
def test_auth_right_password(raw_backend, pwfile, flag):
    b = raw_backend()
    path = pwfile(flag)
    data = build_request(add=[("Authorization", basic("alice", PASSWORD)),
                              ("Cookie", "c=1")])
    accepted(b, data, args=["--auth-file", str(path)])
    head = b.heads[0].decode()
    # the credentials were for wstunnel: the backend never sees them
    assert "authorization" not in head.lower(), head
    assert "Cookie: c=1\r\n" in head, head


@pytest.mark.parametrize("flag", FORMATS)
def test_auth_wrong_password(raw_backend, pwfile, flag):
    b = raw_backend()
    path = pwfile(flag)
    data = build_request(add=[("Authorization", basic("alice", "open"))])
    res, err = refused(b, data, 401, "auth", args=["--auth-file", str(path)],
                       extra=[("WWW-Authenticate",
                               'Basic realm="wstunnel", charset="UTF-8"')])
    assert "authentication failed for user alice" in err, err
    assert "open" not in err.replace("open sesame", ""), err


def test_auth_password_never_logged(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-5")
    data = build_request(add=[("Authorization",
                               basic("alice", "Tr0ub4dor&3"))])
    _, err = refused(b, data, 401, "auth",
                     args=["-v", "--auth-file", str(path)])
    assert "Tr0ub4dor" not in err, err
    assert basic("alice", "Tr0ub4dor&3")[6:] not in err, err


def test_auth_unknown_user(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-B")
    data = build_request(add=[("Authorization", basic("mallory", PASSWORD))])
    _, err = refused(b, data, 401, "auth", args=["--auth-file", str(path)])
    assert "authentication failed for user mallory" in err, err


def test_auth_user_made_safe_in_log(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-s")
    data = build_request(add=[("Authorization",
                               basic("eve\xe9 x", "pw"))])
    _, err = refused(b, data, 401, "auth", args=["--auth-file", str(path)])
    assert "for user eve\\303\\251 x" in err, err


MALFORMED = [
    ("none", None),
    ("bearer", "Bearer " + base64.b64encode(b"alice:x").decode()),
    ("digest", 'Digest username="alice"'),
    ("not-base64", "Basic !!!!"),
    ("no-padding", "Basic " + base64.b64encode(b"alice:x1").decode()
     .rstrip("=")),
    ("no-colon", "Basic " + base64.b64encode(b"alice").decode()),
    ("empty-user", "Basic " + base64.b64encode(b":" + PASSWORD.encode())
     .decode()),
    ("control-byte", "Basic " + base64.b64encode(b"alice:\x01x").decode()),
    ("scheme-only", "Basic"),
    ("empty", ""),
    ("huge", "Basic " + "QUFB" * 400),
]


@pytest.mark.parametrize("name,value", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_auth_malformed(raw_backend, pwfile, name, value):
    b = raw_backend()
    path = pwfile("-5")
    add = [("Authorization", value)] if value is not None else []
    refused(b, build_request(add=add), 401, "auth",
            args=["--auth-file", str(path)],
            extra=[("WWW-Authenticate",
                    'Basic realm="wstunnel", charset="UTF-8"')])


def test_auth_two_authorization_fields(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-5")
    good = basic("alice", PASSWORD)
    refused(b, build_request(add=[("Authorization", good),
                                  ("Authorization", good)]),
            401, "auth", args=["--auth-file", str(path)])


def test_auth_status_line(raw_backend, pwfile):
    b = raw_backend()
    res, _ = refused(b, build_request(), 401, "auth",
                     args=["--auth-file", str(pwfile("-s"))])
    assert res.status_line == "HTTP/1.1 401 Unauthorized", res.status_line


def test_auth_realm(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-5")
    refused(b, build_request(), 401, "auth",
            args=["--auth-file", str(path), "--realm", "Chat room"],
            extra=[("WWW-Authenticate",
                    'Basic realm="Chat room", charset="UTF-8"')])


def test_auth_apr1_refused_and_named(raw_backend, pwfile):
    """libxcrypt does not know Apache's $apr1$ (htpasswd -m): refused,
    and the log says why."""
    b = raw_backend()
    path = pwfile("-m")
    assert "$apr1$" in path.read_text()
    _, err = refused(b, build_request(add=[("Authorization",
                                            basic("alice", PASSWORD))]),
                     401, "auth", args=["--auth-file", str(path)])
    assert "a hash format wstunnel does not read" in err, err


def test_auth_file_edit_applies_to_next_connection(raw_backend, pwfile):
    b = raw_backend()
    path = pwfile("-5")
    data = build_request(add=[("Authorization", basic("alice", "new"))])
    refused(b, data, 401, "auth", args=["--auth-file", str(path)])
    htpasswd(path, "alice", "new", "-5")
    b2 = raw_backend()
    accepted(b2, data, args=["--auth-file", str(path)])


def test_auth_crlf_file_and_comments(raw_backend, tmp_path):
    b = raw_backend()
    path = tmp_path / "pw"
    line = subprocess.run(["htpasswd", "-nb", "-s", "alice", PASSWORD],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    path.write_text(f"# users\r\n\r\nbroken line\r\n{line}\r\n")
    accepted(b, build_request(add=[("Authorization",
                                    basic("alice", PASSWORD))]),
             args=["--auth-file", str(path)])


@pytest.mark.parametrize("args,msg", [
    (["--auth-file", "/nonexistent/htpasswd"], "--auth-file /nonexistent"),
    (["--realm", "x"], "--realm needs --auth-file"),
    (["--auth-file", "/dev/null", "--realm", 'a"b'], "--realm a\"b: no quote"),
    (["--auth-file", "/dev/null", "--realm", ""], "1 to 128 characters"),
])
def test_auth_usage_errors(args, msg):
    out, err, rc = wslib.run_pipe([*args, "ws://127.0.0.1:9"], b"",
                                  timeout=10)
    assert rc == 64, err
    assert out == b""
    assert msg in err, err


def test_auth_check_reads_the_file(tmp_path):
    p = subprocess.run(wslib.command(["--check", "--auth-file",
                                      str(tmp_path / "missing"),
                                      "ws://127.0.0.1:9"]),
                       capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 64, p.stderr
    assert "No such file" in p.stderr, p.stderr


# --------------------------------------------------------------------------
# --require-origin, and the denied= of the older rules

def test_require_origin_refuses_no_origin(raw_backend):
    b = raw_backend()
    _, err = refused(b, build_request(), 403, "origin",
                     args=["--require-origin"])
    assert 'reason="no Origin"' in err, err


def test_require_origin_passes_an_origin(raw_backend):
    b = raw_backend()
    accepted(b, build_request(add=[("Origin", "https://a.test")]),
             args=["--require-origin"])


def test_require_origin_with_origin_list(raw_backend):
    b = raw_backend()
    args = ["--require-origin", "--origin", "https://a.test"]
    refused(b, build_request(), 403, "origin", args=args)
    refused(b, build_request(add=[("Origin", "https://b.test")]), 403,
            "origin", args=args)
    accepted(b, build_request(add=[("Origin", "https://a.test")]), args=args)


def test_no_origin_allowed_by_default(raw_backend):
    b = raw_backend()
    accepted(b, build_request(), args=["--origin", "https://a.test"])


def test_origin_refusal_names_origin(raw_backend):
    b = raw_backend()
    refused(b, build_request(add=[("Origin", "https://evil.test")]), 403,
            "origin", args=["--origin", "https://a.test"])


def test_cidr_refusal_names_cidr(activated_rc, raw_backend):
    b = raw_backend()
    a = activated_rc(["--deny", "127.0.0.1", f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        c.sendall(build_request())
        out = wslib.read_all(c, timeout=5)
    finally:
        c.close()
    check_refusal(out, 403)
    line = a.wait_access_lines(1)[0]
    assert field(line, "denied") == "cidr", line
    assert_no_connection(b, settle=0.1)


# --------------------------------------------------------------------------
# rules per route: access options after a route operand are that route's

def two_routes(raw_backend, *between):
    """A command line /a=A [global options before] /b=B with options."""
    a, b = raw_backend(), raw_backend()
    return a, b, [f"/a=ws://127.0.0.1:{a.port}", f"/b=ws://127.0.0.1:{b.port}"]


def test_route_rules_only_for_their_route(raw_backend, pwfile):
    a, b, (ra, rb) = two_routes(raw_backend)
    path = pwfile("-5")
    routes = ["--require-origin", ra, rb, "--auth-file", str(path)]
    creds = ("Authorization", basic("alice", PASSWORD))
    origin = ("Origin", "https://a.test")
    # /a: the rules before the first route (an Origin is required)
    refused(a, build_request(target="/a"), 403, "origin", routes=routes)
    refused(b, build_request(target="/a", add=[creds]), 403, "origin",
            routes=routes)
    accepted(a, build_request(target="/a", add=[origin]), routes=routes)
    head = a.heads[0].decode()
    assert "Origin: https://a.test" in head
    # /b: its own rules only, credentials and no Origin needed
    refused(b, build_request(target="/b", add=[origin]), 401, "auth",
            routes=routes)
    accepted(b, build_request(target="/b", add=[creds]), routes=routes)
    assert "authorization" not in b.heads[0].decode().lower()
    assert a.connections == 1


def test_route_rules_address(raw_backend):
    """In pipe mode the client address is unknown, so that no --allow
    matches it: only the route that has one refuses."""
    a, b, (ra, rb) = two_routes(raw_backend)
    routes = [ra, "--allow", "0.0.0.0/0", rb]
    refused(a, build_request(target="/a"), 403, "cidr", routes=routes)
    accepted(b, build_request(target="/b"), routes=routes)


def test_route_rules_replace_the_global_ones(raw_backend):
    a, b, (ra, rb) = two_routes(raw_backend)
    routes = ["--origin", "https://a.test", ra, rb, "--origin",
              "https://b.test"]
    accepted(a, build_request(target="/a", add=[("Origin",
                                                  "https://a.test")]),
             routes=routes)
    refused(b, build_request(target="/a", add=[("Origin",
                                                 "https://b.test")]),
            403, "origin", routes=routes)
    b2 = raw_backend()
    routes[-3] = f"/b=ws://127.0.0.1:{b2.port}"
    refused(b2, build_request(target="/b", add=[("Origin",
                                                  "https://a.test")]),
            403, "origin", routes=routes)
    accepted(b2, build_request(target="/b", add=[("Origin",
                                                   "https://b.test")]),
             routes=routes)


def test_route_rules_other_options_stay_global(raw_backend):
    a, b, (ra, rb) = two_routes(raw_backend)
    accepted(a, build_request(target="/a", host="front.test"),
             routes=[ra, rb, "--preserve-host"])
    assert "Host: front.test\r\n" in a.heads[0].decode()


def test_route_rules_realm_needs_auth_file_in_its_route(pwfile):
    path = pwfile("-5")
    out, err, rc = wslib.run_pipe(["--auth-file", str(path),
                                   "/a=ws://127.0.0.1:9", "--realm", "x"],
                                  b"", timeout=10)
    assert rc == 64, err
    assert "--realm needs --auth-file" in err, err


# --------------------------------------------------------------------------
# --trust-forwarded: the direct peer is 127.0.0.1 behind socket activation

def activated_exchange(activated_rc, args, data, statuses=(0,)):
    """One client through a socket-activated wstunnel: (answer, line)."""
    a = activated_rc(["--close-timeout", "1", *args])
    c = a.connect(timeout=5)
    try:
        c.sendall(data)
        out = wslib.read_until(c, timeout=5)
        if b" 101 " not in out.split(b"\r\n")[0]:
            out += wslib.read_all(c, timeout=5)
    finally:
        c.close()
    assert a.wait_statuses(1) == list(statuses)
    return out, a.wait_access_lines(1)[0]


def xff_of(backend):
    _, fields = backend.request_headers(0)
    return [v for n, v in fields if n.lower() == "x-forwarded-for"]


def test_trusted_chain_walked(activated_rc, raw_backend):
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For",
                               "198.51.100.9, 192.0.2.7, 10.0.0.2")])
    out, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "127.0.0.1",
                       "--trust-forwarded", "10.0.0.0/8",
                       f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, out
    assert field(line, "client") == "192.0.2.7", line
    assert field(line, "via") == "127.0.0.1", line
    # the header goes on, extended by the hop wstunnel saw
    assert xff_of(b) == ["198.51.100.9, 192.0.2.7, 10.0.0.2, 127.0.0.1"]


def test_trusted_chain_in_two_fields(activated_rc, raw_backend):
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7"),
                              ("X-Forwarded-For", "10.0.0.2")])
    _, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "127.0.0.0/8",
                       "--trust-forwarded", "10.0.0.0/8",
                       f"ws://127.0.0.1:{b.port}"], data)
    assert field(line, "client") == "192.0.2.7", line
    assert xff_of(b) == ["192.0.2.7, 10.0.0.2, 127.0.0.1"]


def test_trusted_client_checked_by_rules(activated_rc, raw_backend):
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7")])
    out, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "127.0.0.1", "--deny",
                       "192.0.2.7", f"ws://127.0.0.1:{b.port}"], data,
        statuses=(1,))
    check_refusal(out, 403)
    assert field(line, "denied") == "cidr", line
    assert field(line, "client") == "192.0.2.7", line
    assert_no_connection(b, settle=0.1)


def test_trusted_client_allowed_by_rules(activated_rc, raw_backend):
    """--allow 192.0.2.0/24 lets in a client behind the proxy, though the
    direct peer (127.0.0.1) is not in it."""
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7")])
    out, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "127.0.0.1", "--allow",
                       "192.0.2.0/24", f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, out


def test_forged_xff_replaced(activated_rc, raw_backend):
    """From a peer that is not trusted the header is replaced: the client
    cannot make itself 192.0.2.7, to the rules or to the backend."""
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7"),
                              ("x-forwarded-for", "10.0.0.2")])
    out, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "10.0.0.0/8", "--allow",
                       "127.0.0.1", f"ws://127.0.0.1:{b.port}"], data)
    assert wslib.Response(out).status == 101, out
    assert field(line, "client").startswith("127.0.0.1:"), line
    assert field(line, "via") is None, line
    assert xff_of(b) == ["127.0.0.1"]


def test_forged_xff_cannot_pass_allow(activated_rc, raw_backend):
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7")])
    out, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "10.0.0.0/8", "--allow",
                       "192.0.2.0/24", f"ws://127.0.0.1:{b.port}"], data,
        statuses=(1,))
    check_refusal(out, 403)
    assert field(line, "client").startswith("127.0.0.1:"), line
    assert_no_connection(b, settle=0.1)


def test_trusted_malformed_chain_stops(activated_rc, raw_backend):
    """A malformed element: the client is the last trusted hop, never
    what the left of the list says."""
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For",
                               "192.0.2.7, unknown, 10.0.0.2")])
    _, line = activated_exchange(
        activated_rc, ["--trust-forwarded", "127.0.0.1",
                       "--trust-forwarded", "10.0.0.0/8",
                       f"ws://127.0.0.1:{b.port}"], data)
    assert field(line, "client") == "10.0.0.2", line


def test_without_trust_forwarded_xff_appended(activated_rc, raw_backend):
    """The default is SPEC.md's: the client address is appended."""
    b = raw_backend()
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7")])
    _, line = activated_exchange(activated_rc, [f"ws://127.0.0.1:{b.port}"],
                                 data)
    assert field(line, "client").startswith("127.0.0.1:"), line
    assert xff_of(b) == ["192.0.2.7, 127.0.0.1"]


def test_trust_forwarded_bad_cidr():
    out, err, rc = wslib.run_pipe(["--trust-forwarded", "10.0.0.0/33",
                                   "ws://127.0.0.1:9"], b"", timeout=10)
    assert rc == 64, err
    assert "--trust-forwarded 10.0.0.0/33" in err, err


# --------------------------------------------------------------------------
# --send-proxy v1|v2: the PROXY header the backend gets, byte for byte

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def preface_length(data):
    """The length of the PROXY header data starts with, or None while it
    is not complete."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        return end + 2 if end != -1 else None
    if data.startswith(V2SIG) and len(data) >= 16:
        return 16 + int.from_bytes(data[14:16], "big")
    return None if len(data) < 16 else 0


def proxy_backend(raw_backend):
    """A RawBackend that takes the PROXY header off (into .prefaces) and
    answers the request after it with a 101."""
    prefaces = []

    def handler(conn, head, rest):
        data = head + rest
        conn.settimeout(5)
        while True:
            n = preface_length(data)
            if n is not None and b"\r\n\r\n" in data[n:]:
                break
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        prefaces.append(data[:n])
        h, _, r = data[n:].partition(b"\r\n\r\n")
        wslib.switch_101(conn, h + b"\r\n\r\n", r)
    b = raw_backend(handler)
    b.prefaces = prefaces
    return b


def activated_proxy(activated_rc, b, args, data=None):
    a = activated_rc(["--close-timeout", "1", *args,
                      f"ws://127.0.0.1:{b.port}"])
    c = a.connect(timeout=5)
    try:
        cport = c.getsockname()[1]
        c.sendall(data or build_request())
        out = wslib.read_until(c, timeout=5)
    finally:
        c.close()
    assert wslib.Response(out).status == 101, out
    assert a.wait_statuses(1) == [0]
    return a, cport


def test_send_proxy_v1(activated_rc, raw_backend):
    b = proxy_backend(raw_backend)
    a, cport = activated_proxy(activated_rc, b, ["--send-proxy", "v1"])
    assert b.prefaces == [
        f"PROXY TCP4 127.0.0.1 127.0.0.1 {cport} {a.port}\r\n".encode()]


def test_send_proxy_v2(activated_rc, raw_backend):
    b = proxy_backend(raw_backend)
    a, cport = activated_proxy(activated_rc, b, ["--send-proxy", "v2"])
    want = (V2SIG + b"\x21\x11\x00\x0c" + bytes([127, 0, 0, 1]) * 2 +
            cport.to_bytes(2, "big") + a.port.to_bytes(2, "big"))
    assert b.prefaces == [want]


def test_send_proxy_v1_forwarded_client(activated_rc, raw_backend):
    """After --trust-forwarded, the real client (its port is not known)."""
    b = proxy_backend(raw_backend)
    data = build_request(add=[("X-Forwarded-For", "192.0.2.7")])
    a, _ = activated_proxy(activated_rc, b, [
        "--send-proxy", "v1", "--trust-forwarded", "127.0.0.1"], data)
    assert b.prefaces == [
        f"PROXY TCP4 192.0.2.7 127.0.0.1 0 {a.port}\r\n".encode()]


def test_send_proxy_v2_forwarded_ipv6_client(activated_rc, raw_backend):
    b = proxy_backend(raw_backend)
    data = build_request(add=[("X-Forwarded-For", "2001:db8::7")])
    a, _ = activated_proxy(activated_rc, b, [
        "--send-proxy", "v2", "--trust-forwarded", "127.0.0.1"], data)
    want = (V2SIG + b"\x21\x21\x00\x24" +
            bytes.fromhex("20010db8000000000000000000000007") +
            bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]) +
            b"\x00\x00" + a.port.to_bytes(2, "big"))
    assert b.prefaces == [want]


@pytest.mark.parametrize("version,want", [
    ("v1", b"PROXY UNKNOWN\r\n"),
    ("v2", V2SIG + b"\x20\x00\x00\x00"),
])
def test_send_proxy_unknown_client(raw_backend, version, want):
    """A pipe has no address: v1 UNKNOWN, v2 LOCAL."""
    b = proxy_backend(raw_backend)
    accepted(b, build_request(), args=["--send-proxy", version])
    assert b.prefaces == [want]


def test_send_proxy_after_proxy_protocol(raw_backend):
    """The address a PROXY header brought in goes on to the backend."""
    b = proxy_backend(raw_backend)
    data = (b"PROXY TCP4 203.0.113.5 10.0.0.1 4444 443\r\n" +
            build_request())
    accepted(b, data, args=["--proxy-protocol", "--send-proxy", "v2"])
    want = (V2SIG + b"\x21\x11\x00\x0c" + bytes([203, 0, 113, 5]) +
            bytes(4) + (4444).to_bytes(2, "big") + b"\x00\x00")
    assert b.prefaces == [want]


def test_send_proxy_bad_version():
    out, err, rc = wslib.run_pipe(["--send-proxy", "v3", "ws://127.0.0.1:9"],
                                  b"", timeout=10)
    assert rc == 64, err
    assert "--send-proxy v3: expected v1 or v2" in err, err


# --------------------------------------------------------------------------
# --max-per-client N with --state FILE: clients from 127.0.0.1 and
# 127.0.0.2 (a loopback client may bind any 127/8 source)

def open_tunnel(a, source, timeout=5):
    """A client from source through a; (socket, answer head)."""
    c = socket.socket()
    c.settimeout(timeout)
    c.bind((source, 0))
    c.connect(("127.0.0.1", a.port))
    c.sendall(build_request())
    out = wslib.read_until(c, timeout=timeout)
    return c, out


def status_of(out):
    return wslib.Response(out).status


@pytest.fixture
def limited(activated_rc, raw_backend, tmp_path):
    def make(n):
        b = raw_backend()
        a = activated_rc(["--close-timeout", "1", "--max-per-client", str(n),
                          "--state", str(tmp_path / "state"),
                          f"ws://127.0.0.1:{b.port}"])
        return a, b
    return make


def test_max_per_client_two_addresses(limited):
    a, b = limited(2)
    held = []
    try:
        for _ in range(2):
            c, out = open_tunnel(a, "127.0.0.1")
            held.append(c)
            assert status_of(out) == 101, out
        c, out = open_tunnel(a, "127.0.0.1")
        held.append(c)
        out += wslib.read_all(c, timeout=5)
        res = check_refusal(out, 429, [("Retry-After", "1")])
        assert res.status_line == "HTTP/1.1 429 Too Many Requests"
        assert wslib.wait_for(lambda: any(
            field(l, "denied") == "limit" for l in a.access_lines()), 5)
        # another address has its own count
        for _ in range(2):
            c, out = open_tunnel(a, "127.0.0.2")
            held.append(c)
            assert status_of(out) == 101, out
        c, out = open_tunnel(a, "127.0.0.2")
        held.append(c)
        assert status_of(out) == 429, out
        assert b.connections == 4
        # a tunnel that ends gives its slot back
        held[0].close()
        assert wslib.wait_for(lambda: len(a.children()) == 4, 5), \
            a.children()
        c, out = open_tunnel(a, "127.0.0.1")
        held.append(c)
        assert status_of(out) == 101, out
        assert b.connections == 5
    finally:
        for c in held:
            c.close()
    lines = [l for l in a.wait_access_lines(8) if field(l, "denied")]
    assert len(lines) == 2, a.access_lines()
    assert all(field(l, "status") == "429" for l in lines), lines


def tunnels(a):
    """The live wstunnel processes under a (activated_rc runs each under
    a shell that records its exit status)."""
    pids = []
    for p in a.children():
        out = subprocess.run(["pgrep", "-P", str(p)], capture_output=True,
                             text=True).stdout.split()
        pids += [int(x) for x in out] or [p]
    return pids


def test_max_per_client_after_kill_9(limited):
    """The kernel gives the slot back when its process is killed."""
    a, b = limited(1)
    held = []
    try:
        c, out = open_tunnel(a, "127.0.0.1")
        held.append(c)
        assert status_of(out) == 101, out
        c, out = open_tunnel(a, "127.0.0.1")
        held.append(c)
        assert status_of(out) == 429, out
        assert wslib.wait_for(lambda: len(tunnels(a)) == 1, 5)
        os.kill(tunnels(a)[0], signal.SIGKILL)
        assert wslib.wait_for(lambda: len(tunnels(a)) == 0, 5)
        c, out = open_tunnel(a, "127.0.0.1")
        held.append(c)
        assert status_of(out) == 101, out
        assert b.connections == 2
    finally:
        for c in held:
            c.close()


def test_max_per_client_behind_trusted_proxy(activated_rc, raw_backend,
                                             tmp_path):
    """Behind a balancer the count is per real client."""
    b = raw_backend()
    a = activated_rc(["--close-timeout", "1", "--max-per-client", "1",
                      "--state", str(tmp_path / "state"),
                      "--trust-forwarded", "127.0.0.1",
                      f"ws://127.0.0.1:{b.port}"])
    held = []
    try:
        for xff, want in [("192.0.2.7", 101), ("192.0.2.8", 101),
                          ("192.0.2.7", 429)]:
            c = a.connect(timeout=5)
            held.append(c)
            c.sendall(build_request(add=[("X-Forwarded-For", xff)]))
            out = wslib.read_until(c, timeout=5)
            assert status_of(out) == want, (xff, out)
    finally:
        for c in held:
            c.close()


@pytest.mark.parametrize("args,msg", [
    (["--max-per-client", "2"], "--max-per-client needs --state FILE"),
    (["--max-per-client", "0", "--state", "/tmp/x"], "from 1 to 1024"),
    (["--max-per-client", "1025", "--state", "/tmp/x"], "from 1 to 1024"),
])
def test_max_per_client_usage(args, msg):
    out, err, rc = wslib.run_pipe([*args, "ws://127.0.0.1:9"], b"",
                                  timeout=10)
    assert rc == 64, err
    assert msg in err, err


def test_send_proxy_before_tls(tmp_path):
    """To a wss:// backend the PROXY header goes first, in the clear, and
    the TLS handshake follows it."""
    import threading

    import helpers_tls as H
    pki = H.make_pki(tmp_path / "pki")
    ctx = H.server_context(*pki.server)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(10)
    seen = {}

    def serve():
        conn, _ = lsock.accept()
        conn.settimeout(5)
        pre = b""
        while not pre.endswith(b"\r\n") and len(pre) < 108:
            pre += conn.recv(1)         # exactly the line, not a byte more
        seen["preface"] = pre
        with ctx.wrap_socket(conn, server_side=True) as t:
            head, _ = H.read_head(t)
            seen["head"] = head
            H.send_101(t, head)
            t.recv(1)
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        out, err, rc = wslib.run_pipe(
            ["--close-timeout", "1", "--send-proxy", "v1", "--backend-ca",
             pki.ca, f"wss://127.0.0.1:{lsock.getsockname()[1]}"],
            build_request(), timeout=10)
        th.join(10)
    finally:
        lsock.close()
    assert seen.get("preface") == b"PROXY UNKNOWN\r\n", (seen, err)
    assert wslib.Response(out).status == 101, (out, err)
    assert rc == 0, err
