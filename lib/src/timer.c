/*
 * Timers: a 4-ary min-heap ordered by (deadline, start sequence). Four
 * children share one or two cache lines and the tree is half as deep as a
 * binary heap, which matters because every level a timer moves through
 * also writes its slot index into the timer (a cache miss of its own).
 *
 * The sequence number keeps equal deadlines in start order and bounds each
 * run: a timer (re)started while timers are being run gets a sequence number
 * past the run's limit, so a callback that restarts its timer with 0 delay
 * fires it on the next iteration, not in an endless loop now.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "loop_int.h"

#define NOT_ARMED SIZE_MAX
#define ARITY 4

struct wf_timer {
	wf_loop *loop;
	wf_timer_cb *cb;
	void *arg;
	uint64_t repeat; /* ns; 0: one-shot */
	uint64_t seq;
	size_t idx;      /* heap slot, or NOT_ARMED */
	int free_after_cb;
	void (*on_release)(void *arg); /* library-owned: wf_loop_free cleans up */
	LIST_ENTRY(wf_timer) link; /* loop->timers: every timer, for wf_loop_free */
};

static int
before(const struct wf__heap_ent *a, const struct wf__heap_ent *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->t->seq < b->t->seq;
}

static void
place(wf_loop *loop, size_t i, struct wf__heap_ent e)
{
	loop->heap[i] = e;
	e.t->idx = i;
}

static void
sift_up(wf_loop *loop, size_t i, struct wf__heap_ent e)
{
	while (i > 0) {
		size_t p = (i - 1) / ARITY;

		if (!before(&e, &loop->heap[p]))
			break;
		place(loop, i, loop->heap[p]);
		i = p;
	}
	place(loop, i, e);
}

static void
sift_down(wf_loop *loop, size_t i, struct wf__heap_ent e)
{
	size_t n = loop->heap_len;

	for (;;) {
		size_t first = ARITY * i + 1, c = first, k;

		if (first >= n)
			break;
		for (k = first + 1; k < first + ARITY && k < n; k++)
			if (before(&loop->heap[k], &loop->heap[c]))
				c = k;
		if (!before(&loop->heap[c], &e))
			break;
		place(loop, i, loop->heap[c]);
		i = c;
	}
	place(loop, i, e);
}

static void
heap_remove(wf_loop *loop, wf_timer *t)
{
	size_t i = t->idx;
	struct wf__heap_ent last = loop->heap[--loop->heap_len];

	t->idx = NOT_ARMED;
	/* Give back the memory of a burst (a million timers is 16 MiB). */
	if (loop->heap_cap > 1024 && loop->heap_len < loop->heap_cap / 4) {
		struct wf__heap_ent *h;

		h = realloc(loop->heap, loop->heap_cap / 2 * sizeof(*h));
		if (h) {
			loop->heap = h;
			loop->heap_cap /= 2;
		}
	}
	if (i == loop->heap_len)
		return;
	if (i > 0 && before(&last, &loop->heap[(i - 1) / ARITY]))
		sift_up(loop, i, last);
	else
		sift_down(loop, i, last);
}

/* Arm at an absolute deadline. Never fails when t was just removed. */
static int
arm(wf_timer *t, uint64_t when)
{
	wf_loop *loop = t->loop;
	struct wf__heap_ent e = { when, t };

	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		struct wf__heap_ent *h;

		if ((h = realloc(loop->heap, cap * sizeof(*h))) == NULL)
			return -ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	t->seq = loop->timer_seq++;
	loop->heap_len++;
	sift_up(loop, loop->heap_len - 1, e);
	return 0;
}

int
wf_timer_new(wf_loop *loop, wf_timer **tp, wf_timer_cb *cb, void *arg)
{
	wf_timer *t;

	*tp = NULL;
	if (cb == NULL)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->idx = NOT_ARMED;
	LIST_INSERT_HEAD(&loop->timers, t, link);
	*tp = t;
	return 0;
}

static uint64_t
ms_to_ns(uint64_t ms)
{
	return ms > UINT64_MAX / WF__NSEC_PER_MSEC / 2 ?
	    UINT64_MAX / 2 : ms * WF__NSEC_PER_MSEC;
}

int
wf_timer_start(wf_timer *t, uint64_t after_ms, uint64_t repeat_ms)
{
	wf_loop *loop = t->loop;

	/* Outside a callback the cached time may be old: never fire early. */
	if (loop->depth == 0)
		loop->now = wf__clock_ns();
	wf_timer_stop(t);
	t->repeat = ms_to_ns(repeat_ms);
	return arm(t, loop->now + ms_to_ns(after_ms));
}

void
wf_timer_stop(wf_timer *t)
{
	if (t != NULL && t->idx != NOT_ARMED)
		heap_remove(t->loop, t);
}

void
wf_timer_free(wf_timer *t)
{
	if (t == NULL)
		return;
	wf_timer_stop(t);
	LIST_REMOVE(t, link);
	if (t->loop->timer_firing == t)
		t->free_after_cb = 1;
	else
		free(t);
}

bool
wf_timer_active(const wf_timer *t)
{
	return t->idx != NOT_ARMED;
}

void
wf__timer_on_release(wf_timer *t, void (*fn)(void *arg))
{
	t->on_release = fn;
}

void *
wf_timer_arg(const wf_timer *t)
{
	return t->arg;
}

void
wf_timer_set_arg(wf_timer *t, void *arg)
{
	t->arg = arg;
}

int
wf__timer_timeout(const wf_loop *loop)
{
	uint64_t when, ms;

	if (loop->heap_len == 0)
		return -1;
	when = loop->heap[0].when;
	if (when <= loop->now)
		return 0;
	/* Round up: epoll_wait's millisecond must not wake us early. */
	ms = (when - loop->now + WF__NSEC_PER_MSEC - 1) / WF__NSEC_PER_MSEC;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void
wf__timer_run(wf_loop *loop)
{
	uint64_t limit = loop->timer_seq;

	while (loop->heap_len) {
		wf_timer *t = loop->heap[0].t;
		uint64_t when = loop->heap[0].when;

		if (when > loop->now || t->seq >= limit)
			break;
		heap_remove(loop, t);
		/*
		 * Re-arm before the callback so that stop, restart and free
		 * inside it need no special case. Keep the period's phase;
		 * skip periods missed while the loop was busy.
		 */
		if (t->repeat) {
			when += t->repeat;
			if (when <= loop->now)
				when = loop->now + t->repeat;
			(void)arm(t, when);
		}
		loop->timer_firing = t;
		t->cb(t, t->arg);
		loop->timer_firing = NULL;
		if (t->free_after_cb)
			free(t);
	}
}

void
wf__timer_release_all(wf_loop *loop)
{
	wf_timer *t;

	while ((t = LIST_FIRST(&loop->timers)) != NULL) {
		LIST_REMOVE(t, link);
		if (t->on_release)
			t->on_release(t->arg);
		free(t);
	}
	free(loop->heap);
	loop->heap = NULL;
	loop->heap_len = loop->heap_cap = 0;
}
