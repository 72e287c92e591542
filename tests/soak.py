#!/usr/bin/python3
"""The soak test (make soak): CONNS clients keep tunnels open through
wstunnel behind systemd-socket-activate for SECONDS seconds, each in a loop:
connect, upgrade, a few rounds of a random-size random payload sent in
random-size pieces while its echo is read back and hash-checked, half-close,
wait for the end, reconnect.  The backend is this script too (--backend):
an asyncio raw echo that answers a correct 101.  While it runs, the VmRSS
and Pss of every wstunnel (the children of systemd-socket-activate) are
sampled from /proc.

At the end it reports tunnels, bytes, errors, lost and corrupted bytes,
leftover processes and the peak memory per wstunnel, checks the access log
against what the clients saw, and exits 1 when anything is wrong.

    /usr/bin/python3 tests/soak.py [--seconds 60] [--conns 50]
                                   [--max-size 2097152] [--seed N]
"""
import argparse
import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WSTUNNEL = os.path.join(ROOT, "wstunnel")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TIMEOUT = 30         # seconds any one step of a client may take
DRAIN_TIMEOUT = 40      # after the end, for the clients' last tunnels
LEFTOVER_TIMEOUT = 15   # for the last wstunnel processes to exit


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


# ------------------------------------------------------------------ backend

async def backend_main():
    stats = collections.Counter()

    async def serve(reader, writer):
        stats["connections"] += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                          OP_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            fields = {}
            for line in lines[1:]:
                if line:
                    n, _, v = line.partition(":")
                    fields.setdefault(n.strip().lower(), []).append(v.strip())
            key = fields.get("sec-websocket-key", [""])
            ok = (re.fullmatch(r"GET /echo(/\S*)? HTTP/1\.1", lines[0]) and
                  len(key) == 1 and fields.get("upgrade") == ["websocket"] and
                  fields.get("connection") == ["Upgrade"] and
                  len(fields.get("host", [])) == 1)
            if not ok:
                stats["bad_heads"] += 1
                writer.write(b"HTTP/1.1 400 Bad Request\r\n"
                             b"Content-Length: 0\r\n\r\n")
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\n"
                         b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " +
                         accept_for(key[0].encode()) + b"\r\n\r\n")
            while True:
                data = await asyncio.wait_for(reader.read(65536),
                                              OP_TIMEOUT * 2)
                if not data:
                    break
                stats["bytes"] += len(data)
                writer.write(data)
                await writer.drain()
            stats["clean_ends"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                asyncio.LimitOverrunError) as e:
            stats["errors"] += 1
            stats["error:" + type(e).__name__] += 1
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    # runs until its stdin ends, then says what it saw
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    print(json.dumps(stats), flush=True)


# ------------------------------------------------------------------ /proc

def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st.rsplit(")", 1)[1].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            out.append(int(d))
    return out


def memory_of(pid):
    """(VmRSS, Pss) in kB, or None when the process is gone."""
    try:
        rss = pss = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
        if rss is None or pss is None:
            return None
        return rss, pss
    except OSError:
        return None


class Sampler:
    def __init__(self, ppid):
        self.ppid = ppid
        self.peak = {}          # pid -> (max rss, max pss)
        self.samples = 0
        self.max_concurrent = 0

    def sample(self):
        kids = children_of(self.ppid)
        self.max_concurrent = max(self.max_concurrent, len(kids))
        for pid in kids:
            m = memory_of(pid)
            if m is None:
                continue
            r, p = self.peak.get(pid, (0, 0))
            self.peak[pid] = (max(r, m[0]), max(p, m[1]))
        self.samples += 1

    async def run(self, stop):
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await loop.run_in_executor(None, self.sample)
            try:
                await asyncio.wait_for(stop.wait(), 0.25)
            except asyncio.TimeoutError:
                pass


# ------------------------------------------------------------------ clients

class Totals:
    def __init__(self):
        self.tunnels = 0
        self.rounds = 0
        self.up = 0             # bytes the clients sent into tunnels
        self.down = 0           # bytes they got back
        self.lost = 0
        self.corrupted = 0      # rounds whose echo differed
        self.errors = []

    def error(self, where, e):
        tb = traceback.extract_tb(e.__traceback__)
        at = ",".join(f"{f.name}:{f.lineno}" for f in tb if f.filename == __file__)
        self.errors.append(f"{where}: {type(e).__name__}: {e} at {at}")


def payload_size(rnd, max_size):
    r = rnd.random()
    if r < 0.5:
        n = rnd.randint(1, 4096)
    elif r < 0.85:
        n = rnd.randint(4097, 131072)
    else:
        n = rnd.randint(131073, max_size)
    return min(n, max_size)


async def one_round(reader, writer, rnd, max_size, totals):
    size = payload_size(rnd, max_size)
    data = rnd.randbytes(size)
    want = hashlib.sha256(data).digest()

    async def send():
        i = 0
        while i < size:
            n = rnd.randint(1, 65536)
            writer.write(data[i:i + n])
            i += n
            await writer.drain()

    async def receive():
        h = hashlib.sha256()
        got = 0
        while got < size:
            chunk = await reader.read(min(1 << 16, size - got))
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
        return got, h.digest()

    _, (got, digest) = await asyncio.wait_for(
        asyncio.gather(send(), receive()), OP_TIMEOUT)
    totals.up += size
    totals.down += got
    totals.rounds += 1
    if got < size:
        totals.lost += size - got
        raise ConnectionError(f"echo ended after {got} of {size} bytes")
    if digest != want:
        totals.corrupted += 1
        raise ValueError(f"echo of {size} bytes differs")
    return size


async def one_tunnel(port, rnd, max_size, totals):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), OP_TIMEOUT)
    try:
        key = base64.b64encode(rnd.randbytes(16))
        path = f"/soak/{rnd.randrange(1 << 30)}"
        writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n"
                     b"Host: soak.test\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                      OP_TIMEOUT)
        if not head.startswith(b"HTTP/1.1 101 ") or \
                b"\r\nSec-WebSocket-Accept: " + accept_for(key) + b"\r\n" \
                not in head:
            raise ValueError(f"no valid 101: {head[:80]!r}")
        for _ in range(rnd.randint(1, 4)):
            await one_round(reader, writer, rnd, max_size, totals)
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), OP_TIMEOUT)
        if rest:
            raise ValueError(f"{len(rest)} stray bytes before the end")
        totals.tunnels += 1
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def client(i, port, deadline, seed, max_size, totals):
    rnd = random.Random(seed * 1000 + i)
    while time.monotonic() < deadline:
        try:
            await one_tunnel(port, rnd, max_size, totals)
        except (OSError, ValueError, ConnectionError, asyncio.TimeoutError,
                asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            totals.error(f"client {i}", e)
            await asyncio.sleep(0.1)


# ------------------------------------------------------------------ the run

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_exits(stream, exits):
    """Collects the exit statuses systemd-socket-activate reports."""
    for line in stream:
        m = re.search(r"Child (\d+) died with code (\d+)", line)
        if m:
            exits.append(int(m.group(2)))


def parse_access(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            if " client=" in line:
                out.append(dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line)))
    return out


def stop_process(p, timeout=10):
    """Terminates p (a process this script started) and waits for it."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)


async def soak(args, tmp):
    totals = Totals()
    backend = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                "--backend"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    ssa = None
    try:
        line = backend.stdout.readline()
        if not line.strip().isdigit():
            raise SystemExit(f"the echo backend did not start: {line!r}")
        bport = int(line)
        log = os.path.join(tmp, "wstunnel.log")
        port = free_port()
        ssa = subprocess.Popen(["systemd-socket-activate", "--inetd", "-a",
                                "-l", f"127.0.0.1:{port}", WSTUNNEL,
                                "--log", log,
                                f"/soak=ws://127.0.0.1:{bport}/echo"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        line = ssa.stderr.readline()
        if "Listening" not in line:
            raise SystemExit(f"systemd-socket-activate did not start: "
                             f"{line!r}")
        # it reports every child's exit status on stderr, which must be
        # read all along: a full pipe would stop it from accepting
        exits = []
        reader = threading.Thread(target=read_exits,
                                  args=(ssa.stderr, exits), daemon=True)
        reader.start()
        sampler = Sampler(ssa.pid)
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop))
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        print(f"soak: {args.conns} clients for {args.seconds}s through "
              f"127.0.0.1:{port} -> echo backend 127.0.0.1:{bport}",
              flush=True)
        tasks = [asyncio.create_task(client(i, port, deadline, args.seed,
                                            args.max_size, totals))
                 for i in range(args.conns)]
        _, pending = await asyncio.wait(tasks, timeout=args.seconds +
                                        DRAIN_TIMEOUT)
        for t in pending:
            t.cancel()
            totals.errors.append("a client did not finish its last tunnel")
        elapsed = time.monotonic() - t0
        # every wstunnel must be gone on its own
        leftover_deadline = time.monotonic() + LEFTOVER_TIMEOUT
        while children_of(ssa.pid) and time.monotonic() < leftover_deadline:
            await asyncio.sleep(0.1)
        leftover = children_of(ssa.pid)
        stop.set()
        await sampling
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
        stop_process(ssa)
        reader.join(5)
        try:
            out, _ = backend.communicate(timeout=10)   # ends its stdin
        except subprocess.TimeoutExpired:
            out = ""
        bstats = json.loads((out.strip().splitlines() or ["{}"])[-1])
        access = parse_access(log)
        return totals, sampler, leftover, access, bstats, exits, elapsed
    finally:
        if ssa is not None:
            stop_process(ssa)
        stop_process(backend)


def report(args, totals, sampler, leftover, access, bstats, exits, elapsed):
    rss = sorted(r for r, _ in sampler.peak.values())
    pss = sorted(p for _, p in sampler.peak.values())
    ok101 = [a for a in access if a.get("status") == "101" and
             a.get("end") == "client-closed"]
    up_logged = sum(int(a.get("up", 0)) for a in access)
    down_logged = sum(int(a.get("down", 0)) for a in access)
    mb = (totals.up + totals.down) / 1e6
    print(f"""
soak results ({elapsed:.1f}s, {args.conns} clients, seed {args.seed})
  tunnels completed       {totals.tunnels}  ({totals.rounds} payload rounds)
  bytes up / down         {totals.up} / {totals.down}  ({mb:.1f} MB, {mb / elapsed:.1f} MB/s)
  errors                  {len(totals.errors)}
  lost bytes              {totals.lost}
  corrupted rounds        {totals.corrupted}
  leftover processes      {len(leftover)}
  wstunnel exit statuses  {dict(collections.Counter(exits))}
  access lines            {len(access)} ({len(ok101)} status=101 end=client-closed)
  access up / down sums   {up_logged} / {down_logged}
  backend                 {dict(bstats)}
  wstunnel processes      {len(sampler.peak)} sampled, up to {sampler.max_concurrent} at once, {sampler.samples} samples
  peak VmRSS per process  max {rss[-1] if rss else 0} kB, median {rss[len(rss) // 2] if rss else 0} kB
  peak Pss per process    max {pss[-1] if pss else 0} kB, median {pss[len(pss) // 2] if pss else 0} kB
""", flush=True)
    for e in totals.errors[:20]:
        print("  error:", e)
    problems = []
    if totals.errors:
        problems.append(f"{len(totals.errors)} errors")
    if totals.lost or totals.corrupted or totals.up != totals.down:
        problems.append("lost or corrupted bytes")
    if leftover:
        problems.append(f"leftover wstunnel processes {leftover}")
    if len(exits) != totals.tunnels or any(exits):
        problems.append(f"exit statuses {dict(collections.Counter(exits))} "
                        f"for {totals.tunnels} tunnels")
    if totals.tunnels == 0:
        problems.append("no tunnel completed")
    if len(access) != totals.tunnels or len(ok101) != totals.tunnels:
        problems.append(f"{len(access)} access lines ({len(ok101)} clean) "
                        f"for {totals.tunnels} tunnels")
    if (up_logged, down_logged) != (totals.up, totals.down):
        problems.append("access-line byte counts differ from the clients'")
    if bstats.get("connections") != totals.tunnels or \
            bstats.get("bytes") != totals.up or \
            bstats.get("errors") or bstats.get("bad_heads"):
        problems.append(f"backend saw {dict(bstats)}")
    if not sampler.peak:
        problems.append("no wstunnel process was sampled")
    for p in problems:
        print("FAIL:", p)
    print("soak: " + ("FAILED" if problems else "OK"), flush=True)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("SOAK_SECONDS", 60)))
    ap.add_argument("--conns", type=int,
                    default=int(os.environ.get("SOAK_CONNS", 50)))
    ap.add_argument("--max-size", type=int, default=2 << 20)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--backend", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.backend:
        asyncio.run(backend_main())
        return 0
    if not os.access(WSTUNNEL, os.X_OK):
        raise SystemExit("build wstunnel first (make)")
    if shutil.which("systemd-socket-activate") is None:
        raise SystemExit("systemd-socket-activate is needed (Debian: systemd)")
    tmp = tempfile.mkdtemp(prefix="wstunnel-soak-")
    try:
        result = asyncio.run(soak(args, tmp))
        return report(args, *result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
