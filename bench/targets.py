"""The targets (bench/README.md, "The targets"): the certificates for the
TLS ones, the kernel TLS probe, starting each target in front of wsecho,
and the smoke test (with the certificate checks) each must pass."""
import os
import re
import socket
import tempfile

from common import (DAEMONS, ROOT, SSA_TARGETS, TLS_TARGETS, WSLOAD, PROCS,
                    WSTUNNEL_VARIANTS,
                    children, first_line, free_port, log, parse_json, run,
                    tree, tree_ticks, wait_port, which)


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
    return launch(name, exe, d, port, path, conf,
                  [exe, "-e", os.path.join(d, "error.log"), "-p", d, "-c",
                   path, "-g", "daemon off;"], 10)


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
    return launch(name, exe, d, port, path, conf, [exe, "-db", "-f", path],
                  10)


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
    return launch(name, exe, d, port, path, conf,
                  [exe, "-d", d, "-f", path, "-DFOREGROUND"], 15)


def launch(name, exe, d, port, path, conf, cmd, wait_s):
    """Writes a daemon's configuration to path, starts cmd with its output
    in d/stderr.log, and waits for port: the Target, or Skip with what the
    daemon said (its stderr, and its error.log where it has one)."""
    with open(path, "w") as f:
        f.write(conf)
    out = open(os.path.join(d, "stderr.log"), "w")
    p = PROCS.spawn(cmd, stdout=out, stderr=out)
    if not wait_port(port, wait_s, p):
        said = [tail(os.path.join(d, f)) for f in ("stderr.log", "error.log")]
        raise Skip("%s did not start: %s" % (
            name.replace("-tls", ""), " ".join(x for x in said if x)))
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
            elif name in WSTUNNEL_VARIANTS:
                opts = WSTUNNEL_VARIANTS[name]
                rc, o, e = run([wst, "--check", "--log", os.devnull] + opts +
                               ["ws://127.0.0.1:%d" % echo], 10)
                if rc != 0:
                    raise Skip("wstunnel %s --check: exit %s %s"
                               % (" ".join(opts), rc, (o + e).strip()))
                t = start_ssa(name, tmp, [wst, "--log", wlog] + opts +
                              ["ws://127.0.0.1:%d" % echo])
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
