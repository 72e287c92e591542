# wstunnel: a per-connection WebSocket reverse proxy for inetd, xinetd and
# systemd socket activation.

VERSION		= 0.1.0
PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
MODULEDIR	?= $(LIBDIR)/wstunnel
MANDIR		?= $(PREFIX)/share/man
DESTDIR		?=

CC		?= cc
PKG_CONFIG	?= pkg-config
PYTHON		?= /usr/bin/python3
CFLAGS		?= -O2 -g

WARNINGS	= -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		  -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
HARDENING	= -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
		  -fstack-clash-protection
ifeq ($(shell uname -m),x86_64)
HARDENING	+= -fcf-protection
endif
LDHARDENING	= -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack

# Asked of pkg-config on first use, not when the Makefile is read: on a
# machine that lacks the packages, `make deps` (run by `make check` and
# `make demo`) installs them first, and a plain `make` stops at
# build-check with their names rather than at a compiler error.
lazy		= $(eval $(1) := $$(shell $(2)))$($(1))
BSD_CFLAGS	= $(call lazy,BSD_CFLAGS,$(PKG_CONFIG) --cflags libbsd-overlay libmd)
BSD_LIBS	= $(call lazy,BSD_LIBS,$(PKG_CONFIG) --libs libbsd-overlay libmd)
SSL_CFLAGS	= $(call lazy,SSL_CFLAGS,$(PKG_CONFIG) --cflags openssl)
SSL_LIBS	= $(call lazy,SSL_LIBS,$(PKG_CONFIG) --libs openssl)

# make ... SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer,
# without the sandbox: their runtimes (LeakSanitizer's ptrace and thread,
# reports written to files) need calls it forbids
ifeq ($(SANITIZE),1)
CFLAGS		:= -O1 -g -fno-omit-frame-pointer \
		   -fsanitize=address,undefined -fno-sanitize-recover=all \
		   -DSANDBOX_OFF
LDFLAGS		+= -fsanitize=address,undefined
HARDENING	=
endif

# where the suite collects sanitizer and valgrind reports; any fails it
REPORTS		= $(CURDIR)/tests/reports
ifeq ($(SANITIZE),1)
export WSTUNNEL_REPORTS = $(REPORTS)
endif
VALGRIND	= valgrind -q --error-exitcode=99 --leak-check=full \
		  --errors-for-leak-kinds=definite --track-fds=yes \
		  --log-file=$(REPORTS)/valgrind.%p
VALGRIND_TESTS	= tests/integration/test_smoke.py \
		  tests/integration/test_request.py \
		  tests/integration/test_backend.py \
		  tests/integration/test_faults.py \
		  tests/integration/test_balance.py \
		  tests/integration/test_http.py \
		  tests/integration/test_lifecycle.py

ALL_CFLAGS	= -std=c11 -D_GNU_SOURCE $(WARNINGS) $(HARDENING) \
		  $(BSD_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
# libbsd, libmd, libresolv and libcrypt are linked from their static
# archives (libseccomp too): each shared one costs about fifteen system calls at every start,
# and a start is what every connection pays.  Their code here is strtonum,
# setproctitle, strnvisx, SHA-1, base64 and crypt(3) (libxcrypt); an update
# to them needs a rebuild (Debian: Built-Using).  OpenSSL stays shared, loaded by the TLS module, so its
# updates apply from the next connection on.  DYNAMIC=1 links all shared.
ifeq ($(DYNAMIC),1)
LIBS		= $(BSD_LIBS) -lresolv -lcrypt -lseccomp
else
LIBS		= -Wl,-Bstatic $(BSD_LIBS) -lresolv -lcrypt -lseccomp -Wl,-Bdynamic
endif

# the pure units: parsers and head builders, also linked into the tests
PURE		= http.o body.o reqbody.o host.o rewrite.o route.o addr.o access.o \
		  balance.o proxy.o frame.o negotiate.o track.o auth.o xff.o
OBJS		= wstunnel.o config.o usage.o session.o backend.o httpx.o dial.o conn.o \
		  relay.o wsrelay.o log.o sig.o tlsmod.o state.o admit.o limit.o \
		  status.o sandbox.o $(PURE)
MODULE		= wstunnel-tls.so
UNIT_TESTS	= tests/unit/test_http tests/unit/test_route \
		  tests/unit/test_rewrite tests/unit/test_access \
		  tests/unit/test_proxy tests/unit/test_frame \
		  tests/unit/test_negotiate tests/unit/test_track \
		  tests/unit/test_reqbody tests/unit/test_plain \
		  tests/unit/test_auth tests/unit/test_xff \
		  tests/unit/test_balance

all: wstunnel $(MODULE)

wstunnel: $(OBJS) .build-flags
	$(CC) -pie $(LDHARDENING) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

# objects are rebuilt whenever the compiler or its flags change; before
# anything is compiled, the build's Debian packages must be there
.build-flags: build-check
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LIBS) $(MODULEDIR)' | cmp -s - $@ \
	    || echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LIBS) $(MODULEDIR)' > $@

%.o: %.c *.h .build-flags
	$(CC) $(ALL_CFLAGS) -fPIE -c -o $@ $<

tlsmod.o: tlsmod.c *.h .build-flags
	$(CC) $(ALL_CFLAGS) -fPIE -DMODULEDIR='"$(MODULEDIR)"' -c -o $@ $<

$(MODULE): tls.c tls.h conn.h .build-flags
	$(CC) $(ALL_CFLAGS) $(SSL_CFLAGS) -fPIC -fvisibility=hidden -shared \
	    $(LDHARDENING) $(LDFLAGS) -o $@ tls.c $(SSL_LIBS)

# the binary of tests/integration/test_sandbox.py: WSTUNNEL_SANDBOX_SELFTEST
# makes it attempt a forbidden call in a phase (sandbox.c)
SELFTEST	= tests/wstunnel-selftest
$(SELFTEST): $(OBJS) sandbox.c sandbox.h .build-flags
	$(CC) $(ALL_CFLAGS) -fPIE -DSANDBOX_SELFTEST -c -o $@.o sandbox.c
	$(CC) -pie $(LDHARDENING) $(LDFLAGS) -o $@ $(filter-out sandbox.o, \
	    $(OBJS)) $@.o $(LIBS)

tests/unit/%: tests/unit/%.c tests/unit/t.h $(PURE)
	$(CC) $(ALL_CFLAGS) -I. -fPIE -pie $(LDFLAGS) -o $@ $< $(PURE) $(LIBS)

# Debian packages the build, the tests and the demo need
deps:
	@sh scripts/deps

build-check:
	@sh scripts/deps --build-check

unit: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do ./$$t || fail=1; done; exit $$fail

integration: all $(SELFTEST)
	$(PYTHON) -m pytest -q tests/integration

# cppcheck, and every file through clang's warnings (gcc's come with the
# build); -fsyntax-only, so that no build output is touched
lint:
	cppcheck --quiet --error-exitcode=1 \
	    --enable=warning,style,performance,portability --inline-suppr \
	    --std=c11 -D_GNU_SOURCE -DMODULEDIR='""' -I. \
	    --suppress=missingIncludeSystem --suppress=missingInclude \
	    *.c tests/unit/*.c tests/fuzz/*.c bench/*.c
	@for f in *.c tests/unit/*.c bench/*.c; do \
	    clang $(ALL_CFLAGS) $(SSL_CFLAGS) -I. -fsyntax-only $$f || exit 1; \
	done

# memcheck and descriptor leaks over a subset of the integration suite
valgrind: all $(SELFTEST)
	WSTUNNEL_REPORTS=$(REPORTS) WSTUNNEL_WRAPPER="$(VALGRIND)" \
	    $(PYTHON) -m pytest -q $(VALGRIND_TESTS)

check: deps
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	$(PYTHON) scripts/demo.py

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MODULEDIR) \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 wstunnel $(DESTDIR)$(SBINDIR)/wstunnel
	install -m 644 $(MODULE) $(DESTDIR)$(MODULEDIR)/$(MODULE)
	install -m 644 man/wstunnel.8 $(DESTDIR)$(MANDIR)/man8/wstunnel.8

# The Debian package, built from a copy of the checkout's files (tracked
# and not ignored) in build/deb, where dpkg-buildpackage leaves the .deb.
DEBDIR		= $(CURDIR)/build/deb
deb: build-check
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)/wstunnel-$(VERSION)
	git ls-files -z --cached --others --exclude-standard \
	    | xargs -0 cp --parents -t $(DEBDIR)/wstunnel-$(VERSION)
	cd $(DEBDIR)/wstunnel-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEBDIR)/*.deb

# The shipped inetd, xinetd and systemd files run by the real super-servers,
# the .deb installed and removed, a browser through the tunnel; as root, with
# the packages scripts/deps --deploy installs (tests/README.md)
check-deploy: deps
	sh scripts/deps --deploy
	$(MAKE) all
	$(MAKE) deb
	$(PYTHON) -m pytest -q -rP tests/deploy

clean-objs:
	rm -f *.o wstunnel $(MODULE) $(UNIT_TESTS) $(SELFTEST) $(SELFTEST).o \
	    .build-flags

clean: clean-objs
	rm -rf tests/integration/__pycache__ tests/deploy/__pycache__ \
	    .pytest_cache $(REPORTS) build

# fuzz targets, sanitizer builds (tests/fuzz/fuzz.mk)
include tests/fuzz/fuzz.mk
# make bench (bench/bench.mk)
include bench/bench.mk
# make soak (tests/soak.mk)
include tests/soak.mk

FORCE:

.PHONY: all deps build-check unit integration lint check demo install clean clean-objs \
	valgrind deb check-deploy
