import os

import pytest

import wslib


def pytest_configure(config):
    assert os.access(wslib.WSTUNNEL, os.X_OK), "build wstunnel first (make)"


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
