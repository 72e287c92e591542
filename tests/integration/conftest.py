import glob
import os
import re

import pytest

import wslib

# Reports of the sanitizers (make check SANITIZE=1) and of valgrind
# (make valgrind) land here; any report fails the run.
REPORTS = os.environ.get("WSTUNNEL_REPORTS")


def pytest_configure(config):
    assert os.access(wslib.WSTUNNEL, os.X_OK), "build wstunnel first (make)"
    if REPORTS:
        os.makedirs(REPORTS, exist_ok=True)
        for f in glob.glob(os.path.join(REPORTS, "*")):
            os.unlink(f)
        os.environ["ASAN_OPTIONS"] = (f"log_path={REPORTS}/asan:"
                                      "detect_leaks=1:abort_on_error=0")
        os.environ["UBSAN_OPTIONS"] = (f"log_path={REPORTS}/ubsan:"
                                       "print_stacktrace=1:halt_on_error=1")


# What wstunnel may still hold at exit: its log file and its state file
# (twice with --max-per-client: its slot is a lock on its own descriptor).
KEPT_OPEN = ("log_open", "state_open", "limit_open")


def valgrind_problems(text):
    """valgrind -q prints only errors, plus (with --track-fds=yes) a block
    per descriptor open at exit.  Inherited ones and the log and state files
    are expected; anything else is an error or a leaked descriptor."""
    problems = []
    # "Open file descriptor 4: ...", "Open AF_INET socket 5: ...", ...
    blocks = re.split(r"(?m)^==\d+== (?=Open |FILE DESCRIPTORS)", text)
    for block in blocks:
        body = re.sub(r"(?m)^==\d+== ?", "", block).strip()
        if not body or body.startswith("FILE DESCRIPTORS"):
            continue
        if body.startswith("Open "):
            if "<inherited from parent>" in body or \
                    any(f in body for f in KEPT_OPEN):
                continue
        problems.append(body)
    return problems


def pytest_sessionfinish(session, exitstatus):
    if not REPORTS:
        return
    bad = []
    for f in glob.glob(os.path.join(REPORTS, "*")):
        text = open(f, errors="replace").read()
        if os.path.basename(f).startswith("valgrind"):
            if valgrind_problems(text):
                bad.append(f)
        elif text:
            bad.append(f)
    for f in bad:
        print(f"\n==== {f}\n" + open(f, errors="replace").read()[:4000])
    if bad:
        print(f"\n{len(bad)} sanitizer/valgrind report(s) in {REPORTS}")
        session.exitstatus = 1


@pytest.fixture
def raw_backend():
    """Factory: raw_backend(handler) -> a started RawBackend."""
    made = []

    def make(handler=None, **kw):
        b = wslib.RawBackend(handler, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def echo_backend():
    """Factory: echo_backend(greeting=None, where=None, tls=None)."""
    made = []

    def make(**kw):
        b = wslib.EchoBackend(**kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def activated(tmp_path):
    """Factory: activated(args) -> wstunnel behind systemd-socket-activate;
    at teardown, asserts that no wstunnel process outlived its session."""
    made = []

    def make(args, **kw):
        s = wslib.SocketActivated(args, tmp_path / f"wstunnel{len(made)}.log", **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        left = wslib.wait_for(lambda: not s.children(), timeout=15)
        s.close()
        assert left, f"wstunnel processes left over: {s.children()}"
