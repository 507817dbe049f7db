/* Loop threads and groups. */
#include <pthread.h>
#include <semaphore.h>

#include "testutil.h"
#include "weft/thread.h"

/* What a task saw on the loop thread; done is posted when it has run. */
struct seen {
	wf_loop *loop;
	sem_t done;
	pthread_t self;
	int on_thread;
	int sigterm_blocked;
	char name[16];
};

static void
on_look(void *arg)
{
	struct seen *s = arg;
	sigset_t mask;

	s->self = pthread_self();
	s->on_thread = wf_loop_on_thread(s->loop);
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	s->sigterm_blocked = sigismember(&mask, SIGTERM);
	pthread_getname_np(pthread_self(), s->name, sizeof(s->name));
	sem_post(&s->done);
}

static void
look(wf_loop *loop, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	sem_init(&s->done, 0, 0);
	assert_int_equal(wf_loop_post(loop, on_look, s), 0);
	while (sem_wait(&s->done) != 0)
		;
	sem_destroy(&s->done);
}

static void
thread_runs_loop_with_signals_blocked(void **state)
{
	wf_loop_thread *t;
	struct seen s;

	(void)state;
	assert_int_equal(wf_loop_thread_start(&t, "weft-test-io"), 0);
	look(wf_loop_thread_loop(t), &s);
	assert_false(pthread_equal(s.self, pthread_self()));
	assert_true(s.on_thread);
	assert_true(s.sigterm_blocked);
	assert_string_equal(s.name, "weft-test-io");
	wf_loop_thread_free(t);
}

struct selfstop {
	wf_loop_thread *t;
	int join_rc;
};

static void
on_stop_self(void *arg)
{
	struct selfstop *x = arg;

	x->join_rc = wf_loop_thread_join(x->t);
	wf_loop_thread_stop(x->t);
}

static void
stop_from_own_thread(void **state)
{
	struct selfstop x = { 0 };

	(void)state;
	assert_int_equal(wf_loop_thread_start(&x.t, NULL), 0);
	assert_int_equal(wf_loop_post(wf_loop_thread_loop(x.t), on_stop_self,
	    &x), 0);
	assert_int_equal(wf_loop_thread_join(x.t), 0);
	assert_int_equal(x.join_rc, -EDEADLK);
	assert_int_equal(wf_loop_thread_join(x.t), 0); /* twice is fine */
	wf_loop_thread_free(x.t);
}

static void
group_round_robin_over_distinct_threads(void **state)
{
	wf_loop_group *g;
	struct seen s[3];
	unsigned i, j;

	(void)state;
	assert_int_equal(wf_loop_group_start(&g, 0, "x"), -EINVAL);
	assert_int_equal(wf_loop_group_start(&g, 3, "grp"), 0);
	assert_int_equal(wf_loop_group_size(g), 3);
	assert_null(wf_loop_group_get(g, 3));
	for (i = 0; i < 6; i++)
		assert_ptr_equal(wf_loop_group_next(g),
		    wf_loop_group_get(g, i % 3));
	for (i = 0; i < 3; i++) {
		look(wf_loop_group_get(g, i), &s[i]);
		assert_true(s[i].on_thread);
		for (j = 0; j < i; j++)
			assert_false(pthread_equal(s[i].self, s[j].self));
	}
	assert_string_equal(s[2].name, "grp-2");
	wf_loop_group_stop(g);
	assert_int_equal(wf_loop_group_join(g), 0);
	assert_int_equal(wf_loop_post(wf_loop_group_get(g, 0), on_look, &s[0]),
	    -ESHUTDOWN);
	wf_loop_group_free(g);
}

/* Two producers spread tasks over a group; every task runs once. */
struct spread {
	wf_loop_group *g;
	atomic_long ran;
};

static void
on_spread(void *arg)
{
	atomic_fetch_add(&((struct spread *)arg)->ran, 1);
}

static void *
spread_producer(void *arg)
{
	struct spread *x = arg;
	int i;

	for (i = 0; i < 50000; i++)
		if (wf_loop_post(wf_loop_group_next(x->g), on_spread, x) != 0)
			abort();
	return NULL;
}

static void
group_free_runs_everything_posted(void **state)
{
	struct spread x = { 0 };
	pthread_t th[2];
	int i;

	(void)state;
	assert_int_equal(wf_loop_group_start(&x.g, 2, "spread"), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, spread_producer,
		    &x), 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	wf_loop_group_free(x.g);
	assert_int_equal(atomic_load(&x.ran), 100000);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(thread_runs_loop_with_signals_blocked),
		CASE(stop_from_own_thread),
		CASE(group_round_robin_over_distinct_threads),
		CASE(group_free_runs_everything_posted),
	};

	RUN("thread", cases);
}
