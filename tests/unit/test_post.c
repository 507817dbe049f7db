/* Cross-thread tasks: exactly once, FIFO per thread, one wake per burst. */
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>

#include "testutil.h"
#include "weft/thread.h"

enum { PRODUCERS = 4, PER_PRODUCER = 250000 };

struct fanin {
	wf_loop *loop;
	long next[PRODUCERS]; /* the sequence number each producer is due */
	long total;
	long out_of_order;
};

/* arg carries (producer, sequence), so the state is reached globally. */
static struct fanin *fanin_state;

struct producer {
	struct fanin *f;
	unsigned id;
};

static void
on_fanin(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	struct fanin *f;
	unsigned id = (unsigned)(v >> 32);
	long seq = (long)(v & 0xffffffffu);

	f = fanin_state;
	if (f->next[id] != seq)
		f->out_of_order++;
	f->next[id] = seq + 1;
	if (++f->total == (long)PRODUCERS * PER_PRODUCER)
		wf_loop_stop(f->loop);
}

static void *
produce(void *arg)
{
	struct producer *p = arg;
	long i;

	for (i = 0; i < PER_PRODUCER; i++) {
		uintptr_t v = ((uintptr_t)p->id << 32) | (uintptr_t)i;

		if (wf_loop_post(p->f->loop, on_fanin, (void *)v) != 0)
			abort();
	}
	return NULL;
}

static void
four_threads_post_a_million(void **state)
{
	struct fanin f = { 0 };
	struct producer p[PRODUCERS];
	pthread_t th[PRODUCERS];
	unsigned i;

	(void)state;
	f.loop = loop_new();
	fanin_state = &f;
	for (i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ &f, i };
		assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	assert_int_equal(wf_loop_run(f.loop), 0);
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(f.out_of_order, 0);
	for (i = 0; i < PRODUCERS; i++)
		assert_int_equal(f.next[i], PER_PRODUCER);
	assert_int_equal(f.total, (long)PRODUCERS * PER_PRODUCER);
	/* Batching: far fewer wakeups than tasks. */
	assert_true(atomic_load(&f.loop->wakes) < (unsigned long)f.total / 4);
	loop_free_clean(f.loop);
}

static void
on_count(void *arg)
{
	(*(int *)arg)++;
}

static int
nothing_ready(wf_loop *loop)
{
	struct epoll_event ev;

	return epoll_wait(loop->epfd, &ev, 1, 0) == 0;
}

struct burst {
	wf_loop *loop;
	int ran;
};

static void *
burst_when_asleep(void *arg)
{
	struct burst *b = arg;
	int i;

	/* Readiness, not a sleep: wait until the loop announces its sleep. */
	while (!atomic_load(&b->loop->sleeping))
		sched_yield();
	for (i = 0; i < 1000; i++)
		if (wf_loop_post(b->loop, on_count, &b->ran) != 0)
			abort();
	return NULL;
}

static void
burst_costs_one_wake(void **state)
{
	struct burst b = { loop_new(), 0 };
	unsigned long w0 = atomic_load(&b.loop->wakes);
	pthread_t th;
	int i;

	(void)state;
	/* A loop that is not asleep is never written to. */
	for (i = 0; i < 1000; i++)
		assert_int_equal(wf_loop_post(b.loop, on_count, &b.ran), 0);
	assert_int_equal(atomic_load(&b.loop->wakes) - w0, 0);
	assert_int_equal(wf_loop_run_once(b.loop, 0), 0);
	assert_int_equal(b.ran, 1000);

	/* A burst at a sleeping loop: one write, one wakeup. */
	assert_int_equal(pthread_create(&th, NULL, burst_when_asleep, &b), 0);
	assert_int_equal(wf_loop_run_once(b.loop, -1), 0);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&b.loop->wakes) - w0, 1);
	assert_int_equal(wf_loop_run_once(b.loop, 0), 0);
	assert_int_equal(b.ran, 2000);
	assert_true(nothing_ready(b.loop));
	assert_int_equal(atomic_load(&b.loop->wakes) - w0, 1);
	loop_free_clean(b.loop);
}

struct chain {
	wf_loop *loop;
	int n;
};

static void
on_chain(void *arg)
{
	struct chain *c = arg;

	if (++c->n < 3)
		assert_int_equal(wf_loop_post(c->loop, on_chain, c), 0);
}

/* Stopped with tasks queued: run runs them all, and what they post. */
static void
stop_runs_pending_tasks(void **state)
{
	wf_loop *loop = loop_new();
	struct chain c = { loop, 0 };
	int i, ran = 0;

	(void)state;
	for (i = 0; i < 500; i++)
		assert_int_equal(wf_loop_post(loop, on_count, &ran), 0);
	assert_int_equal(wf_loop_post(loop, on_chain, &c), 0);
	wf_loop_stop(loop);
	assert_int_equal(wf_loop_run(loop), 0);
	assert_int_equal(ran, 500);
	assert_int_equal(c.n, 3);
	loop_free_clean(loop);
}

static void
on_never(void *arg)
{
	(void)arg;
	fail();
}

static void
post_after_loop_thread_exit_fails_cleanly(void **state)
{
	wf_loop_thread *t;
	wf_loop *loop;
	int ran = 0;

	(void)state;
	assert_int_equal(wf_loop_thread_start(&t, "post-test"), 0);
	loop = wf_loop_thread_loop(t);
	assert_int_equal(wf_loop_post(loop, on_count, &ran), 0);
	wf_loop_thread_stop(t);
	assert_int_equal(wf_loop_thread_join(t), 0);
	assert_int_equal(ran, 1); /* posted before the stop: it ran */
	assert_int_equal(wf_loop_post(loop, on_never, NULL), -ESHUTDOWN);
	assert_int_equal(wf_loop_call(loop, on_never, NULL), -ESHUTDOWN);
	assert_int_equal(wf_loop_post(loop, NULL, NULL), -EINVAL);
	wf_loop_thread_free(t);
}

static void
free_runs_queued_tasks(void **state)
{
	wf_loop *loop = loop_new();
	int ran = 0;

	(void)state;
	assert_int_equal(wf_loop_post(loop, on_count, &ran), 0);
	assert_int_equal(wf_loop_post(loop, on_count, &ran), 0);
	wf_loop_free(loop);
	assert_int_equal(ran, 2);
}

struct inline_call {
	wf_loop *loop;
	int ran, ran_before_return;
};

static void
on_inline_inner(void *arg)
{
	((struct inline_call *)arg)->ran++;
}

static void
on_inline_outer(void *arg)
{
	struct inline_call *c = arg;

	assert_true(wf_loop_on_thread(c->loop));
	assert_int_equal(wf_loop_call(c->loop, on_inline_inner, c), 0);
	c->ran_before_return = c->ran;
}

static void
call_runs_inline_only_on_loop_thread(void **state)
{
	struct inline_call c = { 0 };

	(void)state;
	c.loop = loop_new();
	/* Not on the loop thread: queued, not run. */
	assert_int_equal(wf_loop_call(c.loop, on_inline_inner, &c), 0);
	assert_int_equal(c.ran, 0);
	assert_int_equal(wf_loop_post(c.loop, on_inline_outer, &c), 0);
	assert_int_equal(wf_loop_run_once(c.loop, 0), 0);
	assert_int_equal(c.ran, 2);
	assert_int_equal(c.ran_before_return, 2);
	loop_free_clean(c.loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(four_threads_post_a_million),
		CASE(burst_costs_one_wake),
		CASE(stop_runs_pending_tasks),
		CASE(post_after_loop_thread_exit_fails_cleanly),
		CASE(free_runs_queued_tasks),
		CASE(call_runs_inline_only_on_loop_thread),
	};

	RUN("post", cases);
}
