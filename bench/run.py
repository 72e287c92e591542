#!/usr/bin/python3
"""The wstunnel benchmark runner (bench/README.md).

Builds bench/wsload, bench/wsecho and bench/trivial, starts one wsecho
backend, puts every target in front of it, and runs each workload against
each target, the targets interleaved, several times; reports medians, the
min-max spread and ratios to 'direct' measured in the same run, and writes
bench/results/latest.md and latest.json.

    /usr/bin/python3 bench/run.py [--quick] [--only W[,W]] [--targets T[,T]]
                                  [--reps N] [--duration S] [--idle-n N]
                                  [--startup-runs N] [--no-selftest]

The TLS targets (wstunnel-tls, nginx-tls, haproxy-tls, apache2-tls) take
the client side's TLS with a certificate from a CA the runner makes with the
openssl command; wsload verifies it (bench/README.md, "TLS").
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(BENCH, "build")
RESULTS = os.path.join(BENCH, "results")
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror"]

WORKLOADS = ["startup", "idle", "pingpong", "echo", "download", "upload",
             "upgrades"]
TARGETS = ["direct", "wstunnel", "wstunnel-nosplice", "socat", "nginx",
           "haproxy", "apache2", "wstunnel-tls", "nginx-tls", "haproxy-tls",
           "apache2-tls"]
SSA_TARGETS = ("wstunnel", "wstunnel-nosplice", "socat", "wstunnel-tls")
DAEMONS = ("nginx", "haproxy", "apache2", "nginx-tls", "haproxy-tls",
           "apache2-tls")
TLS_TARGETS = ("wstunnel-tls", "nginx-tls", "haproxy-tls", "apache2-tls")
# the workloads the TLS targets run (not idle, not startup)
TLS_WORKLOADS = ("upgrades", "echo", "download", "upload", "pingpong")
# workload: (what the number is, True when higher is better)
METRIC = {
    "upgrades": ("upgrades/s", True),
    "echo": ("MB/s", True),
    "download": ("MB/s", True),
    "upload": ("MB/s", True),
    "pingpong": ("p50 RTT us", False),
}
# per-workload medians shown beside the main number
EXTRA_COLS = {
    "pingpong": [("p90_us", "p90 us"), ("p99_us", "p99 us")],
    "upgrades": [("lat_p50_us", "one upgrade p50 us"),
                 ("lat_p99_us", "one upgrade p99 us")],
}
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- processes -------------------------------------------------------------

class Procs:
    """Every long-lived process the runner starts, each in its own session
    (process group), so that it and its children can be ended by that id."""

    def __init__(self):
        self.started = []

    def spawn(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.started.append(p)
        return p

    def stop(self, p, grace=5.0):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # the group may outlive its leader (children of a super-server)
        deadline = time.monotonic() + grace
        while group_members(p.pid) and time.monotonic() < deadline:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def stop_all(self):
        for p in reversed(self.started):
            self.stop(p)
        left = [pid for p in self.started for pid in group_members(p.pid)]
        self.started = []
        return left


PROCS = Procs()


def read_stat(pid):
    """(ppid, pgid, utime+stime+cutime+cstime ticks) of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[1]), int(f[2]), int(f[11]) + int(f[12]) + int(f[13]) + \
        int(f[14])


def proc_table():
    t = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st is not None:
                t[int(d)] = st
    return t


def group_members(pgid):
    return [pid for pid, st in proc_table().items() if st[1] == pgid]


def children(pid, table=None):
    table = table or proc_table()
    return [c for c, st in table.items() if st[0] == pid]


def tree(pid, table=None):
    table = table or proc_table()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in table:
            out.append(p)
            todo.extend(c for c, st in table.items() if st[0] == p)
    return out


def tree_ticks(pid, table=None):
    """CPU ticks of pid and its descendants, reaped ones included (their
    time is in their reaper's cutime/cstime)."""
    table = table or proc_table()
    return sum(table[p][2] for p in tree(pid, table))


def machine_ticks():
    """(user + nice + system, irq + softirq) ticks of the whole machine.
    Loopback TCP is processed mostly in softirq context, which the kernel
    accounts to no process."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2], v[5] + v[6]


def pss(pids):
    """Summed Pss, Rss and Private_Dirty (KiB) over pids, and how many."""
    tot = {"Pss": 0, "Rss": 0, "Private_Dirty": 0}
    n = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                text = f.read()
        except OSError:
            continue
        n += 1
        for k in tot:
            m = re.search(r"^%s:\s+(\d+) kB" % k, text, re.M)
            if m:
                tot[k] += int(m.group(1))
    tot["procs"] = n
    return tot


def kernel_mem():
    """The kernel's memory that connections and processes use, in KiB."""
    mi = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            mi[k] = int(v.split()[0])
    out = {k: mi.get(k, 0) for k in ("Slab", "SReclaimable", "SUnreclaim",
                                      "KernelStack", "PageTables",
                                      "MemAvailable")}
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                p = line.split()[1:]
                d = dict(zip(p[::2], (int(x) for x in p[1::2])))
                out["tcp_inuse"] = d.get("inuse", 0)
                out["tcp_tw"] = d.get("tw", 0)
                out["tcp_mem_kib"] = d.get("mem", 0) * PAGE_KIB
            elif line.startswith("sockets:"):
                out["sockets_used"] = int(line.split()[2])
    out["kernel_kib"] = out["Slab"] + out["KernelStack"] + \
        out["PageTables"] + out["tcp_mem_kib"]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def run(cmd, timeout, **kw):
    """subprocess.run with a bound: (returncode, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, **kw)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode() if isinstance(
            e.stdout, bytes) else (e.stdout or ""), "timed out"


def first_line(cmd):
    rc, out, err = run(cmd, 10)
    text = (out or "") + (err or "")
    return text.strip().splitlines()[0] if text.strip() else "?"


def which(name):
    return shutil.which(name) or next(
        (os.path.join(d, name) for d in ("/usr/sbin", "/sbin")
         if os.access(os.path.join(d, name), os.X_OK)), None)


# ---- build -----------------------------------------------------------------

def openssl_flags():
    """(cflags, libs) for OpenSSL from pkg-config, or the plain names."""
    rc, out, _ = run(["pkg-config", "--cflags", "openssl"], 10)
    cflags = out.split() if rc == 0 else []
    rc, out, _ = run(["pkg-config", "--libs", "openssl"], 10)
    libs = out.split() if rc == 0 and out.strip() else ["-lssl",
                                                         "-lcrypto"]
    return cflags, libs


def build():
    os.makedirs(BUILD, exist_ok=True)
    sslc, ssll = openssl_flags()
    for prog, cf, libs in (
            ("wsecho", [], ["-lmd", "-lresolv"]),
            ("wsload", sslc, ["-lmd", "-lresolv", "-lpthread"] + ssll),
            ("trivial", [], [])):
        cmd = [CC] + CFLAGS + cf + ["-o", os.path.join(BUILD, prog),
                                    os.path.join(BENCH, prog + ".c")] + \
            libs
        rc, out, err = run(cmd, 120)
        if rc != 0:
            sys.exit("build failed: %s\n%s%s" % (" ".join(cmd), out, err))
    if not os.access(os.path.join(ROOT, "wstunnel"), os.X_OK):
        rc, out, err = run(["make", "-C", ROOT, "all"], 600)
        if rc != 0:
            sys.exit("make all failed:\n%s%s" % (out, err))


def snapshot_wstunnel(tmp):
    """A copy of wstunnel and its TLS module, so that a rebuild in the tree
    during the run cannot change the binary under test."""
    d = os.path.join(tmp, "wstunnel-bin")
    os.makedirs(d)
    for f in ("wstunnel", "wstunnel-tls.so"):
        src = os.path.join(ROOT, f)
        if os.path.exists(src):
            shutil.copy2(src, d)
    path = os.path.join(d, "wstunnel")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return path, digest


# ---- TLS -------------------------------------------------------------------

def make_certs(tmp):
    """A CA and a certificate for localhost (and 127.0.0.1) it signs, made
    with the openssl command: ECDSA P-256 keys, as most sites now have.
    A dict of paths, or None with the reason logged."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d)
    os.chmod(d, 0o755)
    p = {k: os.path.join(d, k) for k in (
        "ca.pem", "ca.key", "server.pem", "server.key", "server.csr",
        "ext.cnf", "server-full.pem", "other-ca.pem", "other-ca.key")}
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    steps = [
        ["openssl", "req", "-x509"] + key + [
            "-keyout", p["ca.key"], "-out", p["ca.pem"], "-days", "7",
            "-subj", "/CN=wstunnel benchmark CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req"] + key + [
            "-keyout", p["server.key"], "-out", p["server.csr"],
            "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", p["server.csr"], "-CA",
         p["ca.pem"], "-CAkey", p["ca.key"], "-CAcreateserial", "-days",
         "7", "-out", p["server.pem"], "-extfile", p["ext.cnf"]],
        ["openssl", "verify", "-CAfile", p["ca.pem"], p["server.pem"]],
        # a CA that signed nothing here: the client must not accept the
        # server's certificate with it
        ["openssl", "req", "-x509"] + key + [
            "-keyout", p["other-ca.key"], "-out", p["other-ca.pem"],
            "-days", "7", "-subj", "/CN=wstunnel benchmark CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    for cmd in steps:
        rc, out, err = run(cmd, 60)
        if rc != 0:
            log("certificates: %s failed: %s" % (" ".join(cmd[:2]),
                                                 (out + err).strip()))
            return None
    with open(p["server-full.pem"], "w") as f:
        for k in ("server.pem", "server.key"):
            with open(p[k]) as g:
                f.write(g.read())
    # the daemons read them as root; wstunnel as whoever runs the runner
    for k in ("server.key", "server-full.pem"):
        os.chmod(p[k], 0o600)
    return {"ca": p["ca.pem"], "other_ca": p["other-ca.pem"],
            "cert": p["server.pem"],
            "key": p["server.key"], "full": p["server-full.pem"],
            "kind": "ECDSA P-256, signed by a CA made for the run",
            "openssl": first_line(["openssl", "version"])}


def ktls_probe():
    """Whether the kernel offers TLS (the "tls" upper-layer protocol):
    setsockopt(TCP_ULP, "tls") on a connected loopback socket, and what
    the kernel and OpenSSL say about it."""
    out = {}
    lsn = socket.socket()
    try:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        c = socket.create_connection(lsn.getsockname(), timeout=5)
        a, _ = lsn.accept()
        try:
            c.setsockopt(socket.IPPROTO_TCP, 31, b"tls")   # TCP_ULP
            out["tcp_ulp_tls"] = "ok"
        except OSError as e:
            out["tcp_ulp_tls"] = "%s (%s)" % (
                errno_name(e.errno), os.strerror(e.errno))
        finally:
            c.close()
            a.close()
    finally:
        lsn.close()
    out["available"] = out["tcp_ulp_tls"] == "ok"
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            out["tcp_available_ulp"] = f.read().strip()
    except OSError:
        out["tcp_available_ulp"] = "?"
    try:
        import gzip
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if re.match(r"(# )?CONFIG_TLS[ =]", line):
                    out["kernel_config"] = line.strip()
    except OSError:
        pass
    # s_server has -sendfile only when OpenSSL was built with KTLS
    rc, o, e = run(["openssl", "s_server", "-help"], 10)
    text = (o or "") + (e or "")
    out["openssl_ktls"] = "-ktls" in text or "-sendfile" in text
    try:
        with open(os.path.join(ROOT, "tls.c")) as f:
            out["wstunnel_source_enables_ktls"] = \
                "SSL_OP_ENABLE_KTLS" in f.read()
    except OSError:
        pass
    return out


def errno_name(n):
    import errno as errno_mod
    return errno_mod.errorcode.get(n, str(n))


# ---- targets ---------------------------------------------------------------

class Skip(Exception):
    pass


class Target:
    def __init__(self, name, port, proc=None, command="", note=""):
        self.name, self.port, self.proc = name, port, proc
        self.command, self.note = command, note
        self.version = ""
        self.restart = None     # a fresh instance (daemons)
        self.tls = name in TLS_TARGETS
        self.tls_params = ""    # what the smoke test negotiated

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def cpu_ticks(self, table):
        return tree_ticks(self.pid, table) if self.proc else 0

    def per_conn_pids(self, table=None):
        """The per-connection processes (children of the super-server)."""
        if self.name in SSA_TARGETS:
            return children(self.pid, table)
        return []

    def mem_pids(self, table=None):
        if self.name in SSA_TARGETS:
            return children(self.pid, table)
        if self.name in DAEMONS:
            return tree(self.pid, table)
        return []


def start_ssa(name, tmp, cmd):
    port = free_port()
    errlog = open(os.path.join(tmp, name + ".ssa.log"), "w")
    full = ["systemd-socket-activate", "--inetd", "-a", "-l",
            "127.0.0.1:%d" % port] + cmd
    p = PROCS.spawn(full, stdout=errlog, stderr=errlog)
    if not wait_port(port, 10, p):
        raise Skip("systemd-socket-activate did not listen")
    return Target(name, port, p, " ".join(full))


def start_nginx(tmp, echo, tls=None):
    """nginx; with tls (make_certs()) it terminates TLS, with nginx's
    defaults for everything else TLS but the protocols (TLS 1.2 and 1.3,
    the default since nginx 1.23.4)."""
    name = "nginx-tls" if tls else "nginx"
    exe = which("nginx")
    if exe is None:
        raise Skip("nginx not installed")
    d = tempfile.mkdtemp(prefix=name + ".", dir=tmp)
    os.chmod(d, 0o755)
    port = free_port()
    conf = """
worker_processes auto;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port}{ssl};{certs}
        location / {{
            proxy_pass http://127.0.0.1:{echo};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
""".format(d=d, port=port, echo=echo, ssl=" ssl" if tls else "",
           certs="\n        ssl_certificate %s;\n        ssl_certificate_key %s;"
           # nginx before 1.23.4 leaves TLS 1.3 out by default; the
           # others negotiate it, so nginx gets today's default
           "\n        ssl_protocols TLSv1.2 TLSv1.3;"
           % (tls["cert"], tls["key"]) if tls else "")
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    out = open(os.path.join(d, "stderr.log"), "w")
    cmd = [exe, "-e", os.path.join(d, "error.log"), "-p", d, "-c", path,
           "-g", "daemon off;"]
    p = PROCS.spawn(cmd, stdout=out, stderr=out)
    if not wait_port(port, 10, p):
        raise Skip("nginx did not start: %s" % tail(os.path.join(
            d, "stderr.log")))
    t = Target(name, port, p, " ".join(cmd))
    t.version = first_line([exe, "-v"])
    return t


def start_haproxy(tmp, echo, tls=None):
    name = "haproxy-tls" if tls else "haproxy"
    exe = which("haproxy")
    if exe is None:
        raise Skip("haproxy not installed")
    d = tempfile.mkdtemp(prefix=name + ".", dir=tmp)
    port = free_port()
    conf = """
global
    maxconn 8000
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend fe
    bind 127.0.0.1:{port}{ssl}
    default_backend be
backend be
    server echo 127.0.0.1:{echo}
""".format(port=port, echo=echo,
           ssl=(" ssl crt %s alpn http/1.1" % tls["full"]) if tls else "")
    path = os.path.join(d, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(conf)
    out = open(os.path.join(d, "stderr.log"), "w")
    cmd = [exe, "-db", "-f", path]
    p = PROCS.spawn(cmd, stdout=out, stderr=out)
    if not wait_port(port, 10, p):
        raise Skip("haproxy did not start: %s" % tail(os.path.join(
            d, "stderr.log")))
    t = Target(name, port, p, " ".join(cmd))
    t.version = first_line([exe, "-v"])
    return t


def start_apache(tmp, echo, tls=None):
    name = "apache2-tls" if tls else "apache2"
    exe = which("apache2")
    mods = "/usr/lib/apache2/modules"
    if exe is None or not os.path.exists(
            os.path.join(mods, "mod_proxy_wstunnel.so")):
        raise Skip("apache2 (mod_proxy_wstunnel) not installed")
    if tls and not os.path.exists(os.path.join(mods, "mod_ssl.so")):
        raise Skip("apache2 mod_ssl not installed")
    d = tempfile.mkdtemp(prefix=name + ".", dir=tmp)
    os.chmod(d, 0o755)
    port = free_port()
    user = "www-data"
    conf = """
ServerRoot "{d}"
DefaultRuntimeDir "{d}"
PidFile "{d}/apache2.pid"
Mutex file:{d} default
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User {user}
Group {user}
ErrorLog "{d}/error.log"
LogLevel warn
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_wstunnel_module {mods}/mod_proxy_wstunnel.so
StartServers 2
ServerLimit 40
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 2560
MinSpareThreads 64
MaxSpareThreads 2560
Timeout 600
ProxyWebsocketFallbackToProxyHttp Off
ProxyPass "/" "ws://127.0.0.1:{echo}/"
""".format(d=d, port=port, echo=echo, user=user, mods=mods)
    if tls:
        conf += """
LoadModule ssl_module {mods}/mod_ssl.so
SSLEngine on
SSLCertificateFile "{cert}"
SSLCertificateKeyFile "{key}"
""".format(mods=mods, cert=tls["cert"], key=tls["key"])
    path = os.path.join(d, "apache2.conf")
    with open(path, "w") as f:
        f.write(conf)
    out = open(os.path.join(d, "stderr.log"), "w")
    cmd = [exe, "-d", d, "-f", path, "-DFOREGROUND"]
    p = PROCS.spawn(cmd, stdout=out, stderr=out)
    if not wait_port(port, 15, p):
        raise Skip("apache2 did not start: %s %s" % (
            tail(os.path.join(d, "stderr.log")),
            tail(os.path.join(d, "error.log"))))
    t = Target(name, port, p, " ".join(cmd))
    t.version = first_line([exe, "-v"])
    return t


def tail(path, n=300):
    try:
        with open(path) as f:
            return f.read()[-n:].strip().replace("\n", " | ")
    except OSError:
        return ""


def tls_args(t, certs):
    """wsload's TLS arguments for target t."""
    return ["--ca", certs["ca"], "--sni", "localhost"] if t.tls else []


def start_targets(names, tmp, echo, wst, notes, certs, tls_checks):
    out = {}
    for name in names:
        wlog = os.path.join(tmp, name + ".log")
        try:
            if name in TLS_TARGETS and certs is None:
                raise Skip("no certificates (the openssl command failed)")
            if name == "direct":
                t = Target("direct", echo, None, "wsecho itself")
            elif name == "wstunnel":
                t = start_ssa(name, tmp, [wst, "--log", wlog,
                                          "ws://127.0.0.1:%d" % echo])
            elif name == "wstunnel-nosplice":
                rc, o, e = run([wst, "--no-splice", "--check", "--log",
                                os.devnull, "ws://127.0.0.1:%d" % echo], 10)
                if rc == 64:
                    raise Skip("wstunnel has no --no-splice (exit 64)")
                if rc != 0:
                    raise Skip("wstunnel --no-splice --check: exit %s %s"
                               % (rc, (o + e).strip()))
                t = start_ssa(name, tmp, [wst, "--log", wlog, "--no-splice",
                                          "ws://127.0.0.1:%d" % echo])
            elif name == "wstunnel-tls":
                cmd = [wst, "--log", wlog, "--tls-cert", certs["cert"],
                       "--tls-key", certs["key"],
                       "ws://127.0.0.1:%d" % echo]
                rc, o, e = run(cmd[:1] + ["--check"] + cmd[1:], 10)
                if rc != 0:
                    raise Skip("wstunnel --tls-cert ... --check: exit %s %s"
                               % (rc, (o + e).strip()))
                t = start_ssa(name, tmp, cmd)
            elif name == "socat":
                exe = which("socat")
                if exe is None:
                    raise Skip("socat not installed")
                t = start_ssa(name, tmp, [exe, "STDIO",
                                          "TCP:127.0.0.1:%d" % echo])
                t.version = next((ln for ln in run([exe, "-V"], 10)[1]
                                  .splitlines()
                                  if ln.startswith("socat version")), "")
            elif name in DAEMONS:
                base = name[:-4] if name.endswith("-tls") else name
                starter = {"nginx": start_nginx, "haproxy": start_haproxy,
                           "apache2": start_apache}[base]
                tc = certs if name in TLS_TARGETS else None
                t = starter(tmp, echo, tc)
                t.restart = (lambda f=starter, tc=tc: f(tmp, echo, tc))
            else:
                raise Skip("unknown target")
        except Skip as e:
            notes.append("%s: skipped: %s" % (name, e))
            log("  %-18s skipped: %s" % (name, e))
            continue
        if name.startswith("wstunnel"):
            t.version = first_line([wst, "--version"])
        # smoke test: one short verified run
        rc, o, e = run([WSLOAD, "pingpong", "-p", str(t.port), "-d", "0.2",
                        "--tag", name] + tls_args(t, certs), 30)
        res = parse_json(o)
        if res is not None and t.tls:
            t.tls_params = res.get("tls", "")
        if rc == 0 and res is not None and res.get("ok") and t.tls:
            # the client must refuse a certificate that is not for the
            # name it asked for, and one from a CA it does not trust
            for what, extra in (
                    ("wrong name", ["--ca", certs["ca"], "--sni",
                                    "wrong.invalid"]),
                    ("CA that did not sign it (same name)",
                     ["--ca", certs["other_ca"], "--sni", "localhost"])):
                rc2, o2, _ = run([WSLOAD, "pingpong", "-p", str(t.port),
                                  "-d", "0.2", "--tag", name] + extra, 30)
                r2 = parse_json(o2) or {}
                good = rc2 == 1 and r2.get("verify_failed") is True and \
                    "certificate verification failed" in r2.get("error", "")
                tls_checks.append({"target": name, "case": what,
                                   "pass": good,
                                   "reported": r2.get("error", "")})
                if not good:
                    notes.append("%s: TLS CHECK FAILED: with a %s the "
                                 "client did not refuse the certificate "
                                 "(exit %s, %s)" % (name, what, rc2,
                                                    r2.get("error")))
        if rc != 0 or res is None or not res.get("ok"):
            notes.append("%s: skipped: smoke test failed: %s" % (
                name, (res or {}).get("error") or (e or "").strip()))
            log("  %-18s FAILED smoke test: %s" % (
                name, (res or {}).get("error") or e))
            if t.proc:
                PROCS.stop(t.proc)
            continue
        log("  %-18s port %d  %s%s" % (name, t.port, t.version,
                                       ("  [%s]" % t.tls_params)
                                       if t.tls else ""))
        out[name] = t
    return out


# ---- runs ------------------------------------------------------------------

WSLOAD = os.path.join(BUILD, "wsload")
WSECHO = os.path.join(BUILD, "wsecho")
TRIVIAL = os.path.join(BUILD, "trivial")


def parse_json(text, event=None):
    res = None
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("event") == event:
                res = j
    return res


def wait_children_gone(t, timeout=15.0):
    """For a super-server target: the per-connection processes still alive
    after timeout (they should all have exited)."""
    if t.name not in SSA_TARGETS:
        return []
    deadline = time.monotonic() + timeout
    while True:
        kids = t.per_conn_pids()
        if not kids or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    out = []
    for pid in kids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append({"pid": pid, "cmdline": cmd.strip()})
    return out


def cpu_snapshot(t, echo_pid):
    table = proc_table()
    return (time.monotonic(), machine_ticks(), tree_ticks(echo_pid, table),
            t.cpu_ticks(table))


def cpu_delta(a, b, client_cpu):
    wall = b[0] - a[0]
    if wall <= 0:
        return {}
    server = (b[2] - a[2]) / TICK / wall * 100
    proxy = (b[3] - a[3]) / TICK / wall * 100
    tasks = (b[1][0] - a[1][0]) / TICK / wall * 100
    softirq = (b[1][1] - a[1][1]) / TICK / wall * 100
    client = (client_cpu or 0) / wall * 100
    return {"client_pct": round(client, 1), "server_pct": round(server, 1),
            "proxy_pct": round(proxy, 1), "softirq_pct": round(softirq, 1),
            "machine_busy_pct": round(tasks + softirq, 1),
            "others_pct": round(max(0.0, tasks - client - server - proxy),
                                1)}


def run_load(cfg, wl, t, rep, echo_pid, certs):
    extra = {"upgrades": ["-c", str(cfg.conc)]}.get(wl, [])
    cmd = [WSLOAD, wl, "-p", str(t.port), "-d", str(cfg.duration),
           "--seed", str(rep + 1), "--tag", t.name] + extra + \
        tls_args(t, certs)
    a = cpu_snapshot(t, echo_pid)
    rc, out, err = run(cmd, cfg.duration + 90)
    b = cpu_snapshot(t, echo_pid)
    res = parse_json(out) or {"ok": False, "error": "no result (exit %s): %s"
                              % (rc, (err or "").strip()[-300:])}
    res["cpu"] = cpu_delta(a, b, res.get("client_cpu_s"))
    res["leftovers"] = wait_children_gone(t)
    return res


def run_idle(cfg, t, rep, echo_pid, certs=None):
    time.sleep(0.5)
    table = proc_table()
    base_k = kernel_mem()
    base_p = pss(t.mem_pids(table)) if t.name in DAEMONS else None
    cmd = [WSLOAD, "idle", "-n", str(cfg.idle_n), "-p", str(t.port),
           "--hold-max", "300", "--seed", str(rep + 1), "--tag", t.name] + \
        tls_args(t, certs)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    res = {"ok": False}
    try:
        r, _, _ = select.select([p.stdout], [], [], 300)
        line = p.stdout.readline() if r else ""
        opened = parse_json(line, "open")
        if opened is None:
            raise RuntimeError("no 'open' line within 300 s")
        time.sleep(1.0)         # let every process reach its idle state
        k = kernel_mem()        # before /proc reads add their own slab
        table = proc_table()
        m = pss(t.mem_pids(table))
        nper = len(t.per_conn_pids(table))
        p.stdin.close()
        p.stdin = None          # communicate() must not flush it
        out, err = p.communicate(timeout=300)
        res = parse_json(out) or {"ok": False,
                                  "error": "no result: " + err[-300:]}
        n = max(1, opened.get("opened", 0))
        dk = {key: k[key] - base_k[key] for key in k}
        res["kernel_before"] = base_k
        res["kernel_after"] = k
        res["kernel_delta"] = dk
        res["kernel_kib_per_tunnel"] = round(dk["kernel_kib"] / n, 2)
        res["slab_kib_per_tunnel"] = round(dk["Slab"] / n, 2)
        if t.name in DAEMONS:
            res["pss_kib_per_tunnel"] = round((m["Pss"] - base_p["Pss"]) / n,
                                              2)
            res["pss_daemon_idle_kib"] = base_p["Pss"]
            res["pss_daemon_loaded_kib"] = m["Pss"]
            res["daemon_procs"] = m["procs"]
        elif t.name in SSA_TARGETS:
            res["pss_kib_per_tunnel"] = round(m["Pss"] / n, 2)
            res["rss_kib_per_proc"] = round(m["Rss"] / max(1, m["procs"]), 1)
            res["private_dirty_kib_per_proc"] = round(
                m["Private_Dirty"] / max(1, m["procs"]), 1)
            res["per_conn_procs"] = nper
        else:
            res["pss_kib_per_tunnel"] = 0.0
        res["pss_raw"] = m
    except (RuntimeError, subprocess.TimeoutExpired, OSError,
            ValueError) as e:
        res = {"ok": False, "error": "idle: %s" % e}
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    res["leftovers"] = wait_children_gone(t, 30)
    return res


def measure_floor(n=200):
    """PSS of a minimal dynamically linked C process (bench/trivial blocked
    in its read of a pipe): what any per-connection process costs at least.
    KiB per process."""
    ps = []
    try:
        for _ in range(n):
            ps.append(subprocess.Popen([TRIVIAL], stdin=subprocess.PIPE))
        time.sleep(0.5)
        m = pss([p.pid for p in ps])
    finally:
        for p in ps:
            p.stdin.close()
        for p in ps:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return {"pss_kib_per_proc": round(m["Pss"] / max(1, m["procs"]), 1),
            "rss_kib_per_proc": round(m["Rss"] / max(1, m["procs"]), 1),
            "private_dirty_kib_per_proc": round(
                m["Private_Dirty"] / max(1, m["procs"]), 1),
            "procs": m["procs"]}


def wstunnel_log_summary(path):
    """What the access lines of a wstunnel log say: counts of status= and
    end=, and every line that is not an access line."""
    out = {"access_lines": 0, "status": {}, "end": {}, "other_lines": 0,
           "other_examples": []}
    try:
        f = open(path, errors="replace")
    except OSError:
        return None
    with f:
        for line in f:
            m = re.search(r" status=(\S+) .* end=(\S+)", line)
            if m and "client=" in line:
                out["access_lines"] += 1
                out["status"][m.group(1)] = out["status"].get(
                    m.group(1), 0) + 1
                out["end"][m.group(2)] = out["end"].get(m.group(2), 0) + 1
            else:
                out["other_lines"] += 1
                if len(out["other_examples"]) < 10:
                    out["other_examples"].append(line.strip()[:300])
    return out


STARTUP_MODES = ("read", "exit")


def run_startup(cfg, rep, progs):
    """One repetition: every program in both modes, in an order rotated
    from one repetition to the next.  {mode: {program: wsload's result}}"""
    out = {m: {} for m in STARTUP_MODES}
    order = [(m, name) for m in STARTUP_MODES for name in progs]
    k = rep % len(order)
    for mode, name in order[k:] + order[:k]:
        rc, o, e = run([WSLOAD, "startup", "-n", str(cfg.startup_runs),
                        "--until", mode, "--"] + progs[name], 600)
        out[mode][name] = parse_json(o) or {"ok": False,
                                            "error": (e or "")[-300:]}
    return out


# One connection, phase by phase: where wsload phases stops wstunnel (each
# run at one point, killed there), in the order wstunnel reaches them, and
# what happens between the previous point and this one.  wstunnel's log is
# fd 3, so its backend socket is fd 4.
PHASES = [
    ("read:0", "read of fd 0 (the client)", "exec, dynamic loading, wstunnel's own start (options, log "
     "file, socket options on fd 0), up to its first read of fd 0"),
    ("socket", "socket()", "the request read, parsed, checked and routed; the backend "
     "socket made"),
    ("connect", "connect()", "(from socket() to connect())"),
    ("write:4", "write to fd 4 (the backend)", "the TCP connect to the backend (non-blocking, poll), its "
     "socket options; the rewritten request written"),
    ("write:1", "write to fd 1 (the client)", "the backend reads the request and answers 101; wstunnel "
     "reads and checks it and writes it to the client"),
    ("splice:0", "splice from fd 0", "the relay set up (signals, pipes); the client reads the "
     "101 and sends a frame; wstunnel moves its first byte"),
]


def run_phases(cfg, rep, wst, backend, slog):
    """One repetition of wsload phases: wstunnel at every point of PHASES,
    trivial at its read of fd 0 (the same connection set-up)."""
    cmds = {"trivial": ([TRIVIAL], ["read:0"]),
            "wstunnel": ([wst, "--log", slog, "ws://127.0.0.1:%d" % backend],
                         [p for p, _, _ in PHASES])}
    order = list(cmds)
    k = rep % len(order)
    out = {}
    for name in order[k:] + order[:k]:
        cmd, stops = cmds[name]
        args = [WSLOAD, "phases", "-n", str(cfg.startup_runs)]
        for st in stops:
            args += ["--stop", st]
        rc, o, e = run(args + ["--"] + cmd, 900)
        out[name] = parse_json(o) or {"ok": False,
                                      "error": (e or "")[-300:]}
    return out


def summarize_phases(reps):
    """{program: {stop: {p50, p10: medians over the repetitions, ok}}}"""
    out = {}
    for rep in reps:
        for name, r in rep.items():
            d = out.setdefault(name, {})
            for st in r.get("stops", []) if r.get("ok") else []:
                e = d.setdefault(st["stop"], {"p50": [], "p10": []})
                e["p50"].append(st["p50_us"])
                e["p10"].append(st["p10_us"])
            if not r.get("ok"):
                d.setdefault("_errors", []).append(r.get("error", "?"))
    for name, d in out.items():
        for st, e in d.items():
            if st != "_errors":
                e["reps"] = len(e["p50"])
                e["p50"], e["p10"] = med(e["p50"]), med(e["p10"])
    return out


# ---- the self-test ---------------------------------------------------------

SELFTEST = [
    # workload, damage, direction, offset, extra wsload arguments
    ("upgrades", "flip", "down", 5, ["-c", "2"]),
    ("upgrades", "accept", "down", 0, ["-c", "2"]),
    ("pingpong", "flip", "down", 100, []),
    ("echo", "drop", "down", 1000000, []),
    ("echo", "flip", "up", 7, ["-s", "1000"]),
    ("download", "dup", "down", 3000000, []),
    ("download", "flip", "down", 9, ["-s", "100"]),
    ("upload", "flip", "up", 2000000, []),
    ("idle", "flip", "down", 5, ["-n", "10", "-c", "2"]),
]


def selftest(tmp):
    """Every workload through a relay that damages one byte must fail, and
    through the same relay undamaged must pass.  It has a wsecho of its own,
    so that the benchmark's wsecho counts only the benchmark."""
    elog = open(os.path.join(tmp, "wsecho-selftest.log"), "w")
    ep = PROCS.spawn([WSECHO], stdout=subprocess.PIPE, stderr=elog,
                     text=True)
    r, _, _ = select.select([ep.stdout], [], [], 10)
    m = re.match(r"port=(\d+)", ep.stdout.readline() if r else "")
    if not m:
        return False, [{"error": "wsecho did not start"}]
    echo = int(m.group(1))
    try:
        return selftest_cases(echo)
    finally:
        PROCS.stop(ep)
        PROCS.started.remove(ep)


def selftest_cases(echo):
    cases = [(w, "none", "down", 0, []) for w in
             ("upgrades", "pingpong", "echo", "download", "upload",
              "idle")] + SELFTEST
    results, good = [], True
    for wl, how, d, off, extra in cases:
        p = PROCS.spawn(["/usr/bin/python3", os.path.join(BENCH, "corrupt.py"),
                         "--to", str(echo), "--how", how, "--dir", d,
                         "--offset", str(off)], stdout=subprocess.PIPE,
                        text=True)
        r, _, _ = select.select([p.stdout], [], [], 10)
        m = re.match(r"port=(\d+)", p.stdout.readline() if r else "")
        if not m:
            PROCS.stop(p)
            results.append({"workload": wl, "how": how, "pass": False,
                            "error": "relay did not start"})
            good = False
            continue
        if wl == "idle":
            extra = extra or ["-n", "20"]
        rc, o, e = run([WSLOAD, wl, "-p", m.group(1), "-d", "0.5",
                        "--timeout", "5"] + extra, 60,
                       stdin=subprocess.DEVNULL)
        PROCS.stop(p, 2)
        PROCS.started.remove(p)
        res = parse_json(o) or {}
        if how == "none":
            ok = rc == 0 and res.get("ok") is True
        else:
            ok = rc == 1 and res.get("ok") is False and \
                res.get("verify_failed") is True
        good = good and ok
        results.append({"workload": wl, "damage": how, "dir": d,
                        "offset": off, "wsload_exit": rc,
                        "reported": res.get("error", ""), "pass": ok})
        log("  %-9s %-6s %-4s %8d  %s  %s" % (
            wl, how, d, off, "ok  " if ok else "FAIL",
            res.get("error", "") or "(verified, passed)"))
    return good, results


# ---- reports ---------------------------------------------------------------

def med(v):
    return statistics.median(v) if v else None


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is None:
        digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    return "%.*f" % (digits, v)


def summarize(runs, targets):
    s = {}
    for wl in METRIC:
        for t in targets:
            rs = [r for r in runs if r["workload"] == wl and
                  r["target"] == t]
            if not rs:
                continue
            vals = [r["value"] for r in rs if r.get("ok") and
                    r.get("value") is not None]
            cpu = {}
            for k in ("client_pct", "server_pct", "proxy_pct",
                      "softirq_pct", "machine_busy_pct", "others_pct"):
                cv = [r["cpu"][k] for r in rs if r.get("ok") and
                      k in r.get("cpu", {})]
                cpu[k] = med(cv)
            e = {"median": med(vals), "min": min(vals) if vals else None,
                 "max": max(vals) if vals else None, "runs": len(rs),
                 "ok": len(vals), "failed": len(rs) - len(vals),
                 "errors": sorted({r.get("error", "") for r in rs
                                   if not r.get("ok")}),
                 "verify_failed": sum(1 for r in rs if r.get(
                     "verify_failed")),
                 "leftovers": sum(len(r.get("leftovers", [])) for r in rs),
                 "cpu": cpu}
            for k, _ in EXTRA_COLS.get(wl, []):
                e[k] = med([r[k] for r in rs if r.get("ok") and k in r])
            s.setdefault(wl, {})[t] = e
        d = s.get(wl, {}).get("direct", {}).get("median")
        for t, e in s.get(wl, {}).items():
            e["ratio"] = (e["median"] / d) if d and e["median"] else None
    return s


def summarize_idle(runs, targets):
    s = {}
    for t in targets:
        rs = [r for r in runs if r["workload"] == "idle" and
              r["target"] == t]
        if not rs:
            continue
        okr = [r for r in rs if r.get("ok")]
        e = {"runs": len(rs), "ok": len(okr),
             "errors": sorted({r.get("error", "") for r in rs
                               if not r.get("ok")}),
             "leftovers": sum(len(r.get("leftovers", [])) for r in rs)}
        for k in ("pss_kib_per_tunnel", "kernel_kib_per_tunnel",
                  "slab_kib_per_tunnel", "open_secs", "per_conn_procs",
                  "rss_kib_per_proc", "private_dirty_kib_per_proc",
                  "daemon_procs", "pss_daemon_idle_kib"):
            v = [r[k] for r in okr if r.get(k) is not None]
            if v:
                e[k] = med(v)
                e[k + "_min"] = min(v)
                e[k + "_max"] = max(v)
        s[t] = e
    dk = s.get("direct", {}).get("kernel_kib_per_tunnel")
    for t, e in s.items():
        if dk is not None and e.get("kernel_kib_per_tunnel") is not None:
            e["kernel_kib_over_direct"] = e["kernel_kib_per_tunnel"] - dk
    return s


def summarize_startup(reps):
    """{mode: {program: summary}} from run_startup's repetitions."""
    return {m: summarize_startup_mode([r[m] for r in reps if m in r])
            for m in STARTUP_MODES}


def summarize_startup_mode(reps):
    s = {}
    for rep in reps:
        for name, r in rep.items():
            s.setdefault(name, []).append(r)
    out = {}
    for name, rs in s.items():
        v = [r["p50_us"] for r in rs if r.get("ok")]
        out[name] = {"median_p50_us": med(v),
                     "min": min(v) if v else None,
                     "max": max(v) if v else None,
                     "p90_us": med([r["p90_us"] for r in rs if r.get("ok")]),
                     "exit_status": sorted({r.get("exit_status")
                                            for r in rs}),
                     "runs": sum(r.get("runs", 0) for r in rs),
                     "errors": sorted({r.get("error", "") for r in rs
                                       if not r.get("ok")})}
    base = out.get("trivial", {}).get("median_p50_us")
    for name, e in out.items():
        e["ratio"] = e["median_p50_us"] / base if base and \
            e["median_p50_us"] else None
    return out


def pair_ratios(runs, wl, a, b):
    """a's value / b's value in each repetition where both passed."""
    val = {}
    for r in runs:
        if r["workload"] == wl and r["target"] in (a, b) and r.get("ok") \
                and r.get("value"):
            val[(r["target"], r["rep"])] = r["value"]
    reps = sorted({rep for (_, rep) in val})
    return [val[(a, k)] / val[(b, k)] for k in reps
            if (a, k) in val and (b, k) in val]


def summarize_tls(runs, summary, targets):
    """The ratios the TLS section gives: each TLS target to direct (in
    summary already), wstunnel-tls to nginx-tls and to plain wstunnel:
    the ratio of the medians, and the per-repetition ratios."""
    out = {}
    for a, b in (("wstunnel-tls", "nginx-tls"), ("wstunnel-tls",
                                                  "wstunnel"),
                 ("nginx-tls", "nginx")):
        if a not in targets or b not in targets:
            continue
        for w in TLS_WORKLOADS:
            ea, eb = summary.get(w, {}).get(a), summary.get(w, {}).get(b)
            if not ea or not eb or not ea["median"] or not eb["median"]:
                continue
            pr = pair_ratios(runs, w, a, b)
            higher = METRIC[w][1]
            r = ea["median"] / eb["median"]
            out.setdefault("%s/%s" % (a, b), {})[w] = {
                "ratio": r, "pair_min": min(pr) if pr else None,
                "pair_max": max(pr) if pr else None, "pairs": len(pr),
                "higher_is_better": higher,
                "at_least_as_good": r >= 1.0 if higher else r <= 1.0}
    return out


def render_tls(L, doc, targets, cols):
    tt = [t for t in targets if t in TLS_TARGETS]
    tls = doc.get("tls") or {}
    kt = tls.get("ktls")
    if not tt and not kt:
        return
    s = doc["summary"]
    L.append("## TLS on the client side")
    L.append("")
    if tls.get("certs"):
        L.append("The client (wsload) speaks TLS to the proxy and verifies "
                 "its certificate (%s; OpenSSL: %s) for the name localhost, "
                 "sent as SNI; ALPN http/1.1; no session resumption, so "
                 "every connection of `upgrades` is a full handshake. The "
                 "proxy talks plain ws:// to the same wsecho as every other "
                 "target. Ratios are to the plain `direct` of the same run." %
                 (tls["certs"]["kind"], tls["certs"]["openssl"]))
        L.append("")
    if tt:
        hdr = ["target"] + ["%s (%s)" % (w, METRIC[w][0]) for w in cols
                            if w in TLS_WORKLOADS]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for t in ["direct"] + tt:
            row = [t]
            for w in cols:
                if w not in TLS_WORKLOADS:
                    continue
                e = s[w].get(t)
                row.append("-" if e is None else "FAILED" if e["median"] is
                           None else "%s (%s)" % (fmt(e["ratio"], 2),
                                                  fmt(e["median"])))
            L.append("| " + " | ".join(row) + " |")
        L.append("")
        ts = doc.get("tls_summary", {})
        for pair, title, verdict in (
                ("wstunnel-tls/nginx-tls", "**wstunnel-tls / nginx-tls** "
                 "(the requirement: with TLS on a side, throughput (MB/s: "
                 "echo, download, upload) at least nginx's, i.e. >= 1.00; "
                 "upgrades/s and the RTT are given for information)", True),
                ("wstunnel-tls/wstunnel", "wstunnel-tls / wstunnel (what "
                 "TLS costs wstunnel)", False),
                ("nginx-tls/nginx", "nginx-tls / nginx (what TLS costs "
                 "nginx)", False)):
            e = ts.get(pair)
            if not e:
                continue
            L.append(title + ":")
            L.append("")
            L.append("| workload | ratio of the medians | per-repetition "
                     "ratios min-max (pairs) | better is |%s" % (
                         " wstunnel-tls at least as good |" if verdict
                         else ""))
            L.append("|---|---|---|---|" + ("---|" if verdict else ""))
            for w in TLS_WORKLOADS:
                x = e.get(w)
                if x is None:
                    continue
                L.append("| %s (%s) | %s | %s-%s (%d) | %s |%s" % (
                    w, METRIC[w][0], fmt(x["ratio"], 2),
                    fmt(x["pair_min"], 2), fmt(x["pair_max"], 2),
                    x["pairs"], "higher" if x["higher_is_better"]
                    else "lower", (" %s |" % ("yes" if x["at_least_as_good"]
                                              else "NO")) if verdict
                    else ""))
            L.append("")
        neg = ["%s: %s" % (t, doc["targets"][t].get("tls") or "?")
               for t in tt]
        L.append("Negotiated (smoke test): " + "; ".join(neg) + ".")
        L.append("")
    checks = tls.get("checks") or []
    if checks:
        bad = [c for c in checks if not c["pass"]]
        L.append("Certificate verification: %s (%d checks: for each TLS "
                 "target, a client asking for another name, and one "
                 "trusting only another CA, must both fail with "
                 "`certificate verification failed`)%s." % (
                     "every check passed" if not bad else "CHECKS FAILED",
                     len(checks), "" if not bad else ": " + "; ".join(
                         "%s %s: %s" % (c["target"], c["case"],
                                        c["reported"]) for c in bad)))
        L.append("")
    if kt:
        if kt.get("available"):
            L.append("Kernel TLS: available (setsockopt(TCP_ULP, \"tls\") "
                     "succeeded on a loopback socket; tcp_available_ulp: "
                     "%s). Whether a target uses it is up to the target "
                     "(wstunnel's tls.c sets SSL_OP_ENABLE_KTLS: %s)." % (
                         kt.get("tcp_available_ulp"),
                         "yes" if kt.get("wstunnel_source_enables_ktls")
                         else "no"))
        else:
            L.append("Kernel TLS: **not available on this machine**: "
                     "setsockopt(TCP_ULP, \"tls\") on a connected loopback "
                     "socket fails with %s; /proc/sys/net/ipv4/"
                     "tcp_available_ulp lists only `%s`%s. So "
                     "SSL_OP_ENABLE_KTLS could not be tried here: every TLS "
                     "target encrypts in user space. (OpenSSL built with "
                     "KTLS, as its s_server -sendfile shows: %s; wstunnel's "
                     "tls.c sets SSL_OP_ENABLE_KTLS: %s.)" % (
                         kt.get("tcp_ulp_tls"), kt.get("tcp_available_ulp"),
                         "; the kernel configuration says `%s`" %
                         kt["kernel_config"] if kt.get("kernel_config")
                         else "", "yes" if kt.get("openssl_ktls") else "no",
                         "yes" if kt.get("wstunnel_source_enables_ktls")
                         else "no"))
        L.append("")


def render_phases(L, ps, runs):
    L.append("## One connection, phase by phase (no tracer)")
    L.append("")
    L.append("wsload phases plays the super-server: it accepts a TCP "
             "connection whose client has already sent its upgrade request, "
             "spawns the program on it (fd 0 and 1) as posix_spawn would, "
             "and stops the program at the first system call of one kind "
             "(a seccomp filter installed just before execve, "
             "SECCOMP_RET_USER_NOTIF), then kills it; %d runs per point, "
             "the points interleaved; the client answers the 101 with one "
             "frame. A phase is the difference between the medians of two "
             "successive points (and of their 10th percentiles, the quiet "
             "case), so it carries no tracing cost; medians over the "
             "repetitions." % runs)
    L.append("")
    L.append("| program stopped at its first ... | spawn to there, us p50 "
             "(p10) | phase, us p50 (p10) | what happens in the phase |")
    L.append("|---|---|---|---|")
    tr = ps.get("trivial", {}).get("read:0")
    if tr and tr.get("p50") is not None:
        L.append("| trivial: read of fd 0 | %s (%s) | | exec and dynamic "
                 "loading of a minimal C program |" % (fmt(tr["p50"]),
                                                        fmt(tr["p10"])))
    w = ps.get("wstunnel", {})
    prev = None
    for st, label, what in PHASES:
        e = w.get(st)
        if not e or e.get("p50") is None:
            continue
        d = "%s (%s)" % (fmt(e["p50"] - prev["p50"]),
                         fmt(e["p10"] - prev["p10"])) if prev else \
            "%s (%s)" % (fmt(e["p50"]), fmt(e["p10"]))
        L.append("| wstunnel: %s | %s (%s) | %s | %s |" % (
            label, fmt(e["p50"]), fmt(e["p10"]), d, what))
        prev = e
    if tr and w.get("read:0") and tr.get("p50") is not None:
        L.append("")
        L.append("wstunnel's own start, beyond what a trivial program "
                 "needs to reach its first read: %s us (p50), %s us "
                 "(p10)." % (fmt(w["read:0"]["p50"] - tr["p50"]),
                             fmt(w["read:0"]["p10"] - tr["p10"])))
    for name, d in ps.items():
        for err in d.get("_errors", []):
            L.append("")
            L.append("- %s: FAILED: %s" % (name, err))
    L.append("")


def render(doc):
    L = []
    m = doc["machine"]
    c = doc["config"]
    L.append("# wstunnel benchmark: results")
    L.append("")
    L.append("%s, %s, %d CPUs (%s), kernel %s, %s MiB RAM; load average "
             "%s at the start, %s at the end." % (
                 doc["date"], m["hostname"], m["nproc"], m["model"],
                 m["kernel"], m["mem_mib"], m["loadavg_start"],
                 m["loadavg_end"]))
    L.append("")
    L.append("%s (commit %s%s, binary sha256 %s...), run from a "
             "copy taken at the start. %s repetitions per workload and "
             "target, interleaved; %s s per run; upgrades with %d "
             "connections; idle with %d tunnels; startup %d spawns per "
             "repetition.%s" % (
                 doc["wstunnel"]["version"], doc["wstunnel"]["commit"],
                 " + uncommitted changes" if doc["wstunnel"]["dirty"] else "",
                 doc["wstunnel"]["sha256"][:16], c["reps"], c["duration"],
                 c["conc"], c["idle_n"], c["startup_runs"],
                 " (--quick)" if c["quick"] else ""))
    L.append("")
    st = doc.get("selftest")
    if st is not None:
        L.append("Self-test: %s (%d cases: every workload through a relay "
                 "that passes bytes unchanged must pass, and through one "
                 "that flips, drops or duplicates one byte or spoils "
                 "Sec-WebSocket-Accept must fail)." % (
                     "passed" if st["pass"] else "FAILED", len(st["cases"])))
        L.append("")
    targets = [t for t in doc["targets_run"]]
    s = doc["summary"]
    si = doc.get("idle_summary", {})
    L.append("## Ratios to direct (median of the target / median of direct "
             "in this run)")
    L.append("")
    L.append("Throughput and upgrades/s: higher is better (1.00 = as fast "
             "as no proxy). RTT, memory: lower is better.")
    L.append("")
    cols = [w for w in METRIC if w in s]
    hdr = ["target"] + ["%s (%s)" % (w, METRIC[w][0]) for w in cols]
    if si:
        hdr += ["idle PSS KiB/tunnel", "idle kernel KiB/tunnel"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for t in targets:
        if t in TLS_TARGETS:
            continue        # their own section
        row = [t]
        for w in cols:
            e = s[w].get(t)
            if e is None:
                row.append("-")
            elif e["median"] is None:
                row.append("FAILED")
            else:
                row.append("%s (%s)" % (fmt(e["ratio"], 2), fmt(e["median"])))
        if si:
            e = si.get(t, {})
            row.append(fmt(e.get("pss_kib_per_tunnel")))
            row.append(fmt(e.get("kernel_kib_per_tunnel")))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    render_tls(L, doc, targets, cols)
    for w in cols:
        L.append("## %s: %s" % (w, METRIC[w][0]))
        L.append("")
        xc = EXTRA_COLS.get(w, [])
        extra = "".join(" | " + title for _, title in xc)
        L.append("| target | median | min-max | ratio | ok/runs%s | CPU %% "
                 "client / server / proxy / softirq / others | leftovers |"
                 % extra)
        L.append("|---|---|---|---|---|---|---|" + "---|" * len(xc))
        for t in targets:
            e = s[w].get(t)
            if e is None:
                continue
            cpu = e["cpu"]
            ex = "".join(" | " + fmt(e.get(k)) for k, _ in xc)
            L.append("| %s | %s | %s-%s | %s | %d/%d%s | %s / %s / %s / %s "
                     "/ %s | %d |" % (
                         t, fmt(e["median"]), fmt(e["min"]), fmt(e["max"]),
                         fmt(e["ratio"], 2), e["ok"], e["runs"], ex,
                         fmt(cpu["client_pct"], 0), fmt(cpu["server_pct"], 0),
                         fmt(cpu["proxy_pct"], 0), fmt(cpu["softirq_pct"], 0),
                         fmt(cpu["others_pct"], 0), e["leftovers"]))
            for err in e["errors"]:
                L.append("|  | error: %s | | | | | |%s" % (
                    err.replace("|", "/"), " |" * len(xc)))
        L.append("")
    if si:
        L.append("## idle: memory of %d open tunnels" % c["idle_n"])
        L.append("")
        L.append("| target | PSS KiB/tunnel (min-max) | kernel KiB/tunnel "
                 "(min-max) | kernel over direct | slab KiB/tunnel | "
                 "processes | time to open all, s | ok/runs | leftovers |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for t in targets:
            e = si.get(t)
            if e is None:
                continue
            procs = e.get("per_conn_procs", e.get("daemon_procs", "-"))
            L.append("| %s | %s (%s-%s) | %s (%s-%s) | %s | %s | %s | %s | "
                     "%d/%d | %d |" % (
                         t, fmt(e.get("pss_kib_per_tunnel")),
                         fmt(e.get("pss_kib_per_tunnel_min")),
                         fmt(e.get("pss_kib_per_tunnel_max")),
                         fmt(e.get("kernel_kib_per_tunnel")),
                         fmt(e.get("kernel_kib_per_tunnel_min")),
                         fmt(e.get("kernel_kib_per_tunnel_max")),
                         fmt(e.get("kernel_kib_over_direct")),
                         fmt(e.get("slab_kib_per_tunnel")),
                         fmt(procs) if isinstance(procs, (int, float))
                         else procs,
                         fmt(e.get("open_secs"), 2), e["ok"], e["runs"],
                         e["leftovers"]))
            for err in e["errors"]:
                L.append("|  | error: %s | | | | | | | |" %
                         err.replace("|", "/"))
        L.append("")
        L.append("PSS: the sum of Pss from /proc/PID/smaps_rollup over the "
                 "per-connection processes (wstunnel, socat: the children of "
                 "systemd-socket-activate), or over the daemon's processes "
                 "minus the same sum just before the tunnels were opened "
                 "(nginx, haproxy, apache2), divided by the tunnels open. "
                 "Kernel: the change in /proc/meminfo Slab + KernelStack + "
                 "PageTables plus the TCP 'mem' pages of /proc/net/sockstat, "
                 "from just before opening to 1 s after all were open, "
                 "divided by the tunnels; it includes the client's and the "
                 "backend's sockets (that is all 'direct' has), and it is "
                 "system-wide, so other activity on the machine adds noise.")
        L.append("")
    fl = doc.get("process_floor")
    if fl:
        L.append("For scale: a minimal dynamically linked C process "
                 "(bench/trivial blocked in read(0), %d of them) has PSS "
                 "%s KiB, RSS %s KiB, private dirty %s KiB." % (
                     fl["procs"], fmt(fl["pss_kib_per_proc"]),
                     fmt(fl["rss_kib_per_proc"]),
                     fmt(fl["private_dirty_kib_per_proc"])))
        L.append("")
    su = doc.get("startup_summary")
    if su:
        titles = {
            "read": "## startup: spawn to the first read of fd 0",
            "exit": "## startup: spawn to exit with stdin on /dev/null"}
        for mode in STARTUP_MODES:
            sm = su.get(mode)
            if not sm:
                continue
            L.append(titles[mode])
            L.append("")
            L.append("| program | median of p50 us | min-max | p90 us | "
                     "ratio to trivial | %s | spawns |" % (
                         "exit status" if mode == "exit" else "errors"))
            L.append("|---|---|---|---|---|---|---|")
            for name, e in sm.items():
                L.append("| %s | %s | %s-%s | %s | %s | %s | %d |" % (
                    name, fmt(e["median_p50_us"]), fmt(e["min"]),
                    fmt(e["max"]), fmt(e["p90_us"]), fmt(e["ratio"], 2),
                    ",".join(str(x) for x in e["exit_status"])
                    if mode == "exit" else
                    ("; ".join(e["errors"]).replace("|", "/") or "0"),
                    e["runs"]))
            L.append("")
            L.append({
                "read": "From clone(CLONE_VM|CLONE_VFORK), as posix_spawn "
                "does it, to the moment the program enters its first "
                "read(2) (or readv, recvfrom, recvmsg) of fd 0, an empty "
                "pipe: a seccomp filter installed in the child just before "
                "execve stops that call and notifies the runner "
                "(SECCOMP_RET_USER_NOTIF); the child is then killed. It is "
                "the time before the program can take the client's first "
                "byte: exec, dynamic loading, its configuration (and for "
                "TLS: loading wstunnel-tls.so and OpenSSL, building the "
                "context, reading the certificate and key).",
                "exit": "From posix_spawn to the reaped exit, stdin, stdout "
                "and stderr on /dev/null: the program reads end of file at "
                "once (wstunnel then writes its access line and exits 1)."
            }[mode])
            L.append("")
    ps = doc.get("phase_summary")
    if ps:
        render_phases(L, ps, doc["config"]["startup_runs"])
    logs = doc.get("wstunnel_logs")
    if logs:
        L.append("## wstunnel's own account (its --log files)")
        L.append("")
        for name, ls in logs.items():
            L.append("- %s: %d access lines; status %s; end %s; %d other "
                     "lines%s" % (
                         name, ls["access_lines"],
                         ", ".join("%s=%d" % kv for kv in
                                   sorted(ls["status"].items())),
                         ", ".join("%s=%d" % kv for kv in
                                   sorted(ls["end"].items())),
                         ls["other_lines"],
                         (": " + " / ".join(ls["other_examples"][:3]))
                         if ls["other_lines"] else ""))
        L.append("")
        L.append("(A connection without a request, status=- end=client-closed,"
                 " is the runner's readiness probe; in startup every run of "
                 "the exit mode is one, since stdin is /dev/null (the read "
                 "mode's children are killed before they log). With TLS the "
                 "probe, which sends no ClientHello, is end=tls-failed with a "
                 "warning `TLS: failed`, and so is every exit-mode start-up "
                 "run of `--tls-cert`; the certificate checks add one "
                 "tls-failed line and warning each (`alert bad certificate`,"
                 " `alert unknown ca`: the client's refusal).)")
        L.append("")
    if doc.get("wsecho_counters"):
        L.append("wsecho at the end: `%s`" % doc["wsecho_counters"])
        L.append("")
    L.append("## Targets")
    L.append("")
    for name, t in doc["targets"].items():
        L.append("- %s: %s%s" % (name, t.get("command", ""),
                                 (" (%s)" % t["version"]) if t.get("version")
                                 else ""))
    for n in doc["notes"]:
        L.append("- note: %s" % n)
    L.append("")
    return "\n".join(L)


# ---- main ------------------------------------------------------------------

def summarize_all(doc):
    runs, order = doc["runs"], doc.get("targets_run", [])
    doc["summary"] = summarize(runs, order)
    doc["idle_summary"] = summarize_idle(runs, order)
    doc["tls_summary"] = summarize_tls(runs, doc["summary"], order)
    if doc.get("startup_reps"):
        doc["startup_summary"] = summarize_startup(doc["startup_reps"])
    if doc.get("phase_reps"):
        doc["phase_summary"] = summarize_phases(doc["phase_reps"])


def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"hostname": socket.gethostname(), "nproc": os.cpu_count(),
            "model": model, "kernel": os.uname().release, "mem_mib": mem,
            "loadavg_start": "%.2f %.2f %.2f" % os.getloadavg()}


def git_info():
    rc, out, _ = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], 10)
    rc2, st, _ = run(["git", "-C", ROOT, "status", "--porcelain",
                      "--untracked-files=no"], 10)
    return (out or "?").strip(), bool((st or "").strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run of about two minutes")
    ap.add_argument("--only", help="workloads, comma-separated: " +
                    ",".join(WORKLOADS))
    ap.add_argument("--targets", help="comma-separated: " + ",".join(TARGETS))
    ap.add_argument("--reps", type=int)
    ap.add_argument("--duration", type=float, help="seconds per run")
    ap.add_argument("--conc", type=int, default=16,
                    help="upgrades: concurrent connections")
    ap.add_argument("--idle-n", type=int)
    ap.add_argument("--startup-runs", type=int)
    ap.add_argument("--no-selftest", action="store_true")
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--render", metavar="JSON",
                    help="only write the report again from a latest.json")
    cfg = ap.parse_args()
    if cfg.render:
        with open(cfg.render) as f:
            doc = json.load(f)
        summarize_all(doc)
        print(render(doc))
        return 0
    cfg.reps = cfg.reps or (1 if cfg.quick else 5)
    cfg.duration = cfg.duration or (1.0 if cfg.quick else 4.0)
    cfg.idle_n = cfg.idle_n or (200 if cfg.quick else 1000)
    cfg.startup_runs = cfg.startup_runs or (50 if cfg.quick else 200)
    workloads = cfg.only.split(",") if cfg.only else list(WORKLOADS)
    names = cfg.targets.split(",") if cfg.targets else list(TARGETS)
    for w in workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s" % w)
    for t in names:
        if t not in TARGETS:
            ap.error("unknown target %s" % t)
    if "direct" not in names:
        names.insert(0, "direct")   # the ratios need it

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    log("building ...")
    build()
    tmp = tempfile.mkdtemp(prefix="wsbench.")
    os.chmod(tmp, 0o755)
    notes = []
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"), "machine": machine_info(),
        "config": {"quick": cfg.quick, "reps": cfg.reps,
                   "duration": cfg.duration, "conc": cfg.conc,
                   "idle_n": cfg.idle_n, "startup_runs": cfg.startup_runs,
                   "workloads": workloads}}
    runs, startup_reps, phase_reps = [], [], []
    try:
        wst, digest = snapshot_wstunnel(tmp)
        commit, dirty = git_info()
        doc["wstunnel"] = {"version": first_line([wst, "--version"]),
                           "commit": commit, "dirty": dirty,
                           "sha256": digest}
        certs = make_certs(tmp)
        tls_checks = []
        doc["tls"] = {"certs": certs and {k: certs[k] for k in
                                          ("kind", "openssl")},
                      "ktls": ktls_probe(), "checks": tls_checks}
        log("kernel TLS: %s" % ("available" if doc["tls"]["ktls"][
            "available"] else "not available (setsockopt TCP_ULP tls: %s)"
            % doc["tls"]["ktls"]["tcp_ulp_tls"]))
        if certs is None:
            notes.append("TLS: the openssl command could not make the "
                         "certificates; TLS targets and the --tls-cert "
                         "start-up skipped")
        elog = open(os.path.join(tmp, "wsecho.log"), "w")
        ep = PROCS.spawn([WSECHO], stdout=subprocess.PIPE, stderr=elog,
                         text=True)
        r, _, _ = select.select([ep.stdout], [], [], 10)
        m = re.match(r"port=(\d+)", ep.stdout.readline() if r else "")
        if not m:
            sys.exit("wsecho did not start")
        echo = int(m.group(1))
        log("wsecho on port %d" % echo)

        if not cfg.no_selftest:
            log("self-test: wsload through a damaging relay ...")
            ok, cases = selftest(tmp)
            doc["selftest"] = {"pass": ok, "cases": cases}
            if not ok:
                notes.append("SELF-TEST FAILED: wsload did not notice a "
                             "damaged stream, or failed an undamaged one")

        log("starting targets ...")
        targets = start_targets(names, tmp, echo, wst, notes, certs,
                                tls_checks)
        doc["targets"] = {n: {"command": t.command, "version": t.version,
                              "port": t.port, "tls": t.tls_params}
                          for n, t in targets.items()}
        order = [n for n in names if n in targets]
        doc["targets_run"] = order

        for wl in workloads:
            if wl == "idle":
                floors = [measure_floor() for _ in range(3)]
                doc["process_floor"] = dict(min(
                    floors, key=lambda f: f["pss_kib_per_proc"]))
                doc["process_floor"]["all"] = floors
            if wl == "startup":
                slog = os.path.join(tmp, "startup.log")
                progs = {
                    "trivial": [TRIVIAL],
                    "wstunnel ws://": [wst, "--log", slog,
                                       "ws://127.0.0.1:%d" % echo],
                    # TLS module loaded, client context built, before fd
                    # 0 is read
                    "wstunnel wss:// backend": [
                        wst, "--log", slog, "wss://127.0.0.1:%d" % echo],
                }
                if certs is not None:
                    # the server context: certificate and key loaded
                    progs["wstunnel --tls-cert"] = [
                        wst, "--log", slog, "--tls-cert", certs["cert"],
                        "--tls-key", certs["key"],
                        "ws://127.0.0.1:%d" % echo]
                # a backend of its own, so that the runs it kills half-way
                # do not show in the benchmark's wsecho counters
                pe = PROCS.spawn([WSECHO], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
                r, _, _ = select.select([pe.stdout], [], [], 10)
                m = re.match(r"port=(\d+)",
                             pe.stdout.readline() if r else "")
                for rep in range(cfg.reps):
                    log("startup rep %d/%d" % (rep + 1, cfg.reps))
                    startup_reps.append(run_startup(cfg, rep, progs))
                    if m:
                        phase_reps.append(run_phases(
                            cfg, rep, wst, int(m.group(1)), slog))
                PROCS.stop(pe)
                PROCS.started.remove(pe)
                continue
            worder = [n for n in order if wl in TLS_WORKLOADS or
                      n not in TLS_TARGETS]
            for rep in range(cfg.reps):
                k = rep % len(worder)
                for name in worder[k:] + worder[:k]:
                    t = targets[name]
                    if t.proc is not None and t.proc.poll() is not None:
                        res = {"ok": False, "error": "target died"}
                    elif wl == "idle":
                        if t.restart is not None:
                            # a daemon keeps what it once allocated: its
                            # idle baseline must be a fresh one's
                            PROCS.stop(t.proc)
                            PROCS.started.remove(t.proc)
                            fresh = t.restart()
                            fresh.version, fresh.restart = t.version, \
                                t.restart
                            t = targets[name] = fresh
                        res = run_idle(cfg, t, rep, ep.pid, certs)
                    else:
                        res = run_load(cfg, wl, t, rep, ep.pid, certs)
                    res.update({"workload": wl, "target": name, "rep": rep})
                    runs.append(res)
                    if wl == "idle":
                        v = "%s KiB/tunnel PSS, %s KiB kernel" % (
                            res.get("pss_kib_per_tunnel"),
                            res.get("kernel_kib_per_tunnel"))
                    else:
                        v = "%s %s" % (res.get("value"), res.get("unit", ""))
                    log("  %-9s rep %d %-18s %s%s%s" % (
                        wl, rep + 1, name, v if res.get("ok") else
                        "FAILED: %s" % res.get("error"),
                        "  cpu %s" % res["cpu"] if res.get("cpu") else "",
                        "  LEFTOVERS %d" % len(res["leftovers"])
                        if res.get("leftovers") else ""))
    finally:
        doc["machine"]["loadavg_end"] = "%.2f %.2f %.2f" % os.getloadavg()
        try:
            PROCS.started and log("stopping everything ...")
            echo_proc = next((p for p in PROCS.started if p.args == [WSECHO]),
                             None)
            if echo_proc is not None and echo_proc.poll() is None:
                os.kill(echo_proc.pid, signal.SIGTERM)
                try:
                    echo_proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            left = PROCS.stop_all()
            if left:
                notes.append("processes still alive after the end: %s" % left)
            stray = []
            for pid in os.listdir("/proc"):
                try:
                    exe = os.readlink("/proc/%s/exe" % pid)
                except OSError:
                    continue
                if exe.startswith(tmp):
                    stray.append(int(pid))
            if stray:
                notes.append("wstunnel processes of this run still alive: %s"
                             % stray)
            doc["wsecho_counters"] = tail(os.path.join(tmp, "wsecho.log"),
                                          600)
            doc["wstunnel_logs"] = {}
            for name in ("wstunnel", "wstunnel-nosplice", "wstunnel-tls",
                         "startup"):
                lsum = wstunnel_log_summary(os.path.join(tmp, name + ".log"))
                if lsum is not None:
                    doc["wstunnel_logs"][name] = lsum
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    doc["notes"] = notes
    doc["runs"] = runs
    if startup_reps:
        doc["startup_reps"] = startup_reps
    if phase_reps:
        doc["phase_reps"] = phase_reps
    summarize_all(doc)
    md = render(doc)
    os.makedirs(cfg.out, exist_ok=True)
    with open(os.path.join(cfg.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(cfg.out, "latest.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    bad = [r for r in runs if not r.get("ok")]
    bad_tls = [c for c in doc.get("tls", {}).get("checks", [])
               if not c["pass"]]
    if bad or bad_tls or not doc.get("selftest", {"pass": True})["pass"]:
        log("%d runs failed; see %s" % (len(bad), os.path.join(
            cfg.out, "latest.md")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
