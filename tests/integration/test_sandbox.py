"""The sandbox (man wstunnel.8, SANDBOX): a seccomp filter per phase that
kills the process with SIGSYS on any system call the rest of the session
does not need.  tests/wstunnel-selftest is wstunnel built with
-DSANDBOX_SELFTEST: WSTUNNEL_SANDBOX_SELFTEST=PHASE:CALL makes it attempt
CALL right after PHASE's filter is loaded, and log it if it survives."""
import os
import re
import signal
import socket
import subprocess

import pytest

import wslib

SELFTEST = str(wslib.ROOT / "tests" / "wstunnel-selftest")


def check(*args):
    """--check's exit status and stderr."""
    p = subprocess.run(wslib.command(["--check", *args, "ws://127.0.0.1:9/"]),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=15)
    return p.returncode, p.stderr


def sandbox_built():
    code, err = check()
    assert code == 0 and wslib.check_ok(err), err
    return "sandbox on" in err


needs_sandbox = pytest.mark.skipif(
    bool(wslib.WRAPPER) or not sandbox_built(),
    reason="the sandbox is compiled out (SANITIZE=1) or off under valgrind")


def run_selftest(attempt, args, data, timeout=15):
    """The self-test binary in pipe mode, attempting attempt."""
    env = dict(os.environ, WSTUNNEL_SANDBOX_SELFTEST=attempt)
    p = subprocess.run([SELFTEST, "--log", "stderr", *args], input=data,
                       capture_output=True, env=env, timeout=timeout)
    return p.stdout, p.stderr.decode(errors="replace"), p.returncode


def test_check_says_whether_the_sandbox_will_be_on():
    assert check("--no-sandbox") == (
        0, "wstunnel: configuration OK, sandbox off (--no-sandbox)\n")
    code, err = check()
    assert code == 0 and wslib.check_ok(err), err


@needs_sandbox
@pytest.mark.parametrize("call", ["exec", "fork", "write-file"])
def test_request_phase_kills_a_forbidden_call(raw_backend, call):
    b = raw_backend()
    out, err, code = run_selftest(f"request:{call}",
                                  [f"ws://127.0.0.1:{b.port}"],
                                  wslib.upgrade_request())
    assert code == -signal.SIGSYS, (code, err)
    assert out == b""
    assert "survived" not in err
    assert b.connections == 0


@needs_sandbox
def test_request_phase_lets_the_resolver_read_files(raw_backend):
    """Read-only opens stay: getaddrinfo() reads /etc/hosts and others."""
    b = raw_backend()
    out, err, code = run_selftest("request:open",
                                  [f"ws://localhost:{b.port}"],
                                  wslib.upgrade_request())
    assert "self-test: request:open survived" in err
    assert wslib.Response(out).status == 101, (out, err)


def backend_then_bytes(conn, head, rest):
    """A 101, then bytes the client must get only if the relay runs."""
    wslib.switch_101(conn, head, rest, then_echo=False)
    conn.sendall(b"\x82\x05after")
    conn.settimeout(10)
    conn.recv(1)


@needs_sandbox
@pytest.mark.parametrize("call", ["open", "socket", "exec"])
def test_relay_phase_kills_a_forbidden_call(raw_backend, call):
    b = raw_backend(backend_then_bytes)
    out, err, code = run_selftest(f"relay:{call}",
                                  [f"ws://127.0.0.1:{b.port}"],
                                  wslib.upgrade_request())
    assert code == -signal.SIGSYS, (code, err)
    res = wslib.Response(out)
    assert res.status == 101, out
    assert res.rest == b"", "the relay ran after the forbidden call"
    assert "survived" not in err and " client=" not in err


@pytest.mark.parametrize("call", ["request:fork", "request:write-file",
                                  "relay:open", "relay:socket"])
def test_no_sandbox_lets_the_calls_through(raw_backend, call):
    """The same attempts with --no-sandbox: the hook runs and survives."""
    b = raw_backend(backend_then_bytes)
    out, err, code = run_selftest(call, ["--no-sandbox",
                                         f"ws://127.0.0.1:{b.port}"],
                                  wslib.upgrade_request())
    assert code == 0, (code, err)
    assert f"self-test: {call} survived" in err
    assert wslib.Response(out).rest == b"\x82\x05after"


def status_of(pid):
    text = open(f"/proc/{pid}/status").read()
    return dict(re.findall(r"^(\w+):\s*(.*)$", text, re.M))


def live_tunnel_status(activated, raw_backend, extra):
    b = raw_backend()
    t = activated([*extra, f"ws://127.0.0.1:{b.port}"])
    with t.connect() as c:
        c.sendall(wslib.upgrade_request())
        head = wslib.read_until(c)
        assert head.startswith(b"HTTP/1.1 101"), head
        c.sendall(wslib.frame(b"ping", mask=False))
        assert b"ping" in wslib.read_until(c, marker=b"ping")  # relaying
        assert wslib.wait_for(lambda: len(t.children()) == 1)
        pid = t.children()[0]
        st = status_of(pid)
        st["owner"] = os.stat(f"/proc/{pid}/status").st_uid
        c.shutdown(socket.SHUT_WR)
    return st


@needs_sandbox
def test_live_tunnel_runs_under_both_filters(activated, raw_backend):
    base = int(status_of(os.getpid()).get("Seccomp_filters", "0"))
    st = live_tunnel_status(activated, raw_backend, [])
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
    if "Seccomp_filters" in st:
        assert int(st["Seccomp_filters"]) == base + 2, st


def test_no_sandbox_leaves_the_tunnel_unfiltered(activated, raw_backend):
    base = status_of(os.getpid())
    st = live_tunnel_status(activated, raw_backend, ["--no-sandbox"])
    assert st["Seccomp"] == base["Seccomp"]
    assert st.get("Seccomp_filters") == base.get("Seccomp_filters")


# --------------------------------------------------------------------------
# --user

def nobody():
    import pwd
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid, set(os.getgrouplist("nobody", pw.pw_gid))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_user_drops_to_the_user_and_its_groups(activated, raw_backend):
    uid, gid, groups = nobody()
    st = live_tunnel_status(activated, raw_backend, ["--user", "nobody"])
    assert st["Uid"].split() == [str(uid)] * 4, st
    assert st["Gid"].split() == [str(gid)] * 4, st
    assert {int(g) for g in st["Groups"].split()} == groups, st


def proc_owner_as_nobody(raw_backend, extra):
    """The owner of /proc/PID/status of a live tunnel that nobody runs."""
    uid, gid, _ = nobody()
    b = raw_backend()
    p = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}",
                          "--clear-groups", wslib.WSTUNNEL, "--log", "stderr",
                          *extra, f"ws://127.0.0.1:{b.port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        p.stdin.write(wslib.upgrade_request())
        p.stdin.flush()
        assert p.stdout.read(12) == b"HTTP/1.1 101"
        return os.stat(f"/proc/{p.pid}/status").st_uid
    finally:
        p.stdin.close()
        p.wait(timeout=10)


@needs_sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_not_dumpable_with_the_sandbox(raw_backend):
    """A process that is not dumpable has its /proc files owned by root,
    whatever its user: started as nobody, it is so with the sandbox only."""
    assert proc_owner_as_nobody(raw_backend, []) == 0
    assert proc_owner_as_nobody(raw_backend, ["--no-sandbox"]) == nobody()[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_without_user_root_stays_root(activated, raw_backend):
    st = live_tunnel_status(activated, raw_backend, [])
    assert st["Uid"].split() == ["0"] * 4, st


def test_user_unknown_is_a_usage_error():
    code, err = check("--user", "no-such-user-here")
    assert code == 64
    assert err == "wstunnel: --user no-such-user-here: no such user\n"


def test_check_with_user_changes_nothing():
    code, err = check("--user", "nobody")
    assert code == 0 and wslib.check_ok(err), err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_user_other_than_self_needs_root():
    uid, gid, _ = nobody()
    p = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}",
                        "--clear-groups", wslib.WSTUNNEL, "--check", "--user",
                        "root", "ws://127.0.0.1:9/"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=15)
    assert p.returncode == 64, p.stderr
    assert p.stderr == ("wstunnel: --user root: only root can become another "
                        "user\n")


# --------------------------------------------------------------------------
# descriptors

@pytest.mark.skipif(bool(wslib.WRAPPER), reason="valgrind's descriptors")
def test_tunnel_holds_only_its_own_descriptors(activated, raw_backend,
                                               tmp_path):
    """After start, with every kind of file loaded, a live tunnel holds fd
    0/1/2, the files it uses and its sockets and pipes: nothing opened
    while loading (certificates, /etc files, the resolver's) is left."""
    import base64
    b = raw_backend()
    state, auth = tmp_path / "state", tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-b", "-c", "-s", str(auth), "alice", "pw"],
                   check=True, capture_output=True)
    t = activated(["--state", str(state), "--auth-file", str(auth),
                   f"ws://localhost:{b.port}"])
    cred = base64.b64encode(b"alice:pw").decode()
    with t.connect() as c:
        c.sendall(wslib.upgrade_request(
            extra=[f"Authorization: Basic {cred}"]))
        assert wslib.read_until(c).startswith(b"HTTP/1.1 101")
        c.sendall(wslib.frame(b"ping", mask=False))
        assert b"ping" in wslib.read_until(c, marker=b"ping")
        assert wslib.wait_for(lambda: len(t.children()) == 1)
        pid = t.children()[0]
        fds = {int(n): os.readlink(f"/proc/{pid}/fd/{n}")
               for n in os.listdir(f"/proc/{pid}/fd")}
        flags = {fd: int(re.search(r"^flags:\s*(\d+)", open(
            f"/proc/{pid}/fdinfo/{fd}").read(), re.M).group(1), 8)
            for fd in fds}
        c.shutdown(socket.SHUT_WR)
    # none would reach a program it ran: O_CLOEXEC on every one of its own
    assert all(flags[fd] & os.O_CLOEXEC for fd in fds if fd > 2), flags
    assert {0, 1, 2} <= set(fds), fds
    rest = {fd: link for fd, link in fds.items() if fd > 2}
    files = {link for link in rest.values()
             if not link.startswith(("socket:", "pipe:"))}
    assert files <= {t.logfile, str(state), str(auth)}, fds
    sockets = [link for link in rest.values() if link.startswith("socket:")]
    assert len(sockets) == 1, fds          # the backend
    pipes = [link for link in rest.values() if link.startswith("pipe:")]
    assert len(pipes) in (0, 4), fds       # splice: two pipes
