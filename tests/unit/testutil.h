/*
 * Shared by the unit tests: cmocka plus a per-case timeout, and helpers
 * that check a loop winds down clean. Header-only: each test is one file.
 */
#ifndef WEFT_TESTUTIL_H
#define WEFT_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_int.h"

#define CASE_TIMEOUT_S 20

static const char *current_case = "?";

static void
on_alarm(int sig)
{
	static const char msg[] = "# case timed out: ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current_case, strlen(current_case));
	(void)!write(2, "\n", 1);
	_exit(124);
}

static int
case_setup(void **state)
{
	const char *slow = getenv("WEFT_TEST_SLOW");
	unsigned mult = slow ? (unsigned)atoi(slow) : 1;

	current_case = *state;
	*state = NULL;
	alarm(CASE_TIMEOUT_S * (mult ? mult : 1));
	return 0;
}

static int
case_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

/* The case's name rides in as its initial state, for the timeout message. */
#define CASE(fn) { #fn, fn, case_setup, case_teardown, (void *)#fn }

/* The test program, not the library, owns SIGALRM. */
#define RUN(name, cases)                                                  \
	do {                                                              \
		signal(SIGALRM, on_alarm);                                \
		return cmocka_run_group_tests_name(name, cases, NULL, NULL); \
	} while (0)

/* Nothing of the caller's is left on the loop: only its own eventfd. */
static __attribute__((unused)) void
assert_loop_clean(wf_loop *loop)
{
	assert_int_equal(loop->depth, 0);
	assert_true(LIST_EMPTY(&loop->dead));
	assert_non_null(LIST_FIRST(&loop->ios));
	assert_null(LIST_NEXT(LIST_FIRST(&loop->ios), link));
	assert_int_equal(LIST_FIRST(&loop->ios)->fd, loop->efd);
	assert_int_equal(loop->heap_len, 0);
	assert_true(LIST_EMPTY(&loop->timers));
	assert_int_equal(loop->qin.len, 0);
}

static __attribute__((unused)) wf_loop *
loop_new(void)
{
	wf_loop *loop;

	assert_int_equal(wf_loop_new(&loop), 0);
	return loop;
}

static __attribute__((unused)) void
loop_free_clean(wf_loop *loop)
{
	assert_loop_clean(loop);
	wf_loop_free(loop);
}

#endif
