# weft: plain GNU make. `make`, `make run`, `make test`, `make asan`,
# `make tsan`, `make valgrind`, `make test-system`, `make fuzz`, `make chaos`,
# `make deb`, `make bench`, `make install`, `make clean`. On a machine
# without make: scripts/make.sh.

VERSION    = 0.1.0

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec/weft
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/weft
# A daemon's configuration lives in /etc whatever the prefix.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
DESTDIR    ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual
ifneq ($(CI),)
WARN    += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -Ilib/include
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SAN)
LDLIBS   = -lpthread

# Sanitizer builds go to their own tree; the default one leaves the
# libraries in lib/.
BUILD   ?= build
OUT     ?= lib
SOVER    = 0

LIB_SRC  = $(wildcard lib/src/*.c)
LIB_OBJ  = $(LIB_SRC:lib/src/%.c=$(BUILD)/lib/%.o)
LIB_A    = $(OUT)/libweft.a
LIB_SO   = $(OUT)/libweft.so.$(SOVER)
HEADERS  = $(wildcard lib/include/weft/*.h)

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC = $(wildcard tests/bench/*.c)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
EXAMPLE_SRC = $(wildcard examples/*.c examples/handlers/*.c)
EXAMPLE_BIN = $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
TOOL_BIN  = $(BUILD)/weft-cat $(BUILD)/weftd $(BUILD)/weftctl
WEFTD_SRC = daemon/weftd.c daemon/front.c daemon/dispatch.c daemon/worker.c \
            daemon/pool.c daemon/pools.c daemon/spawner.c daemon/spawner_ask.c daemon/job.c daemon/log.c daemon/config.c \
            daemon/spawn.c daemon/reload.c daemon/budget.c daemon/listen.c \
            daemon/stats.c daemon/report.c daemon/admin.c daemon/control.c daemon/http.c \
            daemon/http_parse.c daemon/scale.c

.PHONY: all run test unit check-deps test-deps asan tsan valgrind test-system fuzz chaos deb bench install uninstall clean FORCE
.PHONY: abi-dump abi-check

all: $(LIB_A) $(LIB_SO) $(OUT)/libweft.so $(EXAMPLE_BIN) $(TOOL_BIN)

# Installed paths baked into weftd and the installed files. The header is
# rewritten only when a path changed, so weftd rebuilds exactly then.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'
$(BUILD)/paths.h: FORCE
	@mkdir -p $(@D)
	@echo '#define WEFTD_CONF "$(SYSCONFDIR)/weft/weftd.conf"' > $@.tmp
	@echo '#define WEFT_VERSION "$(VERSION)"' >> $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# -MMD: each object depends on exactly the headers it includes.
$(BUILD)/lib/%.o: lib/src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -fPIC -fvisibility=hidden -c -o $@ $<

-include $(LIB_OBJ:.o=.d)

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# Only wf_* is exported, each symbol versioned WEFT_0 (lib/libweft.map).
$(LIB_SO): $(LIB_OBJ) lib/libweft.map
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libweft.so.$(SOVER) \
		-Wl,--version-script,lib/libweft.map \
		-Wl,--no-undefined -o $@ $(LIB_OBJ) $(LDLIBS)

$(OUT)/libweft.so: $(LIB_SO)
	ln -sf libweft.so.$(SOVER) $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) -lcmocka $(LDLIBS)

# Examples build the way a user's program would: public headers only.
$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/weft-cat: daemon/weft-cat.c $(LIB_A)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/weftctl: daemon/weftctl.c daemon/config.c daemon/config.h $(BUILD)/paths.h $(LIB_A)
	$(CC) $(CPPFLAGS) -include $(BUILD)/paths.h $(ALL_CFLAGS) $(LDFLAGS) -o $@ \
		daemon/weftctl.c daemon/config.c $(LIB_A) -lconfuse $(LDLIBS)

$(BUILD)/weftd: $(WEFTD_SRC) $(wildcard daemon/*.h) $(BUILD)/paths.h $(LIB_A)
	$(CC) $(CPPFLAGS) -include $(BUILD)/paths.h \
		$(ALL_CFLAGS) $(LDFLAGS) -o $@ $(WEFTD_SRC) $(LIB_A) -lconfuse -lsystemd $(LDLIBS)

# The benchmarks' weft echo server is the example itself.
$(BUILD)/bench/echo_weft: $(BUILD)/examples/echo
	@mkdir -p $(@D)
	cp $< $@

# Unit tests of the daemon's modules link those modules too.
$(BUILD)/tests/test_config: tests/unit/test_config.c daemon/config.c daemon/config.h tests/unit/testutil.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src -Idaemon $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< daemon/config.c $(LIB_A) -lcmocka -lconfuse $(LDLIBS)

# test_connect makes the library's reallocs fail on purpose.
$(BUILD)/tests/test_connect: LDFLAGS += -Wl,--wrap=realloc
# test_post_free stops a poster thread right after the queue is unlocked.
$(BUILD)/tests/test_post_free: LDFLAGS += -Wl,--wrap=pthread_mutex_unlock

# Preloaded into weftd by the bats tests; never sanitized (see the file).
$(BUILD)/tests/failinject.so: tests/fault/failinject.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/die_on_request: tests/fault/die_on_request.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/test_log: tests/unit/test_log.c daemon/log.c daemon/log.h tests/unit/testutil.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src -Idaemon $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< daemon/log.c $(LIB_A) -lcmocka $(LDLIBS)

$(BUILD)/tests/test_spawn: tests/unit/test_spawn.c daemon/spawn.c daemon/spawn.h tests/unit/testutil.h $(LIB_A) $(EXAMPLE_BIN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src -Idaemon -DTEST_HANDLER='"$(BUILD)/examples/handlers/echo"' \
		$(ALL_CFLAGS) $(LDFLAGS) -o $@ $< daemon/spawn.c $(LIB_A) -lcmocka $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

check-deps:
	@sh scripts/deps.sh

# The tests need more than running weftd does: promtool checks /metrics,
# g++ compiles the headers as C++.
TEST_DEPS = prometheus g++ abigail-tools
test-deps:
	@WEFT_DEPS_EXTRA="$(TEST_DEPS)" sh scripts/deps.sh

# weftd in the foreground on 127.0.0.1:7000 with the example echo handler.
run: check-deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run.sh

# Run-time dependencies first, so a fresh Debian 12 machine needs nothing else.
test: test-deps
	@$(MAKE) --no-print-directory unit-build
	@sh scripts/run-tests.sh $(UNIT_BIN) -- tests/bats

.PHONY: unit-build
unit-build: all $(UNIT_BIN) $(BUILD)/tests/failinject.so \
	$(BUILD)/tests/die_on_request

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# and under ThreadSanitizer; each in its own build tree.
SANFLAGS = -O1 -g -fno-omit-frame-pointer
asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build/asan OUT=build/asan \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		CFLAGS="$(SANFLAGS)" unit-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 WEFT_BUILD=$(CURDIR)/build/asan \
		sh scripts/run-tests.sh $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%) -- tests/bats

tsan: test-deps
	@$(MAKE) --no-print-directory BUILD=build/tsan OUT=build/tsan \
		SAN="-fsanitize=thread" CFLAGS="$(SANFLAGS)" unit-build
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 WEFT_BUILD=$(CURDIR)/build/tsan \
		sh scripts/run-tests.sh $(UNIT_SRC:tests/unit/%.c=build/tsan/tests/%) -- tests/bats

valgrind: check-deps unit-build
	@WEFT_TEST_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
		WEFT_TEST_SLOW=10 sh scripts/run-tests.sh $(UNIT_BIN)

# weftd under a real systemd: booted Debian 12 boxes (systemd-nspawn), the
# unit, reload, stop, socket activation, the watchdog, the Debian package,
# and the README's commands on a bare minbase root. Not part of `make test`.
SYSTEM_DEPS = debootstrap systemd-container util-linux debhelper dpkg-dev lintian
test-system:
	@WEFT_DEPS_EXTRA="$(SYSTEM_DEPS)" sh scripts/deps.sh
	@$(MAKE) --no-print-directory all $(BUILD)/tests/system/sleepy deb
	@bash scripts/system-test.sh

$(BUILD)/tests/system/sleepy: tests/system/sleepy.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

# libFuzzer targets (tests/fuzz), each built with the library's sources
# and run for FUZZ_SECONDS on a corpus seeded by scripts/fuzz-seeds.sh.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = buffer addr config handler http
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -Ilib/include -Ilib/src -Idaemon \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) daemon/config.c daemon/http_parse.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) \
		$(if $(filter config,$*),daemon/config.c -lconfuse) \
		$(if $(filter http,$*),daemon/http_parse.c) -lpthread

# The real weftd under load while workers are killed, reloads change the
# pool and clients half-close or vanish (tests/chaos/chaos.py).
CHAOS_SECONDS ?= 60
chaos: check-deps all
	@python3 tests/chaos/chaos.py $(BUILD)/weftd $(BUILD)/examples/handlers/echo $(CHAOS_SECONDS)

fuzz:
	@WEFT_DEPS_EXTRA="clang libclang-rt-14-dev" sh scripts/deps.sh
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@sh scripts/fuzz-seeds.sh build/fuzz/seeds
	@sh scripts/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# A Debian package built from this tree with debhelper (scripts/debian/):
# build/deb/weftd_$(VERSION)_amd64.deb, libweft0 and libweft-dev beside it.
deb:
	@WEFT_DEPS_EXTRA="debhelper dpkg-dev" sh scripts/deps.sh
	@sh scripts/deb.sh $(VERSION)

# libweft.so's ABI against the baseline abi/libweft.abi (scripts/abi-check.sh):
# additions pass, an incompatible change fails unless SOVER changed with it.
# `make abi-dump` rewrites the baseline after an intended change.
ABI_BASELINE = abi/libweft.abi
abi-check:
	@WEFT_DEPS_EXTRA="abigail-tools" sh scripts/deps.sh
	@$(MAKE) --no-print-directory $(LIB_SO)
	@sh scripts/abi-check.sh check $(LIB_SO) $(ABI_BASELINE)

abi-dump:
	@WEFT_DEPS_EXTRA="abigail-tools" sh scripts/deps.sh
	@$(MAKE) --no-print-directory $(LIB_SO)
	@sh scripts/abi-check.sh dump $(LIB_SO) $(ABI_BASELINE)

bench: all $(BENCH_BIN)
	$(BUILD)/bench/bench_core

MAN_PAGES = $(wildcard man/*.[1-8])

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/weft
	install -m 755 $(BUILD)/weftd $(DESTDIR)$(SBINDIR)/
	install -m 755 $(BUILD)/weft-cat $(BUILD)/weftctl $(DESTDIR)$(BINDIR)/
	install -m 755 $(BUILD)/examples/handlers/echo examples/handlers/echo.py \
		$(DESTDIR)$(LIBEXECDIR)/
	$(SUBST) systemd/weftd.service.in > $(DESTDIR)$(UNITDIR)/weftd.service
	install -m 644 systemd/weftd.socket $(DESTDIR)$(UNITDIR)/
	@# An edited configuration is the operator's: never overwritten.
	test -e $(DESTDIR)$(SYSCONFDIR)/weft/weftd.conf || \
		$(SUBST) conf/weftd.conf.in > $(DESTDIR)$(SYSCONFDIR)/weft/weftd.conf
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ && \
		sh scripts/man-links.sh $(DESTDIR)$(MANDIR)/man$$s $$m || exit 1; \
	done
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/weft $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libweft.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libweft.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/weft/
	install -d $(DESTDIR)$(DOCDIR)/examples/handlers
	install -m 644 $(wildcard examples/*.c) examples/README $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 $(wildcard examples/handlers/*.c examples/handlers/*.py) \
		$(DESTDIR)$(DOCDIR)/examples/handlers/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' lib/weft.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/weft.pc

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/weftd $(DESTDIR)$(BINDIR)/weft-cat \
		$(DESTDIR)$(BINDIR)/weftctl \
		$(DESTDIR)$(UNITDIR)/weftd.service $(DESTDIR)$(UNITDIR)/weftd.socket
	@# Only our files: LIBEXECDIR and INCLUDEDIR may be shared.
	rm -f $(DESTDIR)$(LIBEXECDIR)/echo $(DESTDIR)$(LIBEXECDIR)/echo.py
	rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true
	for m in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} \
		$$(sh scripts/man-links.sh -n $(DESTDIR)$(MANDIR)/man$${m##*.} $$m); done
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/weft/weftd.conf (remove it by hand)"
	rm -f $(DESTDIR)$(LIBDIR)/libweft.a $(DESTDIR)$(LIBDIR)/libweft.so \
		$(DESTDIR)$(LIBDIR)/libweft.so.$(SOVER) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/weft.pc
	rm -f $(HEADERS:lib/include/%=$(DESTDIR)$(INCLUDEDIR)/%)
	rm -rf $(DESTDIR)$(DOCDIR)/examples
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	rmdir $(DESTDIR)$(INCLUDEDIR)/weft 2>/dev/null || true

clean:
	rm -rf build lib/libweft.a lib/libweft.so lib/libweft.so.$(SOVER)
