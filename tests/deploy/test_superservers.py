"""The shipped inetd, xinetd and systemd files, each started with the real
super-server with only ports and paths substituted: one WebSocket echo
through it, then no wstunnel and no backend connection left."""
import os
import re
import shutil
import subprocess
from functools import partial
import threading

import pytest

import deploylib as dl
import wslib

ORIGIN = "https://www.example.com"


@pytest.fixture
def bin_dir():
    d = dl.public_copy()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def backend():
    b = wslib.EchoBackend()
    yield b
    b.close()


def superserver(name, package):
    """The program name, installed, or unpacked by scripts/deps --deploy."""
    found = shutil.which(name)
    if found is None and os.access(dl.UNPACKED.format(name), os.X_OK):
        found = dl.UNPACKED.format(name)
    if found is None:
        pytest.fail(f"{name} not found: run scripts/deps --deploy as root "
                    f"(package {package})")
    return found


def test_xinetd(tmp_path, bin_dir, backend):
    port = wslib.free_port()
    conf = dl.substitute(dl.shipped("xinetd.d/wstunnel"), [
        ("port\t\t= 8080", f"port\t\t= {port}"),
        ("/usr/sbin/wstunnel", f"{bin_dir}/wstunnel"),
        ("127.0.0.1:8000", f"127.0.0.1:{backend.port}")])
    log = tmp_path / "xinetd.log"
    # as /etc/xinetd.conf: the defaults, then the service file
    (tmp_path / "xinetd.conf").write_text(
        f"defaults\n{{\n\tlog_type = FILE {log}\n}}\n\n" + conf)
    own = tmp_path / "xinetd-own.log"     # xinetd's own messages
    proc = subprocess.Popen(
        [superserver("xinetd", "xinetd"), "-dontfork",
         "-f", str(tmp_path / "xinetd.conf"),
         "-pidfile", str(tmp_path / "xinetd.pid"), "-filelog", str(own)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dl.wait_listening(port, proc)
        # every attribute of the shipped file understood
        assert not re.search(r"ERROR|WARNING", own.read_text()), \
            own.read_text()
        live = partial(dl.assert_live, proc.pid, backend.port, "nobody")
        assert dl.echo(port, "/gateone/ws", "through xinetd", origin=ORIGIN,
                       during=live) == (101, "through xinetd")
        # the route and --origin of server_args are in force
        assert dl.echo(port, "/other", "x")[0] == 404
        assert dl.echo(port, "/gateone/ws", "x",
                       origin="https://evil.example")[0] == 403
        dl.assert_nothing_left(proc.pid, backend.port)
        # log_on_success: the wstunnel that opened the tunnel exited 0,
        # the refused ones 1, each as nobody (xinetd logs what it saw)
        assert wslib.wait_for(
            lambda: len(re.findall(r"EXIT: wstunnel", log.read_text())) >= 3)
        exits = re.findall(r"EXIT: wstunnel status=(\d+)", log.read_text())
        assert sorted(exits) == ["0", "1", "1"], log.read_text()
    finally:
        dl.stop(proc)
    assert not dl.listening(port)


INETDS = {
    # flavour: (program, its options for the foreground and a debug log)
    "openbsd-inetd": ("inetd", ["-d", "-i"]),
    "inetutils-inetd": ("inetutils-inetd", ["-d"]),
}


def start_inetd(flavour, conf):
    name, opts = INETDS[flavour]
    pid = ["-p", str(conf) + ".pid"] if flavour == "inetutils-inetd" else []
    proc = subprocess.Popen([superserver(name, flavour), *opts, *pid,
                             str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    # -d reports every connection on stderr: a full pipe would stop it
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc


@pytest.mark.parametrize("flavour", sorted(INETDS))
def test_inetd(tmp_path, bin_dir, backend, flavour):
    """The plain line of each inetd's section."""
    port = wslib.free_port()
    line = dl.substitute(dl.inetd_line(dl.shipped("inetd.conf.example"),
                                       "127.0.0.1:8080", flavour), [
        ("127.0.0.1:8080", f"127.0.0.1:{port}"),
        ("/usr/sbin/wstunnel", f"{bin_dir}/wstunnel"),
        ("127.0.0.1:8000", f"127.0.0.1:{backend.port}")])
    (tmp_path / "inetd.conf").write_text(line + "\n")
    proc = start_inetd(flavour, tmp_path / "inetd.conf")
    try:
        dl.wait_listening(port, proc)
        live = partial(dl.assert_live, proc.pid, backend.port, "nobody")
        assert dl.echo(port, "/gateone/ws", f"through {flavour}",
                       during=live) == (101, f"through {flavour}")
        dl.assert_nothing_left(proc.pid, backend.port)
    finally:
        dl.stop(proc)
    assert not dl.listening(port)


def test_inetd_allow_origin_line(tmp_path, bin_dir, backend):
    """openbsd-inetd's --allow/--origin line: loopback is not in its
    networks, so with the shipped addresses the client is refused; with
    127.0.0.0/8 added the page's origin passes and another is refused."""
    port = wslib.free_port()
    shipped_line = dl.inetd_line(dl.shipped("inetd.conf.example"), "--allow")
    line = dl.substitute(shipped_line, [
        ("8080 stream", f"127.0.0.1:{port} stream"),
        ("/usr/sbin/wstunnel", f"{bin_dir}/wstunnel"),
        ("127.0.0.1:8000", f"127.0.0.1:{backend.port}")])
    conf = tmp_path / "inetd.conf"
    conf.write_text(line + "\n")
    proc = start_inetd("openbsd-inetd", conf)
    try:
        dl.wait_listening(port, proc)
        assert dl.echo(port, "/gateone/ws", "x", origin=ORIGIN)[0] == 403
    finally:
        dl.stop(proc)
    conf.write_text(line.replace("--allow", "--allow 127.0.0.0/8 --allow", 1)
                    + "\n")
    proc = start_inetd("openbsd-inetd", conf)
    try:
        dl.wait_listening(port, proc)
        live = partial(dl.assert_live, proc.pid, backend.port, "nobody")
        assert dl.echo(port, "/gateone/ws", "allowed", origin=ORIGIN,
                       during=live) == (101, "allowed")
        assert dl.echo(port, "/gateone/ws", "x",
                       origin="https://evil.example")[0] == 403
        dl.assert_nothing_left(proc.pid, backend.port)
    finally:
        dl.stop(proc)


def unit_copies(tmp_path, bin_dir, port, backend_port):
    """Both units with the listening port, the binary's path and the
    backend's port substituted, in tmp_path."""
    sock = dl.substitute(dl.shipped("systemd/wstunnel.socket"), [
        ("ListenStream=127.0.0.1:8080", f"ListenStream=127.0.0.1:{port}")])
    svc = dl.substitute(dl.shipped("systemd/wstunnel@.service"), [
        ("ExecStart=/usr/sbin/wstunnel", f"ExecStart={bin_dir}/wstunnel"),
        ("127.0.0.1:8000/ws\n", f"127.0.0.1:{backend_port}/ws\n")])
    (tmp_path / "wstunnel.socket").write_text(sock)
    (tmp_path / "wstunnel@.service").write_text(svc)
    return tmp_path / "wstunnel.socket", tmp_path / "wstunnel@.service"


def test_systemd_units_verify(tmp_path, bin_dir):
    sock, svc = unit_copies(tmp_path, bin_dir, 8080, 8000)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(sock),
                        str(svc)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--no-pager", str(svc)], capture_output=True,
                       text=True, timeout=60)
    dl.REPORTS.mkdir(parents=True, exist_ok=True)
    (dl.REPORTS / "systemd-security.txt").write_text(r.stdout)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", r.stdout)
    assert m, r.stdout + r.stderr
    print(f"\nsystemd-analyze security: exposure {m.group(1)} {m.group(2)}"
          f" (full report in {dl.REPORTS}/systemd-security.txt)")
    assert m.group(2) in ("OK", "SAFE", "PERFECT"), r.stdout


def test_systemd_socket_activate(tmp_path, bin_dir, backend):
    port = wslib.free_port()
    sock, svc = unit_copies(tmp_path, bin_dir, port, backend.port)
    listen = re.search(r"(?m)^ListenStream=(.*)$", sock.read_text()).group(1)
    assert re.search(r"(?m)^Accept=yes$", sock.read_text())
    cmd = dl.exec_start(svc.read_text())
    err = tmp_path / "stderr"
    with open(err, "w") as errf:
        proc = subprocess.Popen(["systemd-socket-activate", "--inetd", "-a",
                                 "-l", listen, *cmd],
                                stdout=subprocess.DEVNULL, stderr=errf)
    try:
        dl.wait_listening(port, proc)
        live = partial(dl.assert_live, proc.pid, backend.port)
        assert dl.echo(port, "/gateone/ws", "through socket activation",
                       during=live) == (101, "through socket activation")
        dl.assert_nothing_left(proc.pid, backend.port)
        # --log stderr of the unit: the access line on fd 2 (the journal
        # under systemd), never on the client's socket
        assert wslib.wait_for(lambda: "status=101" in err.read_text())
        assert re.search(r"client=127\.0\.0\.1:\d+ path=/gateone/ws .*"
                         r"status=101 ", err.read_text())
    finally:
        dl.stop(proc)
