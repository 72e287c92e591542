"""The runs (bench/README.md, "The workloads"): one wsload run against
one target, with the CPU it cost and the processes it left; idle with its
memory; startup and phases; and the self-test through a damaging relay."""
import os
import re
import select
import subprocess
import time

from common import (BENCH, DAEMONS, SSA_TARGETS, TICK, TRIVIAL,
                    WSLOAD, PROCS, kernel_mem, log, machine_ticks,
                    parse_json, proc_table, pss, run, start_wsecho,
                    stop_wsecho, tree_ticks)
from targets import tls_args


# ---- runs ------------------------------------------------------------------

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
    ep, echo = start_wsecho(open(os.path.join(tmp, "wsecho-selftest.log"),
                                 "w"))
    try:
        if echo is None:
            return False, [{"error": "wsecho did not start"}]
        return selftest_cases(echo)
    finally:
        stop_wsecho(ep)


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
