#!/usr/bin/env bats
# make install / uninstall of libweft, and a program built against the result.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
PREFIX=/opt/weft-test

setup() {
	DEST=$(mktemp -d)
	run make -s --no-print-directory -C "$TOP" install DESTDIR="$DEST" PREFIX="$PREFIX"
	assert_success
	LIB="$DEST$PREFIX/lib"
}

teardown() {
	rm -rf "$DEST"
}

# A small program: a loop thread runs a task posted from main.
write_prog() {
	cat >"$DEST/prog.c" <<'C'
#include <semaphore.h>
#include <stdio.h>
#include <weft/weft.h>

static sem_t done;
static int ran_on_loop;

static void task(void *arg)
{
	ran_on_loop = wf_loop_on_thread(arg);
	sem_post(&done);
}

int main(void)
{
	wf_loop_thread *t;

	sem_init(&done, 0, 0);
	if (wf_loop_thread_start(&t, "prog") != 0)
		return 1;
	if (wf_loop_post(wf_loop_thread_loop(t), task, wf_loop_thread_loop(t)) != 0)
		return 2;
	sem_wait(&done);
	wf_loop_thread_free(t);
	printf("ran on loop thread: %d\n", ran_on_loop);
	return ran_on_loop ? 0 : 3;
}
C
}

@test "install puts libraries, headers and weft.pc under DESTDIR and PREFIX" {
	assert [ -f "$LIB/libweft.a" ]
	assert [ -f "$LIB/libweft.so.0" ]
	assert [ -L "$LIB/libweft.so" ]
	assert [ -f "$DEST$PREFIX/include/weft/weft.h" ]
	assert [ -f "$DEST$PREFIX/include/weft/loop.h" ]
	run cat "$LIB/pkgconfig/weft.pc"
	assert_line "prefix=$PREFIX"
	refute_output --partial "$DEST"
	refute_output --partial "@"
}

@test "install puts the manual pages, and a link for each name of a page" {
	MANDIR="$DEST$PREFIX/share/man"
	assert [ -f "$MANDIR/man3/wf_loop.3" ]
	assert [ -f "$MANDIR/man8/weftd.8" ]
	run cat "$MANDIR/man3/wf_loop_post.3"
	assert_output ".so man3/wf_loop.3"
	# man finds the function's page by the function's name.
	MANPATH="$MANDIR" run man -w wf_loop_post
	assert_success
	assert_output "$MANDIR/man3/wf_loop.3"
	MANPATH="$MANDIR" MANWIDTH=80 run man wf_loop_post
	assert_success
	assert_line --partial "wf_loop_post(wf_loop *loop, wf_task_fn *fn, void *arg);"
	# A page's own name gets no link over it.
	run cat "$MANDIR/man3/wf_loop.3"
	refute_output ".so man3/wf_loop.3"
}

@test "a program builds with pkg-config against the shared library and runs" {
	write_prog
	export PKG_CONFIG_PATH="$LIB/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
	run sh -c "cc -o '$DEST/prog' '$DEST/prog.c' \$(pkg-config --cflags --libs weft) -lpthread"
	assert_success
	LD_LIBRARY_PATH="$LIB" run "$DEST/prog"
	assert_success
	assert_output "ran on loop thread: 1"
	LD_LIBRARY_PATH="$LIB" run ldd "$DEST/prog"
	assert_output --partial "$LIB/libweft.so.0"
}

@test "a program links the static library and runs" {
	write_prog
	run cc -o "$DEST/prog-static" "$DEST/prog.c" -I"$DEST$PREFIX/include" "$LIB/libweft.a" -lpthread
	assert_success
	run "$DEST/prog-static"
	assert_success
	assert_output "ran on loop thread: 1"
}

@test "the shared library exports wf_ names only, each versioned WEFT_0" {
	# binutils prints a versioned symbol as name@@VERSION, and the version
	# node itself as an absolute (A) symbol.
	run sh -c "nm -D --defined-only '$LIB/libweft.so.0' | awk '\$2 != \"A\" {print \$3}'"
	assert_success
	assert_line "wf_loop_new@@WEFT_0"
	run sh -c "nm -D --defined-only '$LIB/libweft.so.0' | awk '\$2 != \"A\" {print \$3}' | grep -v '^wf_[a-z][a-z0-9_]*@@WEFT_0\$'"
	assert_output ""
}

@test "uninstall removes what install added, but not the configuration" {
	run make -s --no-print-directory -C "$TOP" uninstall DESTDIR="$DEST" PREFIX="$PREFIX"
	assert_success
	run find "$DEST" -type f
	assert_output "$DEST/etc/weft/weftd.conf"
}
