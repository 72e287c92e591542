"""--balance across the per-connection processes, and failover."""
import os
import signal
import subprocess

import wslib


def backend_of(err):
    for word in err.split():
        if word.startswith("backend="):
            return word[len("backend="):]
    return None


def one_session(args, greeting=True):
    """A whole session in pipe mode; the backend address it used."""
    out, err, code = wslib.run_pipe(["--close-timeout", "0.2", *args],
                                    wslib.upgrade_request())
    assert wslib.Response(out).status == 101, err
    return backend_of([l for l in err.splitlines() if "status=" in l][-1])


def urls(backends):
    return ",".join(f"ws://127.0.0.1:{b.port}" for b in backends)


def test_first_takes_the_first_that_answers(raw_backend):
    a, b = raw_backend(), raw_backend()
    dead = wslib.free_port()
    route = f"ws://127.0.0.1:{dead},{urls([a, b])}"
    for _ in range(3):
        assert one_session(["--balance", "first", route]) == f"127.0.0.1:{a.port}"
    assert b.connections == 0


def test_random_reaches_every_backend(raw_backend):
    bs = [raw_backend() for _ in range(3)]
    seen = {one_session(["--balance", "random", urls(bs)]) for _ in range(30)}
    assert seen == {f"127.0.0.1:{b.port}" for b in bs}


def test_roundrobin_turns_across_processes(raw_backend, tmp_path):
    bs = [raw_backend() for _ in range(3)]
    state = str(tmp_path / "state")
    got = [one_session(["--balance", "roundrobin", "--state", state, urls(bs)])
           for _ in range(6)]
    ports = [int(g.rsplit(":", 1)[1]) for g in got]
    order = [b.port for b in bs]
    start = order.index(ports[0])
    assert ports == [order[(start + i) % 3] for i in range(6)]


def test_roundrobin_skips_a_dead_backend(raw_backend, tmp_path):
    a = raw_backend()
    dead = wslib.free_port()
    state = str(tmp_path / "state")
    route = f"ws://127.0.0.1:{a.port},ws://127.0.0.1:{dead}"
    for _ in range(4):
        got = one_session(["--balance", "roundrobin", "--state", state, route])
        assert got == f"127.0.0.1:{a.port}"


def hold(activated_service):
    """A tunnel through the service that stays open; returns its socket."""
    s = activated_service.connect()
    s.sendall(wslib.upgrade_request())
    assert wslib.Response(wslib.read_until(s)).status == 101
    return s


def test_leastconn_counts_live_sessions(raw_backend, activated, tmp_path):
    a, b = raw_backend(), raw_backend()
    svc = activated(["--balance", "leastconn", "--state",
                     str(tmp_path / "state"), urls([a, b])])
    held = [hold(svc) for _ in range(4)]
    # four sessions at once spread two and two
    assert wslib.wait_for(lambda: a.connections + b.connections == 4)
    assert (a.connections, b.connections) == (2, 2)
    # once they end, their slots are free again: the next two spread too
    for s in held:
        s.close()
    assert wslib.wait_for(lambda: len(svc.access_lines()) == 4)
    more = [hold(svc) for _ in range(2)]
    assert wslib.wait_for(lambda: a.connections + b.connections == 6)
    assert (a.connections, b.connections) == (3, 3)
    for s in more:
        s.close()


def test_leastconn_frees_the_slot_of_a_killed_process(raw_backend, activated,
                                                     tmp_path):
    a, b = raw_backend(), raw_backend()
    svc = activated(["--balance", "leastconn", "--state",
                     str(tmp_path / "state"), urls([a, b])])
    first = hold(svc)
    assert wslib.wait_for(lambda: len(svc.children()) == 1)
    victim = svc.children()[0]
    took_a = a.connections == 1
    os.kill(victim, signal.SIGKILL)
    first.close()
    assert wslib.wait_for(lambda: not svc.children())
    # the killed session's slot must not count: the next goes to the same
    # backend again, the one that is empty now (ties keep the turn order,
    # so check over two sessions that both backends get one)
    s1, s2 = hold(svc), hold(svc)
    assert wslib.wait_for(lambda: a.connections + b.connections == 3)
    assert (a.connections, b.connections) == ((2, 1) if took_a else (1, 2))
    s1.close()
    s2.close()


def test_source_keeps_a_client_on_one_backend(raw_backend, activated):
    bs = [raw_backend() for _ in range(4)]
    svc = activated(["--balance", "source", urls(bs)])
    for _ in range(5):
        s = hold(svc)
        s.close()
    assert wslib.wait_for(lambda: len(svc.access_lines()) == 5)
    used = {backend_of(l) for l in svc.access_lines()}
    assert len(used) == 1


def test_roundrobin_and_leastconn_need_state(tmp_path):
    p = subprocess.run([wslib.WSTUNNEL, "--balance", "roundrobin",
                        "ws://127.0.0.1:1"], capture_output=True, text=True)
    assert p.returncode == 64 and "--state" in p.stderr and p.stdout == ""
    # every method may share the file: down and draining backends, status
    p = subprocess.run([wslib.WSTUNNEL, "--check", "--balance", "source",
                        "--state", str(tmp_path / "s"), "ws://127.0.0.1:1"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_state_refuses_a_file_that_is_not_its_own(tmp_path):
    f = tmp_path / "precious"
    f.write_text("do not overwrite me\n")
    p = subprocess.run([wslib.WSTUNNEL, "--check", "--balance", "leastconn",
                        "--state", str(f), "ws://127.0.0.1:1"],
                       capture_output=True, text=True)
    assert p.returncode == 64 and "not a wstunnel state file" in p.stderr
    assert f.read_text() == "do not overwrite me\n"


def test_leastconn_is_not_roundrobin(raw_backend, activated, tmp_path):
    """Three backends get one session each, in turn order; the second and
    third end.  Round robin's next turn is the first session's backend
    again, which is still busy; leastconn must pick an idle one."""
    bs = [raw_backend() for _ in range(3)]
    svc = activated(["--balance", "leastconn", "--state",
                     str(tmp_path / "state"), urls(bs)])
    held = []
    for i in range(3):
        held.append(hold(svc))
        assert wslib.wait_for(lambda: sum(b.connections for b in bs) == i + 1)
    assert [b.connections for b in bs] == [1, 1, 1]
    held[1].close()
    held[2].close()
    assert wslib.wait_for(lambda: len(svc.access_lines()) == 2)
    ended = {backend_of(l) for l in svc.access_lines()}
    busy = [b for b in bs if f"127.0.0.1:{b.port}" not in ended]
    assert len(busy) == 1
    nxt = hold(svc)
    assert wslib.wait_for(lambda: sum(b.connections for b in bs) == 4)
    assert busy[0].connections == 1, "leastconn chose the busy backend"
    nxt.close()
    held[0].close()
