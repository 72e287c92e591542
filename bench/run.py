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
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

# The runner's parts, beside it: common.py (paths, lists, processes, /proc),
# targets.py (certificates, starting the targets, their smoke test),
# workloads.py (the wsload runs and the self-test), report.py (summaries
# and the Markdown).  Their directory goes first in sys.path, as python3 -P
# or -I would leave it out.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (BENCH, BUILD, CC, CFLAGS, PROCS, RESULTS, ROOT,
                    TARGETS, TLS_TARGETS, TLS_WORKLOADS, TRIVIAL, WORKLOADS,
                    WSECHO, WSTUNNEL_VARIANTS, first_line, log, parse_json,
                    run, start_wsecho, stop_wsecho)
from report import render, summarize_all
from targets import ktls_probe, make_certs, start_targets, tail
from workloads import (measure_floor, run_idle, run_load, run_phases,
                       run_startup, selftest, wstunnel_log_summary)


# ---- build -----------------------------------------------------------------

def openssl_flags():
    """(cflags, libs) for OpenSSL from pkg-config, or the plain names."""
    rc, out, _ = run(["pkg-config", "--cflags", "openssl"], 10)
    cflags = out.split() if rc == 0 else []
    rc, out, _ = run(["pkg-config", "--libs", "openssl"], 10)
    libs = out.split() if rc == 0 and out.strip() else ["-lssl",
                                                         "-lcrypto"]
    return cflags, libs


# each program's sources in bench/ (wsload.h says what each wsload_*.c is)
SOURCES = {
    "wsecho": ["wsecho.c"],
    "wsload": ["wsload.c", "wsload_tls.c", "wsload_conn.c",
               "wsload_upgrades.c", "wsload_stream.c", "wsload_idle.c",
               "wsload_startup.c"],
    "trivial": ["trivial.c"],
    "floor": ["floor.c"],
}


def build():
    os.makedirs(BUILD, exist_ok=True)
    sslc, ssll = openssl_flags()
    for prog, cf, libs in (
            ("wsecho", [], ["-lmd", "-lresolv"]),
            ("wsload", sslc, ["-lmd", "-lresolv", "-lpthread"] + ssll),
            ("trivial", [], []),
            ("floor", [], [])):
        cmd = [CC] + CFLAGS + cf + ["-o", os.path.join(BUILD, prog)] + \
            [os.path.join(BENCH, src) for src in SOURCES[prog]] + libs
        rc, out, err = run(cmd, 120)
        if rc != 0:
            sys.exit("build failed: %s\n%s%s" % (" ".join(cmd), out, err))
    if not os.access(os.path.join(ROOT, "wstunnel"), os.X_OK):
        rc, out, err = run(["make", "-C", ROOT, "all"], 600)
        if rc != 0:
            sys.exit("make all failed:\n%s%s" % (out, err))


def measure_relay_floor(cfg):
    """bench/floor.c: the round trip through the least a relay can do, so
    that the targets' RTT ratios can be read against what is possible."""
    log("relay floor (bench/floor) ...")
    rc, out, err = run([os.path.join(BUILD, "floor"), "-r",
                        str(max(cfg.reps, 3))], 300)
    res = parse_json(out) or {"ok": False, "error": "exit %s: %s" % (
        rc, (err or "").strip()[-300:])}
    return res


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


# ---- main ------------------------------------------------------------------

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
        ep, echo = start_wsecho(open(os.path.join(tmp, "wsecho.log"), "w"))
        if echo is None:
            sys.exit("wsecho did not start")
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
            if wl == "pingpong":
                doc["relay_floor"] = measure_relay_floor(cfg)
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
                pe, pport = start_wsecho(subprocess.DEVNULL)
                for rep in range(cfg.reps):
                    log("startup rep %d/%d" % (rep + 1, cfg.reps))
                    startup_reps.append(run_startup(cfg, rep, progs))
                    if pport is not None:
                        phase_reps.append(run_phases(cfg, rep, wst, pport,
                                                     slog))
                stop_wsecho(pe)
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
            for name in list(WSTUNNEL_VARIANTS) + ["wstunnel-tls",
                                                   "startup"]:
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
