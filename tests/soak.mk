# make soak: SOAK_CONNS concurrent tunnels through systemd-socket-activate
# for SOAK_SECONDS, each a loop of random payloads both ways, hash-checked,
# against a Python echo backend; fails on any error, lost or corrupted byte
# or leftover process, and prints the peak RSS/PSS per wstunnel
# (tests/soak.py, tests/README.md).  Included by the top Makefile.
SOAK_SECONDS	?= 60
SOAK_CONNS	?= 50

soak: all
	$(PYTHON) tests/soak.py --seconds $(SOAK_SECONDS) --conns $(SOAK_CONNS)

.PHONY: soak
