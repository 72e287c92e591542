"""The command line (SPEC.md "Command line", "Logging", "Exit status"):
--help and --version, usage and configuration errors, --check, and where
the log goes."""
import os
import socket
import subprocess
import time

import pytest

import wslib
from helpers_tun import access_lines_of, file_reader, wait_access


def run(args, stdin=subprocess.DEVNULL, timeout=10):
    """(exit status, stdout bytes, stderr text) of wstunnel ARGS."""
    try:
        p = subprocess.run([wslib.WSTUNNEL, *args], stdin=stdin,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"wstunnel {args} did not exit within {timeout}s")
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


# ------------------------------------------------------------ --help, --version

@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_help_on_stdout_exit_0(opt):
    code, out, err = run([opt])
    assert code == 0
    assert b"usage" in out.lower() and b"wstunnel" in out
    for o in [b"--idle-timeout", b"--close-timeout", b"--check", b"--log"]:
        assert o in out
    assert err == ""


def test_version_on_stdout_exit_0():
    code, out, err = run(["--version"])
    assert code == 0
    assert out.startswith(b"wstunnel ") and out.endswith(b"\n")
    assert out.count(b"\n") == 1
    assert err == ""


def test_help_with_url_still_only_help():
    code, out, err = run(["--help", "ws://127.0.0.1:1"])
    assert code == 0 and b"usage" in out.lower() and err == ""


# ------------------------------------------------------------ usage errors

BAD = [
    # (arguments, what the message must name)
    (["--no-such-option", "ws://127.0.0.1:1"], "--no-such-option"),
    (["-x", "ws://127.0.0.1:1"], "-x"),
    (["ws://127.0.0.1:1", "--idle-timeout"], "idle-timeout"),
    ([], "URL"),
    (["http://x"], "http://x"),
    (["ws://"], "ws://"),
    (["ws://host:99999"], "99999"),
    (["ws://unix:relative"], "unix:relative"),
    (["ws://[::1"], "[::1"),
    (["--allow", "10.0.0.0/33", "ws://127.0.0.1:1"], "10.0.0.0/33"),
    (["--allow", "bogus", "ws://127.0.0.1:1"], "bogus"),
    (["--deny", "300.1.1.1", "ws://127.0.0.1:1"], "300.1.1.1"),
    (["--deny", "::1/129", "ws://127.0.0.1:1"], "::1/129"),
    (["--origin", "example.com", "ws://127.0.0.1:1"], "example.com"),
    (["--origin", "https://a.example/path", "ws://127.0.0.1:1"], "https://a.example/path"),
    (["--origin", "https://", "ws://127.0.0.1:1"], "https://"),
    (["--origin", "https://a.example:99999", "ws://127.0.0.1:1"], "https://a.example:99999"),
    (["--idle-timeout", "abc", "ws://127.0.0.1:1"], "abc"),
    (["--close-timeout", "-1", "ws://127.0.0.1:1"], "close-timeout"),
    (["--handshake-timeout", "1x", "ws://127.0.0.1:1"], "1x"),
    (["--connect-timeout", "", "ws://127.0.0.1:1"], "connect-timeout"),
    (["--idle-timeout", "1.2.3", "ws://127.0.0.1:1"], "1.2.3"),
    (["--max-header-bytes", "abc", "ws://127.0.0.1:1"], "abc"),
    (["--max-header-bytes", "12x", "ws://127.0.0.1:1"], "12x"),
    (["--max-header-bytes", "-5", "ws://127.0.0.1:1"], "max-header-bytes"),
    (["--busy-poll", "abc", "ws://127.0.0.1:1"], "abc"),
    (["--busy-poll", "1000001", "ws://127.0.0.1:1"], "1000001"),
    (["--busy-poll", "-1", "ws://127.0.0.1:1"], "busy-poll"),
    (["--busy-poll", "0.5", "ws://127.0.0.1:1"], "0.5"),
    (["--tls-cert", "/nonexistent/cert.pem", "ws://127.0.0.1:1"], "/nonexistent/cert.pem"),
    (["--check", "--tls-cert", "/nonexistent/cert.pem", "ws://127.0.0.1:1"],
     "/nonexistent/cert.pem"),
    (["--backend-ca", "/nonexistent/ca.pem", "wss://127.0.0.1:1"], "/nonexistent/ca.pem"),
]


@pytest.mark.parametrize("args,needle", BAD,
                         ids=[" ".join(a) or "no-args" for a, _ in BAD])
def test_usage_error(tmp_path, args, needle):
    log = tmp_path / "w.log"
    code, out, err = run(["--log", str(log), *args])
    assert code == 64, (code, err)
    assert out == b"", f"stdout must stay empty: {out!r}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert needle in err, f"message does not name {needle!r}: {err!r}"
    logged = file_reader(log)()
    assert needle in logged, f"message not in the log: {logged!r}"
    assert access_lines_of(logged) == [], "no session may start"


def test_usage_error_tls_cert_not_a_certificate(tmp_path):
    bogus = tmp_path / "cert.pem"
    bogus.write_text("this is no certificate\n")
    log = tmp_path / "w.log"
    code, out, err = run(["--log", str(log), "--tls-cert", str(bogus), "ws://127.0.0.1:1"])
    assert code == 64 and out == b""
    assert err.count("\n") == 1 and str(bogus) in err
    assert str(bogus) in file_reader(log)()


def test_usage_error_never_reads_stdin(tmp_path):
    r, w = os.pipe()
    try:
        pending = wslib.upgrade_request()
        os.write(w, pending)
        code, out, err = run(["--no-such-option", "ws://127.0.0.1:1"], stdin=r, timeout=5)
        assert code == 64 and out == b""
        os.set_blocking(r, False)
        assert os.read(r, 65536) == pending, "a usage error read from fd 0"
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------ --check

def test_check_good_configuration(raw_backend, tmp_path):
    b = raw_backend()
    r, w = os.pipe()        # nobody ever writes or closes: reading blocks
    pending = wslib.upgrade_request()
    os.write(w, pending)
    log = tmp_path / "w.log"
    try:
        code, out, err = run(["--log", str(log), "--check", "--idle-timeout", "30",
                              "--origin", "https://*.example.com", "--allow", "127.0.0.0/8",
                              "--deny", "10.0.0.0/8",
                              f"/app=ws://127.0.0.1:{b.port}/ws",
                              "/sock=ws://unix:/nonexistent.sock:/x"],
                             stdin=r, timeout=5)
        os.set_blocking(r, False)
        left = os.read(r, 65536)
    finally:
        os.close(r)
        os.close(w)
    assert code == 0, err
    assert out == b"" and wslib.check_ok(err), err
    assert left == pending, "--check read from fd 0"
    time.sleep(0.2)
    assert b.connections == 0, "--check contacted the backend"
    assert access_lines_of(file_reader(log)()) == []


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    import helpers_tls
    return helpers_tls.make_pki(tmp_path_factory.mktemp("pki"))


CHECKED = {
    "bare": lambda p, d: ["ws://127.0.0.1:1/ws"],
    "routes": lambda p, d: ["/a=ws://127.0.0.1:1/x", "/b=ws://[::1]:2",
                            "/c=ws://unix:/nonexistent.sock:/x"],
    "access": lambda p, d: ["--allow", "127.0.0.0/8", "--deny", "10.0.0.0/8",
                            "--origin", "https://*.example.com",
                            "ws://127.0.0.1:1"],
    "balance": lambda p, d: ["--balance", "roundrobin", "--state",
                             str(d / "state"),
                             "ws://127.0.0.1:1,ws://127.0.0.1:2"],
    "proxy-protocol": lambda p, d: ["--proxy-protocol", "ws://127.0.0.1:1"],
    "timeouts": lambda p, d: ["--idle-timeout", "30", "--close-timeout", "1",
                              "--handshake-timeout", "2",
                              "--connect-timeout", "2", "ws://127.0.0.1:1"],
    "tls-client-side": lambda p, d: ["--tls-cert", p.server[0], "--tls-key",
                                     p.server[1], "ws://127.0.0.1:1"],
    "tls-backend": lambda p, d: ["--backend-ca", p.ca, "--backend-cert",
                                 p.client[0], "--backend-key", p.client[1],
                                 "wss://localhost:1/ws"],
    "verbose": lambda p, d: ["-v", "ws://127.0.0.1:1"],
}


@pytest.mark.parametrize("kind", CHECKED)
@pytest.mark.parametrize("log", ["file", "stderr", "syslog"])
def test_check_writes_nothing_to_fd1(pki, tmp_path, kind, log):
    """SPEC.md: --check writes nothing to fd 1, its verdict goes to stderr
    (and the log), as nginx -t does."""
    logfile = tmp_path / "w.log"
    dest = {"file": str(logfile), "stderr": "stderr", "syslog": "syslog"}[log]
    code, out, err = run(["--check", "--log", dest,
                          *CHECKED[kind](pki, tmp_path)], timeout=5)
    assert code == 0, err
    assert out == b"", f"--check wrote {out!r} to fd 1"
    assert len(err.splitlines()) == 1 and "configuration OK" in err, err
    if log == "file":
        assert "configuration OK" in logfile.read_text()


@pytest.mark.parametrize("bad", [["--allow", "1.2.3.4/40", "ws://h"],
                                 ["--tls-cert", "/nonexistent", "--tls-key",
                                  "/nonexistent", "ws://h"],
                                 ["ws:/h"]])
def test_check_refusal_writes_nothing_to_fd1(bad):
    code, out, err = run(["--check", *bad], timeout=5)
    assert code == 64 and out == b"", (out, err)
    assert len(err.splitlines()) == 1, err


def test_check_with_fd_0_1_2_one_socket_sends_the_peer_nothing():
    """inetd style: the client on fd 0, 1 and 2.  Neither the verdict nor
    anything else may reach it."""
    a, b = socket.socketpair()
    try:
        p = subprocess.run([wslib.WSTUNNEL, "--check", "ws://127.0.0.1:1"],
                           stdin=b, stdout=b, stderr=b, timeout=5)
        b.close()
        a.settimeout(2)
        assert p.returncode == 0
        assert a.recv(4096) == b"", "--check wrote to the client"
    finally:
        a.close()


def test_check_unix_backend_need_not_exist():
    code, out, err = run(["--check", "ws://unix:/nonexistent.sock:/x"], timeout=5)
    assert code == 0, err


def test_unwritable_log_file_is_a_usage_error(tmp_path):
    bad = str(tmp_path / "no" / "such" / "dir" / "w.log")
    code, out, err = run(["--log", bad, "ws://127.0.0.1:1"])
    assert code == 64 and out == b""
    assert err.count("\n") == 1 and bad in err, err


def test_check_bad_configuration_is_64(tmp_path):
    code, out, err = run(["--check", "--allow", "1.2.3.4/40", "ws://127.0.0.1:1"])
    assert code == 64 and out == b"" and "1.2.3.4/40" in err


# ------------------------------------------------------------ logging

def refused_session(args, timeout=10):
    """One refused request (405) through pipe mode; (out, err, code)."""
    req = wslib.upgrade_request().replace(b"GET ", b"POST ", 1)
    p = subprocess.run([wslib.WSTUNNEL, *args], input=req, capture_output=True,
                       timeout=timeout)
    return p.stdout, p.stderr.decode(errors="replace"), p.returncode


def tunnel_session(args, backend_port, timeout=10):
    p = subprocess.run([wslib.WSTUNNEL, "--close-timeout", "2", *args,
                        f"ws://127.0.0.1:{backend_port}"],
                       input=wslib.upgrade_request("/t") + b"data",
                       capture_output=True, timeout=timeout)
    return p.stdout, p.stderr.decode(errors="replace"), p.returncode


def test_log_file_appends_one_access_line_per_connection(raw_backend, tmp_path):
    b = raw_backend()
    log = tmp_path / "w.log"
    log.write_text("an older line\n")
    out, err, code = tunnel_session(["--log", str(log)], b.port)
    assert wslib.Response(out).status == 101 and code == 0
    out, err, code = refused_session(["--log", str(log), f"ws://127.0.0.1:{b.port}"])
    assert wslib.Response(out).status == 405 and code == 1
    out, err, code = tunnel_session(["--log", str(log)], b.port)
    assert code == 0
    text = log.read_text()
    assert text.startswith("an older line\n"), "--log FILE must append"
    lines = access_lines_of(text)
    assert [l["status"] for l in lines] == ["101", "405", "101"], text
    assert [l["path"] for l in lines] == ["/t", "/", "/t"], text
    for l in lines:
        for key in ["client", "path", "backend", "status", "up", "down", "secs", "end"]:
            assert key in l, (key, l)


def test_log_file_with_socket_activation(raw_backend, activated):
    b = raw_backend()
    s = activated([f"ws://127.0.0.1:{b.port}"])
    for i in range(3):
        c = s.connect()
        with c:
            c.sendall(wslib.upgrade_request(f"/n{i}"))
            assert wslib.Response(wslib.read_until(c)).status == 101
            c.sendall(b"x" * (i + 1))
            c.shutdown(socket.SHUT_WR)
            assert wslib.read_all(c, timeout=5) == b"x" * (i + 1)
    lines = wait_access(s.log, 3)
    assert len(lines) == 3
    assert sorted(l["path"] for l in lines) == ["/n0", "/n1", "/n2"]
    assert sorted(l["up"] for l in lines) == ["1", "2", "3"]
    for l in lines:
        assert l["client"].startswith("127.0.0.1:") and l["end"] == "client-closed", l


@pytest.mark.parametrize("log_args", [[], ["--log", "syslog"]], ids=["default", "explicit"])
def test_syslog_is_default_nothing_on_stderr(raw_backend, log_args):
    b = raw_backend()
    out, err, code = refused_session([*log_args, f"ws://127.0.0.1:{b.port}"])
    assert wslib.Response(out).status == 405 and code == 1
    assert err == "", f"syslog logging wrote to stderr: {err!r}"
    out, err, code = tunnel_session(log_args, b.port)
    assert wslib.Response(out).status == 101 and code == 0
    assert err == ""


def test_log_stderr(raw_backend):
    b = raw_backend()
    out, err, code = tunnel_session(["--log", "stderr"], b.port)
    assert code == 0
    lines = access_lines_of(err)
    assert len(lines) == 1 and lines[0]["status"] == "101", err


def test_verbose_adds_detail_lines(raw_backend, tmp_path):
    b = raw_backend()
    quiet, loud = tmp_path / "q.log", tmp_path / "v.log"
    _, _, code = tunnel_session(["--log", str(quiet)], b.port)
    assert code == 0
    _, _, code = tunnel_session(["--log", str(loud), "-v"], b.port)
    assert code == 0
    q, v = quiet.read_text().splitlines(), loud.read_text().splitlines()
    assert len(access_lines_of("\n".join(q))) == 1
    assert len(access_lines_of("\n".join(v))) == 1
    assert len(v) > len(q), f"-v logged nothing more:\n{quiet.read_text()}\n---\n{loud.read_text()}"
    _, _, code = tunnel_session(["--log", str(tmp_path / "vv.log"), "--verbose"], b.port)
    assert code == 0
    assert len((tmp_path / "vv.log").read_text().splitlines()) > len(q)
