"""The benchmark runner's common ground (bench/run.py): paths, the
workloads and the targets, logging, the processes the runner starts and
what /proc says about them (CPU ticks, PSS, the kernel's memory), ports,
bounded commands, and wsload's JSON lines."""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(BENCH, "build")
WSLOAD = os.path.join(BUILD, "wsload")
WSECHO = os.path.join(BUILD, "wsecho")
TRIVIAL = os.path.join(BUILD, "trivial")
RESULTS = os.path.join(BENCH, "results")
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror"]

WORKLOADS = ["startup", "idle", "pingpong", "echo", "download", "upload",
             "upgrades"]
TARGETS = ["direct", "wstunnel", "wstunnel-nosplice", "wstunnel-busypoll",
           "wstunnel-wsping",
           "socat", "nginx", "haproxy", "apache2", "wstunnel-tls",
           "nginx-tls", "haproxy-tls", "apache2-tls"]
# the plain wstunnel targets: the options each adds
WSTUNNEL_VARIANTS = {"wstunnel": [], "wstunnel-nosplice": ["--no-splice"],
                     "wstunnel-busypoll": ["--busy-poll", "200"],
                     # frame tracking on, through buffers, Pings every 30 s
                     "wstunnel-wsping": ["--ws-ping", "30"]}
SSA_TARGETS = tuple(WSTUNNEL_VARIANTS) + ("socat", "wstunnel-tls")
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


def start_wsecho(stderr):
    """A wsecho of its own: (process, port), port None when it did not
    say it was listening within 10 s."""
    p = PROCS.spawn([WSECHO], stdout=subprocess.PIPE, stderr=stderr,
                    text=True)
    r, _, _ = select.select([p.stdout], [], [], 10)
    m = re.match(r"port=(\d+)", p.stdout.readline() if r else "")
    return p, int(m.group(1)) if m else None


def stop_wsecho(p):
    PROCS.stop(p)
    PROCS.started.remove(p)


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
