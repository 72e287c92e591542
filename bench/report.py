"""The report (bench/README.md, "How to read the numbers"): medians,
spreads and ratios from the runs' raw results, then the Markdown."""
import statistics

from common import EXTRA_COLS, METRIC, TLS_TARGETS, TLS_WORKLOADS
from workloads import PHASES, STARTUP_MODES


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


def summarize_all(doc):
    runs, order = doc["runs"], doc.get("targets_run", [])
    doc["summary"] = summarize(runs, order)
    doc["idle_summary"] = summarize_idle(runs, order)
    doc["tls_summary"] = summarize_tls(runs, doc["summary"], order)
    if doc.get("startup_reps"):
        doc["startup_summary"] = summarize_startup(doc["startup_reps"])
    if doc.get("phase_reps"):
        doc["phase_summary"] = summarize_phases(doc["phase_reps"])


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


def render_relay_floor(L, fl):
    """What any relay adds to a round trip here (bench/floor.c)."""
    if not fl:
        return
    if not fl.get("ok"):
        L.append("The relay floor (bench/floor) failed: %s" % fl.get("error"))
        L.append("")
        return
    d = fl["direct_p50_us"]
    L.append("The floor of any relay on this machine (bench/floor, %d runs "
             "of %d round trips of 16 bytes, interleaved, median of the "
             "p50s): client and echo alone %s us; through a minimal relay "
             "that sleeps in poll() and copies with read() and write() %s us "
             "(%s x); through the same relay never sleeping (poll with a "
             "zero timeout) %s us (%s x). Compare `wstunnel` with the first "
             "and `wstunnel-busypoll` with the second: the two wake-ups a "
             "relay adds to each round trip are the gap between them, and "
             "the rest is the relay's own two TCP hops, which no proxy can "
             "take away." % (
                 fl["runs"], fl["round_trips"], fmt(d),
                 fmt(fl["relay_p50_us"]), fmt(fl["relay_p50_us"] / d, 2),
                 fmt(fl["spin_p50_us"]), fmt(fl["spin_p50_us"] / d, 2)))
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
        if w == "pingpong":
            render_relay_floor(L, doc.get("relay_floor"))
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
