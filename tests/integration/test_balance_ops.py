"""Balancing an admin runs for months: the --state file, passive health
(--retry-after), stable stickiness, weights, draining, --status."""
import concurrent.futures
import os
import re
import signal
import stat
import subprocess
import threading
import time

import wslib


def named_backends(echo_backend, n):
    """n python3-websockets backends, each greeting with its own name."""
    bs = [echo_backend(greeting=f"backend-{i}") for i in range(n)]
    for b in bs:
        # a line per connection on its stdout: read, so that it never fills
        threading.Thread(target=b.proc.stdout.read, daemon=True).start()
    return bs


def url(b, weight=None):
    return f"ws://127.0.0.1:{b.port}" + (f";weight={weight}" if weight else "")


def served_by(out):
    m = re.search(rb"backend-(\d+)", out)
    return int(m.group(1)) if m else None


def session(args, client=None):
    """One whole session in pipe mode (with a PROXY header when client is
    given): (the backend that greeted, stderr, exit status)."""
    head = b""
    if client is not None:
        head = f"PROXY TCP4 {client} 127.0.0.1 40000 80\r\n".encode()
        args = ["--proxy-protocol", *args]
    out, err, code = wslib.run_pipe(["--close-timeout", "3", *args],
                                    head + wslib.upgrade_request())
    return served_by(out), err, code


def many(args, clients):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda c: session(args, c)[0], clients))


def status(state, fmt=None):
    opt = "--status" if fmt is None else f"--status={fmt}"
    p = subprocess.run(wslib.command([opt, "--state", str(state)]),
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout


def table(state):
    """--status as {backend URL: (open, served, failed, state)}."""
    rows = {}
    for line in status(state).splitlines()[1:]:
        f = line.split()
        rows[f[1]] = (int(f[2]), int(f[3]), int(f[4]), f[5])
    return rows


def hold(svc):
    """A tunnel through the service that stays open."""
    s = svc.connect()
    s.sendall(wslib.upgrade_request())
    assert wslib.Response(wslib.read_until(s)).status == 101
    return s


def hold_greeted(svc):
    """A tunnel that stays open, and the backend that greeted on it."""
    s = svc.connect()
    s.sendall(wslib.upgrade_request())
    data = wslib.read_until(s)
    assert wslib.Response(data).status == 101
    data = data.partition(b"\r\n\r\n")[2]
    deadline = time.monotonic() + 10
    while served_by(data) is None and time.monotonic() < deadline:
        data += s.recv(4096)
    return s, served_by(data)


# --- the state file ---------------------------------------------------------

def check_state(state, *extra):
    return subprocess.run(wslib.command(
        ["--check", "--balance", "leastconn", "--state", str(state), *extra,
         "ws://127.0.0.1:1"]), capture_output=True, text=True, timeout=10)


def test_state_file_is_made_0600_even_under_a_lax_umask(tmp_path):
    state = tmp_path / "state"
    old = os.umask(0)
    try:
        assert check_state(state).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_state_file_another_user_can_write_is_refused(tmp_path):
    state = tmp_path / "state"
    assert check_state(state).returncode == 0
    os.chmod(state, 0o620)
    p = check_state(state)
    assert p.returncode == 64 and "writable by group or others" in p.stderr
    os.chmod(state, 0o600)
    os.chown(state, 65534, 65534)     # nobody
    p = check_state(state)
    assert p.returncode == 64 and "owned by another user" in p.stderr


def test_corrupted_state_file_is_rebuilt(raw_backend, tmp_path):
    a = raw_backend()
    state = tmp_path / "state"
    args = ["--balance", "roundrobin", "--state", str(state),
            f"ws://127.0.0.1:{a.port}"]
    out, err, code = wslib.run_pipe(args, wslib.upgrade_request())
    assert code == 0, err
    size = state.stat().st_size
    good = state.read_bytes()
    # an entry's bytes overwritten, a size cut short, an older layout
    for bad in (good[:2200] + b"\xff" * 300 + good[2500:],
                good[:size // 2],
                b"wstunnel-state1" + good[15:]):
        state.write_bytes(bad)
        out, err, code = wslib.run_pipe(args, wslib.upgrade_request())
        assert code == 0 and wslib.Response(out).status == 101, err
        assert "rebuilt" in err
        assert state.stat().st_size == size
        assert f"ws://127.0.0.1:{a.port}" in status(state)


def test_status_of_a_missing_or_foreign_file_fails_clearly(tmp_path):
    p = subprocess.run(wslib.command(["--status", "--state",
                                      str(tmp_path / "none")]),
                       capture_output=True, text=True)
    assert p.returncode == 1 and "No such file" in p.stderr
    assert p.stdout == ""
    f = tmp_path / "foreign"
    f.write_text("precious\n")
    p = subprocess.run(wslib.command(["--status", "--state", str(f)]),
                       capture_output=True, text=True)
    assert p.returncode == 1 and "not a wstunnel state file" in p.stderr
    assert f.read_text() == "precious\n"


def test_forty_processes_at_once_on_a_fresh_file(raw_backend, tmp_path):
    a, b = raw_backend(), raw_backend()
    state = tmp_path / "state"
    cmd = wslib.command(["--log", str(tmp_path / "log"), "--balance",
                         "leastconn", "--state", str(state),
                         f"{url(a)},{url(b)}"])
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for _ in range(40)]
    try:
        for p in procs:
            p.stdin.write(wslib.upgrade_request())
            p.stdin.flush()
        assert wslib.wait_for(lambda: a.connections + b.connections == 40)
        # each counted the ones before it: 20 and 20, none lost
        assert (a.connections, b.connections) == (20, 20)
        rows = table(state)
        assert rows[url(a)][:2] == (20, 20) and rows[url(b)][:2] == (20, 20)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert wslib.wait_for(lambda: sum(r[0] for r in table(state).values())
                          == 0)


# --- passive health ---------------------------------------------------------

def test_retry_after_skips_a_dead_backend_then_tries_it_again(
        echo_backend, tmp_path):
    live = echo_backend(greeting="backend-0")
    dead = wslib.free_port()
    state = tmp_path / "state"
    # six sessions must fit in the time, also under valgrind
    retry = 12 if wslib.INSTRUMENTED else 3
    args = ["-v", "--balance", "roundrobin", "--state", str(state),
            "--retry-after", str(retry), f"{url(live)},ws://127.0.0.1:{dead}"]
    tries = 0
    for _ in range(6):
        who, err, code = session(args)
        assert who == 0 and code == 0, err
        tries += err.count(f"connect to 127.0.0.1:{dead}")
        if "marked down" in err:
            assert (f"ws://127.0.0.1:{dead}: marked down for {retry}.000 s"
                    in err)
    # round robin would have tried it three times: once, then skipped
    assert tries == 1
    assert table(state)[f"ws://127.0.0.1:{dead}"][2:] == (1, "down")
    echo_backend(greeting="backend-1", where=str(dead))
    time.sleep(retry + 0.1)
    got, logs = [], ""
    for _ in range(2):
        who, err, code = session(args)
        got.append(who)
        logs += err
    assert 1 in got, logs
    assert "trying it again" in logs and "up again" in logs
    assert table(state)[f"ws://127.0.0.1:{dead}"][3] == "up"


def test_every_backend_down_means_all_are_tried(tmp_path):
    d1, d2 = wslib.free_port(), wslib.free_port()
    args = ["--balance", "random", "--state", str(tmp_path / "state"),
            "--retry-after", "60", f"ws://127.0.0.1:{d1},ws://127.0.0.1:{d2}"]
    for _ in range(2):
        out, err, code = wslib.run_pipe(args, wslib.upgrade_request())
        assert wslib.Response(out).status == 502
        assert f":{d1}: " in err and f":{d2}: " in err


# --- stickiness and weights -------------------------------------------------

CLIENTS = [f"10.{i // 250}.{i % 250}.{(i * 7) % 250 + 1}" for i in range(200)]


def test_source_moves_only_the_removed_backends_clients(echo_backend,
                                                        tmp_path):
    bs = named_backends(echo_backend, 3)
    before = many(["--balance", "source", ",".join(map(url, bs))], CLIENTS)
    counts = [before.count(i) for i in range(3)]
    assert all(c > 30 for c in counts), counts
    # removed from the route: only its clients move
    after = many(["--balance", "source", f"{url(bs[0])},{url(bs[2])}"],
                 CLIENTS)
    for c, was, now in zip(CLIENTS, before, after):
        assert now == was or was == 1, f"{c} moved from {was} to {now}"
    # down (its server stopped): the same
    bs[1].close()
    state = tmp_path / "state"
    down = many(["--balance", "source", "--state", str(state),
                 ",".join(map(url, bs))], CLIENTS)
    assert down == after


def test_weights_random_roundrobin_source(echo_backend, tmp_path):
    a, b = named_backends(echo_backend, 2)
    route = f"{url(a, 3)},{url(b, 1)}"
    got = many(["--balance", "random", route], [None] * 400)
    assert None not in got and 0.65 < got.count(0) / 400 < 0.85, got.count(0)
    got = many(["--balance", "source", route], CLIENTS)
    assert 0.6 < got.count(0) / 200 < 0.9, got.count(0)
    state = str(tmp_path / "state")
    got = [session(["--balance", "roundrobin", "--state", state, route])[0]
           for _ in range(8)]
    assert got.count(0) == 6 and got.count(1) == 2, got


def test_weights_leastconn_counts_open_per_weight(raw_backend, activated,
                                                 tmp_path):
    a, b = raw_backend(), raw_backend()
    svc = activated(["--balance", "leastconn", "--state",
                     str(tmp_path / "state"), f"{url(a, 3)},{url(b)}"])
    held = [hold(svc) for _ in range(8)]
    assert wslib.wait_for(lambda: a.connections + b.connections == 8)
    assert (a.connections, b.connections) == (6, 2)
    for s in held:
        s.close()


def test_a_bad_weight_is_a_usage_error():
    p = subprocess.run(wslib.command(["--check",
                                      "ws://127.0.0.1:1;weight=0"]),
                       capture_output=True, text=True)
    assert p.returncode == 64 and "weight" in p.stderr and p.stdout == ""


# --- draining and status ----------------------------------------------------

def admin(*args):
    return subprocess.run(wslib.command(list(args)), capture_output=True,
                          text=True, timeout=10)


def test_drain_keeps_open_tunnels_and_status_goes_to_zero(echo_backend,
                                                         activated, tmp_path):
    bs = named_backends(echo_backend, 2)
    state = tmp_path / "state"
    svc = activated(["--balance", "leastconn", "--state", str(state),
                     ",".join(map(url, bs))])
    first, x = hold_greeted(svc)
    p = admin("--drain", url(bs[x], 2), "--state", str(state))
    assert p.returncode == 0 and "draining" in p.stdout, p.stderr
    rows = table(state)
    assert rows[url(bs[x])][0] == 1 and rows[url(bs[x])][3] == "draining"
    others = [hold_greeted(svc) for _ in range(4)]
    assert [who for _, who in others] == [1 - x] * 4
    # the open tunnel still works
    first.sendall(wslib.frame(b"still here"))
    assert wslib.wait_for(lambda: b"still here" in first.recv(4096), 5)
    first.close()
    assert wslib.wait_for(lambda: table(state)[url(bs[x])][0] == 0)
    assert admin("--undrain", url(bs[x]), "--state",
                 str(state)).returncode == 0
    assert table(state)[url(bs[x])][3] == "up"
    nxt, who = hold_greeted(svc)
    assert who == x      # leastconn: the empty one again
    for s in [nxt, *(s for s, _ in others)]:
        s.close()


def test_a_drained_backend_still_serves_when_the_others_fail(echo_backend,
                                                            tmp_path):
    """Draining avoids a backend; it is no reason for a 502 while it runs."""
    live = named_backends(echo_backend, 1)[0]
    dead = wslib.free_port()
    state = str(tmp_path / "state")
    assert admin("--drain", url(live), "--state", state).returncode == 0
    args = ["--balance", "roundrobin", "--state", state,
            f"ws://127.0.0.1:{dead},{url(live)}"]
    for _ in range(2):
        who, err, code = session(args)
        assert who == 0 and code == 0, err
    assert table(state)[url(live)][1:] == (2, 0, "draining")


def test_status_after_kill_9_and_in_prometheus_format(raw_backend, activated,
                                                     tmp_path):
    a, b = raw_backend(), raw_backend()
    state = tmp_path / "state"
    svc = activated(["--balance", "leastconn", "--state", str(state),
                     f"{url(a)},{url(b)}"])
    held = [hold(svc) for _ in range(4)]
    assert wslib.wait_for(lambda: len(svc.children()) == 4)
    rows = table(state)
    assert rows[url(a)][:2] == (2, 2) and rows[url(b)][:2] == (2, 2)
    for pid in svc.children()[:3]:
        os.kill(pid, signal.SIGKILL)
    assert wslib.wait_for(lambda: len(svc.children()) == 1)
    rows = table(state)
    assert sum(r[0] for r in rows.values()) == 1
    assert sum(r[1] for r in rows.values()) == 4
    prom = status(state, "prometheus")
    families = re.findall(r"(?m)^# TYPE (\S+) (\S+)$", prom)
    assert ("wstunnel_backend_open_tunnels", "gauge") in families
    assert ("wstunnel_backend_served_total", "counter") in families
    opened = re.findall(r'(?m)^wstunnel_backend_open_tunnels\{route="/",'
                        r'backend="ws://127\.0\.0\.1:\d+"\} (\d+)$', prom)
    assert sorted(map(int, opened)) == [0, 1]
    for line in prom.splitlines():
        assert line.startswith("# ") or re.fullmatch(
            r'wstunnel_backend_\w+\{route="[^"]*",backend="[^"]*"\} \d+', line)
    for s in held:
        s.close()
