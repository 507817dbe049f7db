# weft: plain GNU make. `make`, `make test`, `make asan`, `make tsan`,
# `make valgrind`, `make bench`, `make install`, `make clean`.

PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
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
TOOL_BIN  = $(BUILD)/weft-cat $(BUILD)/weftd
WEFTD_SRC = daemon/weftd.c daemon/front.c daemon/dispatch.c daemon/pool.c \
            daemon/job.c daemon/log.c daemon/config.c daemon/spawn.c

.PHONY: all test unit check-deps asan tsan valgrind bench install uninstall clean

all: $(LIB_A) $(LIB_SO) $(OUT)/libweft.so $(EXAMPLE_BIN) $(TOOL_BIN)

$(BUILD)/lib/%.o: lib/src/%.c $(HEADERS) $(wildcard lib/src/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libweft.so.$(SOVER) \
		-Wl,--no-undefined -o $@ $^ $(LDLIBS)

$(OUT)/libweft.so: $(LIB_SO)
	ln -sf libweft.so.$(SOVER) $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src $(ALL_CFLAGS) -o $@ $< $(LIB_A) -lcmocka $(LDLIBS)

# Examples build the way a user's program would: public headers only.
$(BUILD)/examples/%: examples/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/weft-cat: daemon/weft-cat.c $(LIB_A)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(BUILD)/weftd: $(WEFTD_SRC) $(wildcard daemon/*.h) $(LIB_A)
	$(CC) $(CPPFLAGS) -DWEFTD_CONF='"$(SYSCONFDIR)/weft/weftd.conf"' \
		$(ALL_CFLAGS) -o $@ $(WEFTD_SRC) $(LIB_A) -lconfuse -lsystemd $(LDLIBS)

# The benchmarks' weft echo server is the example itself.
$(BUILD)/bench/echo_weft: $(BUILD)/examples/echo
	@mkdir -p $(@D)
	cp $< $@

# Unit tests of the daemon's modules link those modules too.
$(BUILD)/tests/test_config: tests/unit/test_config.c daemon/config.c daemon/config.h tests/unit/testutil.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src -Idaemon $(ALL_CFLAGS) -o $@ $< daemon/config.c $(LIB_A) -lcmocka -lconfuse $(LDLIBS)

$(BUILD)/tests/test_spawn: tests/unit/test_spawn.c daemon/spawn.c daemon/spawn.h tests/unit/testutil.h $(LIB_A) $(EXAMPLE_BIN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src -Idaemon -DTEST_HANDLER='"$(BUILD)/examples/handlers/echo"' \
		$(ALL_CFLAGS) -o $@ $< daemon/spawn.c $(LIB_A) -lcmocka $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ilib/src $(ALL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

check-deps:
	@sh scripts/deps.sh

# Run-time dependencies first, so a fresh Debian 12 machine needs nothing else.
test: check-deps
	@$(MAKE) --no-print-directory unit-build
	@sh scripts/run-tests.sh $(UNIT_BIN) -- tests/bats

.PHONY: unit-build
unit-build: all $(UNIT_BIN)

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# and under ThreadSanitizer; each in its own build tree.
SANFLAGS = -O1 -g -fno-omit-frame-pointer
asan: check-deps
	@$(MAKE) --no-print-directory BUILD=build/asan OUT=build/asan \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		CFLAGS="$(SANFLAGS)" unit-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 WEFT_BUILD=$(CURDIR)/build/asan \
		sh scripts/run-tests.sh $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%) -- tests/bats

tsan: check-deps
	@$(MAKE) --no-print-directory BUILD=build/tsan OUT=build/tsan \
		SAN="-fsanitize=thread" CFLAGS="$(SANFLAGS)" unit-build
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 WEFT_BUILD=$(CURDIR)/build/tsan \
		sh scripts/run-tests.sh $(UNIT_SRC:tests/unit/%.c=build/tsan/tests/%) -- tests/bats

valgrind: check-deps unit-build
	@WEFT_TEST_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
		WEFT_TEST_SLOW=10 sh scripts/run-tests.sh $(UNIT_BIN)

bench: all $(BENCH_BIN)
	$(BUILD)/bench/bench_core

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/weft $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libweft.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libweft.so
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/weft/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' lib/weft.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/weft.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libweft.a $(DESTDIR)$(LIBDIR)/libweft.so \
		$(DESTDIR)$(LIBDIR)/libweft.so.$(SOVER) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/weft.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/weft

clean:
	rm -rf build lib/libweft.a lib/libweft.so lib/libweft.so.$(SOVER)
