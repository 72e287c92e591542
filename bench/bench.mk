# make bench: the benchmark (bench/README.md); BENCH_ARGS go to bench/run.py,
# e.g. make bench BENCH_ARGS="--only echo --targets wstunnel,socat"
BENCH_PYTHON	?= /usr/bin/python3
BENCH_ARGS	?=

# socat, the per-connection peer, is always compared; the daemons (nginx,
# haproxy, apache2) are compared when they are installed
bench: all
	@sh scripts/deps socat
	$(BENCH_PYTHON) bench/run.py $(BENCH_ARGS)

bench-quick: all
	@sh scripts/deps socat
	$(BENCH_PYTHON) bench/run.py --quick $(BENCH_ARGS)

.PHONY: bench bench-quick
