"""The Debian package as an admin meets it: built by make deb, installed
with apt-get, one TLS echo through /usr/sbin/wstunnel (which loads its TLS
module from the installed path), then removed leaving nothing behind."""
import glob
import os
import re
import ssl
import subprocess
from functools import partial

import pytest

import deploylib as dl
import wslib

VERSION = re.search(r"(?m)^VERSION\s*=\s*(\S+)",
                    (dl.ROOT / "Makefile").read_text()).group(1)
DEB = dl.ROOT / "build" / "deb" / f"wstunnel_{VERSION}_amd64.deb"
FILES = ["/usr/sbin/wstunnel", "/usr/lib/wstunnel/wstunnel-tls.so",
         "/usr/share/man/man8/wstunnel.8.gz",
         "/lib/systemd/system/wstunnel.socket",
         "/lib/systemd/system/wstunnel@.service",
         "/usr/share/doc/wstunnel/examples/inetd.conf.example",
         "/usr/share/doc/wstunnel/examples/xinetd.d/wstunnel",
         "/usr/share/doc/wstunnel/README.md.gz"]
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def installed():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "wstunnel"],
                       capture_output=True, text=True)
    return "install ok installed" in r.stdout


@pytest.fixture(scope="module")
def deb():
    if not DEB.exists():
        pytest.fail(f"{DEB} missing: make deb")
    return DEB


def test_lintian_no_errors(deb):
    changes = glob.glob(str(deb.parent / "wstunnel_*.changes"))
    r = subprocess.run(["lintian", *changes], capture_output=True, text=True,
                       timeout=600)
    print("\n" + r.stdout)
    assert not re.search(r"(?m)^E: ", r.stdout), r.stdout
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends",
                             "Built-Using"], capture_output=True,
                            text=True).stdout
    # dh_shlibdeps: libc and, for the TLS module, libssl
    assert re.search(r"Depends: .*libc6 .*libssl3", fields), fields
    # what is linked from static archives
    for src in ("libbsd (=", "libmd (=", "glibc (="):
        assert src in fields, fields


def test_install_echo_remove(tmp_path, deb):
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    assert not installed(), "a wstunnel package is already installed"
    r = subprocess.run([*APT, "install", str(deb)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    backend = wslib.EchoBackend()
    try:
        assert installed()
        for f in FILES:
            assert os.path.exists(f), f
        # the units are installed, never enabled nor started
        assert not glob.glob("/etc/systemd/system/*/wstunnel*")
        # no module beside the binary: only the compiled-in path can serve
        assert not os.path.exists("/usr/sbin/wstunnel-tls.so")
        tls_echo(tmp_path, backend)
    finally:
        backend.close()
        r = subprocess.run([*APT, "purge", "wstunnel"], capture_output=True,
                           text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not installed()
    left = [f for f in FILES if os.path.exists(f)]
    for pattern in ("/usr/lib/wstunnel", "/usr/share/doc/wstunnel",
                    "/etc/systemd/system/*/wstunnel*"):
        left += glob.glob(pattern)
    assert not left, f"left after purge: {left}"


def tls_echo(tmp_path, backend):
    """One echo over TLS (wstunnel --tls-cert) through the installed
    binary, behind systemd-socket-activate as its socket unit runs it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    port = wslib.free_port()
    err = tmp_path / "stderr"
    with open(err, "w") as errf:
        proc = subprocess.Popen(
            ["systemd-socket-activate", "--inetd", "-a", "-l",
             f"127.0.0.1:{port}", "/usr/sbin/wstunnel", "--log", "stderr",
             "--tls-cert", str(cert), "--tls-key", str(key),
             f"/gateone/ws=ws://127.0.0.1:{backend.port}/ws"],
            stdout=subprocess.DEVNULL, stderr=errf)
    try:
        dl.wait_listening(port, proc)
        ctx = ssl.create_default_context(cafile=str(cert))
        live = partial(dl.assert_live, proc.pid, backend.port)
        assert dl.echo(port, "/gateone/ws", "through the package", ctx=ctx,
                       during=live) == (101, "through the package"), \
            err.read_text()
        dl.assert_nothing_left(proc.pid, backend.port)
        assert wslib.wait_for(lambda: "status=101" in err.read_text())
    finally:
        dl.stop(proc)
