"""The man page: mandoc -Tlint clean, and the paths it names for the
installed files the ones the package installs."""
import re
import shutil
import subprocess

import pytest

import deploylib as dl

MAN = dl.ROOT / "man" / "wstunnel.8"
# messages that depend on the manuals installed on this machine, not on
# the page: cross-references to packages not installed, mandoc's database
MACHINE = ("referenced manual not found", "mandoc.db")


def test_mandoc_lint_clean():
    if shutil.which("mandoc") is None:
        pytest.fail("mandoc not found: apt-get install mandoc")
    r = subprocess.run(["mandoc", "-Tlint", str(MAN)], capture_output=True,
                       text=True, timeout=60)
    msgs = [l for l in (r.stdout + r.stderr).splitlines()
            if not any(m in l for m in MACHINE)]
    assert msgs == [], "\n".join(msgs)


def test_files_match_the_package():
    page = MAN.read_text()
    rules = (dl.ROOT / "debian" / "rules").read_text()
    moduledir = re.search(r"MODULEDIR=(\S+)", rules).group(1)
    assert f"Pa {moduledir}/wstunnel-tls.so" in page
    install = (dl.ROOT / "debian" / "wstunnel.install").read_text()
    for unit in ("wstunnel.socket", "wstunnel@.service"):
        d = re.search(rf"(?m)^systemd/{re.escape(unit)} (\S+)$",
                      install).group(1)
        assert f"/{d}/{unit}" in page, unit
