"""Issue 16's parser hardening, through the real binary: a Host no URI may
hold is refused before any backend is contacted (with and without
--preserve-host); headers that would spoof what wstunnel tells the backend
never reach it; "..;" path segments are refused; a protocol-relative
Location naming the backend is rewritten; a backend port written with
leading zeros is sent in Host as its number."""
import pytest

import wslib
from helpers_rb import (ACCEPT, assert_no_connection, build_request,
                        check_one_access_line, check_refusal, field)

FRONT = "front.example:8080"


def refuse(raw_backend, data, args=()):
    """wstunnel answers 400 on its own: no backend connection, exit 1."""
    b = raw_backend()
    out, err, rc = wslib.run_pipe([*args, f"ws://127.0.0.1:{b.port}"], data,
                                  timeout=10)
    check_refusal(out, 400)
    assert rc == 1, err
    check_one_access_line(err, 400)
    assert_no_connection(b, settle=0.1)
    return out, err


def upgrade(raw_backend, data, route="ws://127.0.0.1:{p}", args=(),
            handler=None):
    """The request reaches the backend and its 101 the client; the head the
    backend was sent."""
    b = raw_backend(handler)
    out, err, rc = wslib.run_pipe(["--close-timeout", "1", *args,
                                   route.format(p=b.port)], data, timeout=10)
    res = wslib.Response(out)
    assert res.status == 101, (out, err)
    assert res.get("Sec-WebSocket-Accept") == ACCEPT, out
    assert rc == 0, err
    assert b.connections == 1
    return b.heads[0]


def values(head, name):
    out = []
    for line in head.decode("latin-1").split("\r\n")[1:]:
        n, _, v = line.partition(":")
        if n.lower() == name.lower():
            out.append(v.strip())
    return out


def names(head):
    return [l.partition(":")[0]
            for l in head.decode("latin-1").split("\r\n")[1:] if l]


# --------------------------------------------------------------------------
# Host (RFC 9110 section 7.2, RFC 3986 section 3.2.2)

BAD_HOSTS = [
    "exa#mple.com", "a|b.example", "a^b.example", "a`b.example", "a{b}",
    "a\\b", "a[b", "a%41b", "a%2Fb", "a..example", ".example",
    "example.com:", "example.com:0", "example.com:65536", "example.com:1:2",
    "127.1", "0x7f.0.0.1", "2130706433", "01.2.3.4", "256.1.1.1",
    "[::1", "[::1]x", "[zz::1]", "[v1.x]", "[fe80::1%25eth0]",
    "caf\xe9.example",
]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_bad_host_refused(raw_backend, host):
    refuse(raw_backend, build_request(host=host))


@pytest.mark.parametrize("host", ["a|b.example", "a^b.example:8080"])
def test_bad_host_refused_with_preserve_host(raw_backend, host):
    refuse(raw_backend, build_request(host=host), args=["--preserve-host"])


GOOD_HOSTS = [
    "example.com", "example.com.", "a_b-c~d.example:8080",
    "caf%C3%A9.example", "a!$&'()*+,;=b", "192.0.2.10:65535",
    "[2001:db8::1]:443",
]


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_good_host_forwarded(raw_backend, host):
    head = upgrade(raw_backend, build_request(host=host),
                   args=["--preserve-host"])
    assert values(head, "Host") == [host]
    assert values(head, "X-Forwarded-Host") == [host]


# --------------------------------------------------------------------------
# what wstunnel says of the client, and names a backend takes for it

SPOOFS = [
    ("X_Forwarded_For", "6.6.6.1"), ("x-forwarded_for", "6.6.6.2"),
    ("X-Forwarded_Host", "evil.example"), ("X_FORWARDED_HOST", "evil2"),
    ("X_Forwarded_Proto", "https"), ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil3.example"),
    ("Forwarded", "for=6.6.6.3;proto=https;host=evil.example"),
    ("X-Real-IP", "6.6.6.4"), ("x_real_ip", "6.6.6.5"),
]


def cgi_name(name):
    return name.upper().replace("-", "_")


@pytest.mark.parametrize("preserve", [False, True])
def test_spoofed_client_facts_do_not_reach_backend(raw_backend, preserve):
    """A CGI or WSGI backend reads X_Forwarded_For as X-Forwarded-For
    (HTTP_X_FORWARDED_FOR); only what wstunnel writes may reach it."""
    data = build_request(host=FRONT, add=[
        *SPOOFS, ("X-Forwarded-For", "198.51.100.1"),
        ("X_Other_Name", "kept")])
    head = upgrade(raw_backend, data,
                   args=["--preserve-host"] if preserve else [])
    assert b"6.6.6." not in head and b"evil" not in head, head
    cgi = [cgi_name(n) for n in names(head)]
    for n in ("X_FORWARDED_FOR", "X_FORWARDED_HOST", "X_FORWARDED_PROTO"):
        assert cgi.count(n) == 1, head
    assert "FORWARDED" not in cgi and "X_REAL_IP" not in cgi, head
    assert values(head, "X-Forwarded-Host") == [FRONT]
    assert values(head, "X-Forwarded-Proto") == ["http"]
    xff = values(head, "X-Forwarded-For")
    assert len(xff) == 1 and xff[0].startswith("198.51.100.1, "), head
    assert values(head, "X_Other_Name") == ["kept"]


# --------------------------------------------------------------------------
# dot-segments with path parameters: Tomcat's "/app/..;/admin" is "/admin"

DOT_PARAMS = [
    "/app/..;/admin", "/app/..;jsessionid=x/admin", "/app/.;/x",
    "/app/%2e%2e;/admin", "/app/.%2E;/admin", "/app/..%3B/admin",
    "/app/..;?q=1", "/..;/admin",
]


@pytest.mark.parametrize("target", DOT_PARAMS)
def test_dot_segment_with_parameters_refused(raw_backend, target):
    b = raw_backend()
    out, err, rc = wslib.run_pipe(
        [f"/app=ws://127.0.0.1:{b.port}/app",
         f"/=ws://127.0.0.1:{b.port}/public"], build_request(target=target),
        timeout=10)
    check_refusal(out, 400)
    assert rc == 1, err
    check_one_access_line(err, 400)
    assert_no_connection(b, settle=0.1)


@pytest.mark.parametrize("target", ["/app/a;b/c", "/app/...;/x",
                                    "/app/x..;/y", "/app?p=/..;/"])
def test_semicolon_outside_dot_segment_passes(raw_backend, target):
    head = upgrade(raw_backend, build_request(target=target),
                   route="/app=ws://127.0.0.1:{p}/app")
    assert head.split(b"\r\n")[0] == f"GET {target} HTTP/1.1".encode()


# --------------------------------------------------------------------------
# a backend port written with leading zeros: its number in Host, and the
# Location it sends is still recognised as its own

def low_port_backend(raw_backend, handler=None):
    """A RawBackend on a port below 10000, so that "0" and the port fit the
    five digits a port may have (8000 first, as in the issue)."""
    for port in [8000, *range(8001, 8100)]:
        try:
            return raw_backend(handler, port=port)
        except OSError:
            continue
    pytest.skip("no free port in 8000-8099")


def test_port_with_leading_zero_is_sent_as_number(raw_backend):
    b = low_port_backend(raw_backend)
    out, err, rc = wslib.run_pipe(
        ["--close-timeout", "1", f"/app=ws://127.0.0.1:0{b.port}/ws"],
        build_request(target="/app/x", host=FRONT), timeout=10)
    assert wslib.Response(out).status == 101, (out, err)
    assert values(b.heads[0], "Host") == [f"127.0.0.1:{b.port}"]
    assert rc == 0, err


def test_port_with_leading_zero_location_rewritten(raw_backend):
    b = low_port_backend(raw_backend, lambda conn, head, rest: conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/ws/next\r\n"
        b"Content-Length: 0\r\n\r\n" % b.port))
    out, err, rc = wslib.run_pipe(
        ["--close-timeout", "1", f"/app=ws://127.0.0.1:0{b.port}/ws"],
        build_request(target="/app/x", host=FRONT), timeout=10)
    res = wslib.Response(out)
    assert res.status == 302, (out, err)
    assert res.all("Location") == [f"http://{FRONT}/app/next"]
    assert rc == 1, err


# --------------------------------------------------------------------------
# a protocol-relative Location naming the backend (ProxyPassReverse)

def location_answer(location):
    def handler(conn, head, rest):
        port = conn.getsockname()[1]
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: "
                     + location.format(p=port).encode()
                     + b"\r\nContent-Length: 5\r\n\r\nmoved")
    return handler


def relay_302(raw_backend, location):
    b = raw_backend(location_answer(location))
    out, err, rc = wslib.run_pipe(
        ["--close-timeout", "1", f"/app=ws://127.0.0.1:{b.port}/ws"],
        build_request(target="/app/x", host=FRONT), timeout=10)
    res = wslib.Response(out)
    assert res.status == 302, (out, err)
    assert res.rest == b"moved"
    assert rc == 1, err
    return out, res, b.port


@pytest.mark.parametrize("location,want", [
    ("//127.0.0.1:{p}/ws/x", f"//{FRONT}/app/x"),
    ("//127.0.0.1:{p}/ws", f"//{FRONT}/app"),
    ("//127.0.0.1:{p}/ws?next=//a", f"//{FRONT}/app?next=//a"),
])
def test_protocol_relative_location_rewritten(raw_backend, location, want):
    out, res, port = relay_302(raw_backend, location)
    assert res.all("Location") == [want]
    assert b"127.0.0.1" not in out and str(port).encode() not in out, out


@pytest.mark.parametrize("location", [
    "//127.0.0.1:{p}/elsewhere", "//other.example:{p}/ws/x",
    "//127.0.0.1/ws/x",
])
def test_protocol_relative_location_elsewhere_left_alone(raw_backend,
                                                         location):
    _, res, port = relay_302(raw_backend, location)
    assert res.all("Location") == [location.format(p=port)]
