# libFuzzer targets for the pure parsers (tests/fuzz/fuzz_*.c), included by
# the top Makefile.  Needs clang with libFuzzer (Debian: clang and
# libclang-rt-dev).
#
#   make fuzz-build             build tests/fuzz/fuzz_<name>
#   make fuzz-regress           run each target once over its committed corpus
#   make fuzz [FUZZ_SECONDS=60] fuzz each target on a copy of its corpus;
#                               new inputs and crashes go to tests/fuzz/work/
#   make fuzz-<name>            fuzz one target (request, response, url, proxy,
#                               frame, reqbody, auth, xff)
#   make fuzz-clean             remove the binaries and tests/fuzz/work/
#
# FUZZ_IGNORE=name,... (environment) makes the named invariants non-fatal,
# to fuzz on past a bug already recorded; see fuzz.h.  FUZZ_EXTRA_CFLAGS does
# the same for a sanitizer check (-fno-sanitize=nonnull-attribute, say).

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
# seconds one input may take: a parser that hangs fails in seconds, rather
# than after libFuzzer's default of 20 minutes
FUZZ_TIMEOUT	?= 10
# absolute, as the runs happen in their scratch directories
FUZZ_DIR	= $(CURDIR)/tests/fuzz
FUZZ_WORK	= $(FUZZ_DIR)/work
FUZZ_NAMES	= request response url proxy frame reqbody auth xff
FUZZ_BINS	= $(FUZZ_NAMES:%=tests/fuzz/fuzz_%)
# the pure units, compiled with the sanitizers into every target
FUZZ_SRCS	= $(PURE:%.o=%.c)
# the project's flags but its hardening, which the sanitizers replace
FUZZ_CFLAGS	= -std=c11 -D_GNU_SOURCE $(WARNINGS) $(BSD_CFLAGS) \
		  -g -O1 -fno-omit-frame-pointer \
		  -fsanitize=fuzzer,address,undefined \
		  -fno-sanitize-recover=all -I$(CURDIR) $(FUZZ_EXTRA_CFLAGS)
FUZZ_LIBS	= $(LIBS)
# what `make fuzz` shows of libFuzzer's log
FUZZ_REPORT	= DONE|stat::(number|average|new)|INVARIANT|ERROR:|runtime error|SUMMARY|Test unit

# the largest input each target gets, and its dictionary
# (a response may pass HTTP_MAX_RESPONSE_HEAD, 32768)
FUZZ_MAXLEN_request	= 20000
FUZZ_MAXLEN_response	= 40000
FUZZ_MAXLEN_url		= 1024
FUZZ_MAXLEN_proxy	= 4400
FUZZ_MAXLEN_frame	= 4096
FUZZ_MAXLEN_reqbody	= 4096
FUZZ_MAXLEN_auth		= 2048
FUZZ_MAXLEN_xff		= 1024
FUZZ_DICT_request	= http.dict
FUZZ_DICT_response	= http.dict
FUZZ_DICT_url		= url.dict
FUZZ_DICT_proxy		= proxy.dict
FUZZ_DICT_frame		= frame.dict
FUZZ_DICT_reqbody	= http.dict
FUZZ_DICT_auth		= auth.dict
FUZZ_DICT_xff		= xff.dict

fuzz-build: $(FUZZ_BINS)

tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_SRCS) *.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(FUZZ_LIBS)

# Each committed input once: any crash, leak, sanitizer report or failed
# invariant fails, and each failing file is named with its first report.
fuzz-regress: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_NAMES); do \
		n=0; for f in tests/fuzz/corpus/$$t/*; do \
			n=$$((n + 1)); \
			if ! out=$$(tests/fuzz/fuzz_$$t \
			    -timeout=$(FUZZ_TIMEOUT) $$f 2>&1); then \
				fail=$$((fail + 1)); \
				echo "FAIL $$f: $$(echo "$$out" | grep -m1 -E \
				    'INVARIANT|runtime error|ERROR: |timeout')"; \
			fi; \
		done; echo "fuzz-regress: $$t: $$n inputs"; \
	done; \
	if [ $$fail -gt 0 ]; then echo "fuzz-regress: $$fail failing"; exit 1; fi

# Every target, even after one has found a crash; fails if any has.
fuzz: $(FUZZ_BINS)
	@failed=; for t in $(FUZZ_NAMES); do \
		$(MAKE) --no-print-directory fuzz-$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz: found crashes in:$$failed (tests/fuzz/work/<name>/)"; \
		exit 1; \
	fi

# On a scratch copy of the corpus (the crash-* reproducers left out, so
# that a known bug does not stop the run before it starts); libFuzzer's
# log is tests/fuzz/work/<name>/fuzz.log, a crash is saved next to it.
$(FUZZ_NAMES:%=fuzz-%): fuzz-%: tests/fuzz/fuzz_%
	@rm -rf $(FUZZ_WORK)/$*
	@mkdir -p $(FUZZ_WORK)/$*/corpus
	@find $(FUZZ_DIR)/corpus/$* -type f ! -name 'crash-*' \
	    -exec cp {} $(FUZZ_WORK)/$*/corpus/ \;
	@echo "fuzz-$*: $(FUZZ_SECONDS)s, log in $(FUZZ_WORK)/$*/fuzz.log"
	@cd $(FUZZ_WORK)/$* && { $(FUZZ_DIR)/fuzz_$* \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	    -max_len=$(FUZZ_MAXLEN_$*) \
	    -dict=$(FUZZ_DIR)/$(FUZZ_DICT_$*) -artifact_prefix=$(FUZZ_WORK)/$*/ \
	    -print_final_stats=1 $(FUZZ_WORK)/$*/corpus >fuzz.log 2>&1; \
	    rc=$$?; grep -E '$(FUZZ_REPORT)' fuzz.log; exit $$rc; }

fuzz-clean:
	rm -rf $(FUZZ_BINS) $(FUZZ_WORK)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean $(FUZZ_NAMES:%=fuzz-%)
