/* Signals through signalfd; the process's signal state is left alone. */
#include <pthread.h>

#include "testutil.h"
#include "weft/signal.h"

struct got {
	int usr1, usr2;
	pid_t pid;
	int stop_after_first;
	wf_signal *s;
};

static void
on_signal(wf_signal *s, const struct signalfd_siginfo *si, void *arg)
{
	struct got *g = arg;

	if (si->ssi_signo == SIGUSR1)
		g->usr1++;
	if (si->ssi_signo == SIGUSR2)
		g->usr2++;
	g->pid = (pid_t)si->ssi_pid;
	if (g->stop_after_first) {
		wf_signal_stop(s);
		g->s = NULL;
	}
}

static sigset_t
usr_set(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	return set;
}

/* Leave no signal pending for the next case. */
static void
drain_pending(void)
{
	sigset_t set = usr_set();
	struct timespec zero = { 0, 0 };

	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}

static void
delivers_signals_with_sender(void **state)
{
	sigset_t set = usr_set();
	wf_loop *loop = loop_new();
	struct got g = { 0 };
	wf_signal *s;

	(void)state;
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	while (g.usr1 + g.usr2 < 2)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
	assert_int_equal(g.usr1, 1);
	assert_int_equal(g.usr2, 1);
	assert_int_equal(g.pid, getpid());
	wf_signal_stop(s);
	loop_free_clean(loop);
}

static void
stop_in_callback_stops_delivery(void **state)
{
	sigset_t set = usr_set();
	wf_loop *loop = loop_new();
	struct got g = { .stop_after_first = 1 };

	(void)state;
	assert_int_equal(wf_signal_start(loop, &g.s, &set, on_signal, &g), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(kill(getpid(), SIGUSR2), 0);
	while (g.s != NULL)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(g.usr1 + g.usr2, 1);
	drain_pending();
	loop_free_clean(loop);
}

static void
mask_and_dispositions_untouched(void **state)
{
	sigset_t set = usr_set(), before, after;
	struct sigaction sa_before, sa_after;
	int sig;
	wf_loop *loop = loop_new();
	struct got g = { 0 };
	wf_signal *s;

	(void)state;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	sigaction(SIGUSR1, NULL, &sa_before);
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	wf_signal_stop(s);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	sigaction(SIGUSR1, NULL, &sa_after);
	for (sig = 1; sig < NSIG; sig++)
		assert_int_equal(sigismember(&before, sig), sigismember(&after, sig));
	assert_ptr_equal(sa_before.sa_handler, sa_after.sa_handler);
	assert_int_equal(wf_signal_start(loop, &s, NULL, on_signal, &g), -EINVAL);
	loop_free_clean(loop);
}

/*
 * A signal not blocked would take its default action (SIGTERM: the process
 * dies) and never reach the watcher: refused. It returned 0 before.
 */
static void
unblocked_signal_is_refused(void **state)
{
	sigset_t set;
	wf_loop *loop = loop_new();
	struct got g = { 0 };
	wf_signal *s;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM); /* not blocked by main() */
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), -EINVAL);
	assert_null(s);
	sigemptyset(&set);
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), -EINVAL);
	loop_free_clean(loop);
}

/*
 * The common "block everything, watch everything": SIGKILL and SIGSTOP are
 * in the full set but can never be blocked; they do not count against it.
 * It was refused before.
 */
static void
full_set_with_everything_blocked_is_taken(void **state)
{
	sigset_t set, old;
	wf_loop *loop = loop_new();
	struct got g = { 0 };
	wf_signal *s;

	(void)state;
	sigfillset(&set);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), 0);
	wf_signal_stop(s);
	sigemptyset(&set);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &g), -EINVAL);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	loop_free_clean(loop);
}

/* The arg can be replaced; the next signal sees the new one. */
static void
set_arg_reaches_the_next_callback(void **state)
{
	sigset_t set = usr_set();
	wf_loop *loop = loop_new();
	struct got first = { 0 }, second = { 0 };
	wf_signal *s;

	(void)state;
	assert_int_equal(wf_signal_start(loop, &s, &set, on_signal, &first), 0);
	assert_ptr_equal(wf_signal_arg(s), &first);
	wf_signal_set_arg(s, &second);
	assert_ptr_equal(wf_signal_arg(s), &second);
	kill(getpid(), SIGUSR2);
	while (second.usr2 == 0)
		assert_int_equal(wf_loop_run_once(loop, 1000), 0);
	assert_int_equal(first.usr2, 0);
	wf_signal_stop(s);
	drain_pending();
	loop_free_clean(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(unblocked_signal_is_refused),
		CASE(full_set_with_everything_blocked_is_taken),
		CASE(set_arg_reaches_the_next_callback),
		CASE(delivers_signals_with_sender),
		CASE(stop_in_callback_stops_delivery),
		CASE(mask_and_dispositions_untouched),
	};
	sigset_t set = usr_set();

	/* The caller's duty, as weft/signal.h says: block before watching. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	RUN("signal", cases);
}
