/* Timers: order, repeat, cancel, self-cancel, bounds, scale. */
#include <pthread.h>
#include <time.h>

#include "testutil.h"
#include "weft/timer.h"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct rec {
	int n, max;
	int *order;
};

struct tinfo {
	struct rec *rec;
	int id;
	uint64_t after;          /* ms */
	uint64_t lo, hi;         /* clock just before and after the start */
	uint64_t fired;
	int calls;
	int cancelled;
	wf_timer *t;
};

static void
on_record(wf_timer *t, void *arg)
{
	struct tinfo *ti = arg;

	(void)t;
	ti->calls++;
	ti->fired = mono_ms();
	if (ti->rec->n < ti->rec->max)
		ti->rec->order[ti->rec->n++] = ti->id;
}

static void
start_rec(struct tinfo *ti)
{
	ti->lo = mono_ms();
	assert_int_equal(wf_timer_start(ti->t, ti->after, 0), 0);
	ti->hi = mono_ms();
}

/* p fired before a: p's deadline cannot be later than a's. */
static void
assert_fired_in_order(const struct tinfo *p, const struct tinfo *a)
{
	assert_true(p->lo + p->after <= a->hi + a->after);
}

static void
run_until(wf_loop *loop, const int *n, int want)
{
	while (*n < want)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
}

/* Random deadlines, shuffled start order: they fire sorted, never early. */
static void
fire_in_deadline_order(void **state)
{
	enum { N = 2000 };
	wf_loop *loop = loop_new();
	struct tinfo *ti = calloc(N, sizeof(*ti));
	struct rec rec = { 0, N, calloc(N, sizeof(int)) };
	int i;

	(void)state;
	srand(42);
	for (i = 0; i < N; i++) {
		ti[i] = (struct tinfo){ .rec = &rec, .id = i,
		    .after = (uint64_t)(rand() % 40) };
		assert_int_equal(wf_timer_new(loop, &ti[i].t, on_record, &ti[i]), 0);
		start_rec(&ti[i]);
	}
	run_until(loop, &rec.n, N);
	for (i = 0; i < N; i++) {
		struct tinfo *a = &ti[rec.order[i]];

		assert_int_equal(a->calls, 1);
		assert_true(a->fired >= a->lo + a->after); /* never early */
		if (i > 0)
			assert_fired_in_order(&ti[rec.order[i - 1]], a);
		assert_false(wf_timer_active(a->t));
		wf_timer_free(a->t);
	}
	free(ti);
	free(rec.order);
	loop_free_clean(loop);
}

struct ties {
	struct tinfo ti[100];
	int order[100];
	struct rec rec;
};

/* Inside a callback the loop time is fixed: every deadline is equal. */
static void
task_start_reversed(void *arg)
{
	struct ties *x = arg;
	int i;

	for (i = 99; i >= 0; i--)
		assert_int_equal(wf_timer_start(x->ti[i].t, 0, 0), 0);
}

static void
equal_deadlines_fire_in_start_order(void **state)
{
	wf_loop *loop = loop_new();
	struct ties *x = calloc(1, sizeof(*x));
	int i;

	(void)state;
	x->rec = (struct rec){ 0, 100, x->order };
	for (i = 0; i < 100; i++) {
		x->ti[i] = (struct tinfo){ .rec = &x->rec, .id = i };
		assert_int_equal(wf_timer_new(loop, &x->ti[i].t, on_record,
		    &x->ti[i]), 0);
	}
	assert_int_equal(wf_loop_post(loop, task_start_reversed, x), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(x->rec.n, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(x->order[i], 99 - i);
		wf_timer_free(x->ti[i].t);
	}
	free(x);
	loop_free_clean(loop);
}

struct rep {
	int calls, stop_at;
	uint64_t first, last;
};

static void
on_repeat(wf_timer *t, void *arg)
{
	struct rep *r = arg;

	r->last = mono_ms();
	if (r->calls++ == 0)
		r->first = r->last;
	assert_true(wf_timer_active(t)); /* re-armed before the callback */
	if (r->calls == r->stop_at)
		wf_timer_stop(t);
}

static void
repeat_until_stopped_in_callback(void **state)
{
	wf_loop *loop = loop_new();
	struct rep r = { .stop_at = 5 };
	uint64_t t0 = mono_ms();
	wf_timer *t;

	(void)state;
	assert_int_equal(wf_timer_new(loop, &t, on_repeat, &r), 0);
	assert_int_equal(wf_timer_start(t, 10, 5), 0);
	run_until(loop, &r.calls, 5);
	assert_false(wf_timer_active(t));
	assert_true(r.first >= t0 + 10);
	/*
	 * The period keeps its phase: after a late first fire the next ones
	 * may come sooner than a period after it, but none before its own
	 * deadline, so the fifth is at t0 + 10 + 4 * 5 or later.
	 */
	assert_true(r.last >= t0 + 10 + 4 * 5);
	/* Stopped means stopped: nothing more fires. */
	assert_int_equal(wf_loop_run_once(loop, 20), 0);
	assert_int_equal(r.calls, 5);
	wf_timer_free(t);
	loop_free_clean(loop);
}

static void
on_self_free(wf_timer *t, void *arg)
{
	(*(int *)arg)++;
	wf_timer_free(t);
}

static void
free_in_own_callback(void **state)
{
	wf_loop *loop = loop_new();
	wf_timer *t;
	int calls = 0;

	(void)state;
	assert_int_equal(wf_timer_new(loop, &t, on_self_free, &calls), 0);
	assert_int_equal(wf_timer_start(t, 0, 1), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 5), 0);
	assert_int_equal(calls, 1);
	loop_free_clean(loop);
}

struct pair {
	wf_timer *a, *b;
	int a_calls, b_calls;
};

static void
on_a_cancels_b(wf_timer *t, void *arg)
{
	struct pair *p = arg;

	(void)t;
	p->a_calls++;
	wf_timer_free(p->b);
	p->b = NULL;
}

static void
on_b(wf_timer *t, void *arg)
{
	(void)t;
	((struct pair *)arg)->b_calls++;
}

static void
cancel_other_timer_due_in_same_run(void **state)
{
	wf_loop *loop = loop_new();
	struct pair p = { 0 };

	(void)state;
	assert_int_equal(wf_timer_new(loop, &p.a, on_a_cancels_b, &p), 0);
	assert_int_equal(wf_timer_new(loop, &p.b, on_b, &p), 0);
	assert_int_equal(wf_timer_start(p.a, 0, 0), 0);
	assert_int_equal(wf_timer_start(p.b, 0, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(p.a_calls, 1);
	assert_int_equal(p.b_calls, 0);
	wf_timer_free(p.a);
	loop_free_clean(loop);
}

static void
stop_before_due_never_fires(void **state)
{
	wf_loop *loop = loop_new();
	struct pair p = { 0 };

	(void)state;
	assert_int_equal(wf_timer_new(loop, &p.a, on_b, &p), 0);
	assert_int_equal(wf_timer_new(loop, &p.b, on_b, &p), 0);
	assert_int_equal(wf_timer_start(p.a, 5, 0), 0);
	assert_int_equal(wf_timer_start(p.b, 10, 0), 0);
	wf_timer_stop(p.a);
	wf_timer_stop(p.a); /* twice is fine */
	run_until(loop, &p.b_calls, 1);
	assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(p.b_calls, 1);
	wf_timer_free(p.a);
	wf_timer_free(p.b);
	loop_free_clean(loop);
}

static void
on_restart_zero(wf_timer *t, void *arg)
{
	(*(int *)arg)++;
	assert_int_equal(wf_timer_start(t, 0, 0), 0);
}

/* A callback that restarts itself at 0 ms fires once per iteration. */
static void
restart_in_callback_is_bounded(void **state)
{
	wf_loop *loop = loop_new();
	wf_timer *t;
	int calls = 0;

	(void)state;
	assert_int_equal(wf_timer_new(loop, &t, on_restart_zero, &calls), 0);
	assert_int_equal(wf_timer_start(t, 0, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(calls, 2);
	wf_timer_free(t);
	loop_free_clean(loop);
}

static void
on_count(wf_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
}

/* run_once(-1) with no fds must wake for the timer: timeout from the heap. */
static void
restart_moves_deadline_and_poll_wakes_for_timer(void **state)
{
	wf_loop *loop = loop_new();
	uint64_t t0 = mono_ms();
	wf_timer *t;
	int calls = 0;

	(void)state;
	assert_int_equal(wf_timer_new(loop, &t, on_count, &calls), 0);
	assert_int_equal(wf_timer_start(t, 5, 0), 0);
	assert_int_equal(wf_timer_start(t, 30, 0), 0);
	assert_true(wf_timer_active(t));
	while (calls == 0)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
	assert_true(mono_ms() >= t0 + 30);
	assert_int_equal(calls, 1);
	wf_timer_free(t);
	loop_free_clean(loop);
}

/* Many timers with random cancels: the heap keeps its order. */
static void
many_timers_with_cancels(void **state)
{
	enum { N = 200000 };
	wf_loop *loop = loop_new();
	struct tinfo *ti = calloc(N, sizeof(*ti));
	struct rec rec = { 0, N, calloc(N, sizeof(int)) };
	int i, live = 0;

	(void)state;
	srand(7);
	for (i = 0; i < N; i++) {
		ti[i] = (struct tinfo){ .rec = &rec, .id = i,
		    .after = (uint64_t)(rand() % 30) };
		assert_int_equal(wf_timer_new(loop, &ti[i].t, on_record, &ti[i]), 0);
		start_rec(&ti[i]);
	}
	for (i = 0; i < N; i++) {
		if (rand() % 3 == 0) {
			ti[i].cancelled = 1;
			wf_timer_stop(ti[i].t);
		} else
			live++;
	}
	run_until(loop, &rec.n, live);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(rec.n, live);
	for (i = 0; i < live; i++) {
		assert_false(ti[rec.order[i]].cancelled);
		if (i > 0)
			assert_fired_in_order(&ti[rec.order[i - 1]],
			    &ti[rec.order[i]]);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(ti[i].calls, ti[i].cancelled ? 0 : 1);
		wf_timer_free(ti[i].t);
	}
	free(ti);
	free(rec.order);
	loop_free_clean(loop);
}

/* Timers added and cancelled from another thread, through wf_loop_post. */
struct xthread {
	wf_loop *loop;
	wf_timer *keep, *cancel;
	int keep_calls, cancel_calls;
	int post_rc, call_rc;
};

static void
on_keep(wf_timer *t, void *arg)
{
	struct xthread *x = arg;

	(void)t;
	x->keep_calls++;
	wf_loop_stop(x->loop);
}

static void
on_cancelled(wf_timer *t, void *arg)
{
	(void)t;
	((struct xthread *)arg)->cancel_calls++;
}

static void
task_add(void *arg)
{
	struct xthread *x = arg;

	assert_true(wf_loop_on_thread(x->loop));
	assert_int_equal(wf_timer_new(x->loop, &x->keep, on_keep, x), 0);
	assert_int_equal(wf_timer_new(x->loop, &x->cancel, on_cancelled, x), 0);
	assert_int_equal(wf_timer_start(x->cancel, 10, 0), 0);
	assert_int_equal(wf_timer_start(x->keep, 20, 0), 0);
}

static void
task_cancel(void *arg)
{
	struct xthread *x = arg;

	wf_timer_free(x->cancel);
	x->cancel = NULL;
}

/* Not the main thread: no cmocka asserts here, report through x. */
static void *
poster(void *arg)
{
	struct xthread *x = arg;

	x->post_rc = wf_loop_post(x->loop, task_add, x);
	x->call_rc = wf_loop_call(x->loop, task_cancel, x);
	return NULL;
}

static void
timers_from_other_threads(void **state)
{
	struct xthread x = { 0 };
	pthread_t th;

	(void)state;
	x.loop = loop_new();
	assert_int_equal(pthread_create(&th, NULL, poster, &x), 0);
	assert_int_equal(wf_loop_run(x.loop), 0);
	pthread_join(th, NULL);
	assert_int_equal(x.post_rc, 0);
	assert_int_equal(x.call_rc, 0);
	assert_int_equal(x.keep_calls, 1);
	assert_int_equal(x.cancel_calls, 0);
	assert_null(x.cancel);
	wf_timer_free(x.keep);
	loop_free_clean(x.loop);
}

static void
count_into_arg(wf_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
}

static void
count_io_into_arg(wf_io *io, int fd, unsigned events, void *arg)
{
	char c;

	(void)io;
	(void)events;
	assert_int_equal(read(fd, &c, 1), 1);
	(*(int *)arg)++;
}

/* Timers and fd watchers carry user data that can be replaced. */
static void
set_arg_reaches_the_next_callback(void **state)
{
	wf_loop *loop = loop_new();
	int first = 0, second = 0, p[2];
	wf_timer *t;
	wf_io *io;

	(void)state;
	assert_int_equal(wf_timer_new(loop, &t, count_into_arg, &first), 0);
	assert_ptr_equal(wf_timer_arg(t), &first);
	assert_int_equal(wf_timer_start(t, 0, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 1000), 0);
	wf_timer_set_arg(t, &second);
	assert_ptr_equal(wf_timer_arg(t), &second);
	assert_int_equal(wf_timer_start(t, 0, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 1000), 0);
	assert_int_equal(first, 1);
	assert_int_equal(second, 1);
	wf_timer_free(t);

	first = second = 0;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(wf_io_start(loop, &io, p[0], WF_READ, count_io_into_arg,
	    &first), 0);
	assert_ptr_equal(wf_io_arg(io), &first);
	wf_io_set_arg(io, &second);
	assert_ptr_equal(wf_io_arg(io), &second);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(wf_loop_run_once(loop, 1000), 0);
	assert_int_equal(first, 0);
	assert_int_equal(second, 1);
	wf_io_stop(io);
	close(p[0]);
	close(p[1]);
	loop_free_clean(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(set_arg_reaches_the_next_callback),
		CASE(fire_in_deadline_order),
		CASE(equal_deadlines_fire_in_start_order),
		CASE(repeat_until_stopped_in_callback),
		CASE(free_in_own_callback),
		CASE(cancel_other_timer_due_in_same_run),
		CASE(stop_before_due_never_fires),
		CASE(restart_in_callback_is_bounded),
		CASE(restart_moves_deadline_and_poll_wakes_for_timer),
		CASE(many_timers_with_cancels),
		CASE(timers_from_other_threads),
	};

	RUN("timer", cases);
}
