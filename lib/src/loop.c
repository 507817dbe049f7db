/*
 * The loop: creation, teardown and the iteration that ties the poller,
 * watchers, timers and tasks together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop_int.h"

/* The loop this thread is running, for wf_loop_on_thread(). */
static _Thread_local wf_loop *running;

uint64_t
wf__clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
wf_loop_new(wf_loop **loopp)
{
	wf_loop *loop;
	int rc;

	*loopp = NULL;
	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return -ENOMEM;
	loop->efd = -1;
	if ((loop->epfd = wf__poll_open()) < 0) {
		rc = loop->epfd;
		free(loop);
		return rc;
	}
	loop->now = wf__clock_ns();
	if ((rc = wf__task_init(loop)) < 0) {
		wf__io_release_all(loop);
		close(loop->epfd);
		free(loop->fdtab);
		free(loop);
		return rc;
	}
	*loopp = loop;
	return 0;
}

/* Enter and leave "running on this thread". Nesting another loop is fine. */
static wf_loop *
enter(wf_loop *loop)
{
	wf_loop *prev = running;

	running = loop;
	loop->depth++;
	return prev;
}

static void
leave(wf_loop *loop, wf_loop *prev)
{
	loop->depth--;
	running = prev;
}

void
wf__loop_close(wf_loop *loop)
{
	wf_loop *prev = enter(loop);

	wf__task_close(loop);
	leave(loop, prev);
}

void
wf_loop_free(wf_loop *loop)
{
	if (loop == NULL)
		return;
	wf__loop_close(loop);
	wf__timer_release_all(loop);
	wf__io_release_all(loop);
	wf__task_release(loop);
	close(loop->epfd);
	free(loop->fdtab);
	free(loop);
}

static void
iterate(wf_loop *loop, int timeout_ms)
{
	int n, t;

	if (loop->heap_len) {
		loop->now = wf__clock_ns();
		t = wf__timer_timeout(loop);
		if (timeout_ms < 0 || t < timeout_ms)
			timeout_ms = t;
	}
	if (timeout_ms != 0) {
		/* Announce the sleep, then look once more: see task.c. */
		atomic_store(&loop->sleeping, 1);
		if (atomic_load(&loop->queued) || atomic_load(&loop->stop))
			timeout_ms = 0;
	}
	n = wf__poll_wait(loop->epfd, loop->fired, WF__MAX_EVENTS, timeout_ms);
	atomic_store_explicit(&loop->sleeping, 0, memory_order_relaxed);
	loop->now = wf__clock_ns();
	if (n < 0) {
		/* Only EINTR is expected (a debugger, SIGSTOP/SIGCONT). */
		if (n != -EINTR)
			wf__log(WF_LOG_ERR, "epoll_wait(%d): %s", loop->epfd,
			    strerror(-n));
		n = 0;
	}
	wf__io_dispatch(loop, n);
	wf__task_run(loop);
	wf__timer_run(loop);
	wf__io_release_dead(loop);
}

int
wf_loop_run_once(wf_loop *loop, int timeout_ms)
{
	wf_loop *prev;

	if (loop->depth)
		return -EBUSY;
	prev = enter(loop);
	iterate(loop, timeout_ms);
	leave(loop, prev);
	return 0;
}

int
wf_loop_run(wf_loop *loop)
{
	wf_loop *prev;

	if (loop->depth)
		return -EBUSY;
	prev = enter(loop);
	while (!atomic_exchange_explicit(&loop->stop, 0, memory_order_acquire))
		iterate(loop, -1);
	wf__task_drain(loop);
	/* A stop asked for by a drained task belongs to this run. */
	atomic_store_explicit(&loop->stop, 0, memory_order_relaxed);
	wf__io_release_dead(loop);
	leave(loop, prev);
	return 0;
}

void
wf_loop_stop(wf_loop *loop)
{
	atomic_store(&loop->stop, 1);
	wf__task_wake(loop);
}

uint64_t
wf_loop_now_ns(const wf_loop *loop)
{
	return loop->now;
}

uint64_t
wf_loop_now(const wf_loop *loop)
{
	return loop->now / WF__NSEC_PER_MSEC;
}

void
wf_loop_update_time(wf_loop *loop)
{
	loop->now = wf__clock_ns();
}

bool
wf_loop_on_thread(const wf_loop *loop)
{
	return running == loop;
}

int
wf_loop_call(wf_loop *loop, wf_task_fn *fn, void *arg)
{
	if (running != loop)
		return wf_loop_post(loop, fn, arg);
	fn(arg);
	return 0;
}
