/*
 * A loop freed by the task it was just posted: wf_loop_post must not touch
 * the loop once its task can run.
 *
 * Linked with -Wl,--wrap=pthread_mutex_unlock (Makefile): the poster thread
 * stops right after the library unlocks the queue, the main thread runs the
 * task and frees the loop, then the poster goes on. Anything wf_loop_post
 * does after that unlock reads freed memory (AddressSanitizer reports it).
 */
#include <pthread.h>
#include <semaphore.h>

#include "testutil.h"

int __real_pthread_mutex_unlock(pthread_mutex_t *m);
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m);

static __thread int stall_after_unlock;
static sem_t queued, freed;

int
__wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
	int rc = __real_pthread_mutex_unlock(m);

	if (stall_after_unlock) {
		stall_after_unlock = 0;
		sem_post(&queued);
		while (sem_wait(&freed) != 0)
			;
	}
	return rc;
}

struct poster {
	wf_loop *loop;
	int rc;
};

static void
on_task(void *arg)
{
	*(int *)arg = 1;
}

static int ran;

static void *
post(void *arg)
{
	struct poster *p = arg;

	stall_after_unlock = 1;
	p->rc = wf_loop_post(p->loop, on_task, &ran);
	return NULL;
}

static void
post_then_free_from_the_task(void **state)
{
	struct poster p = { .rc = -1 };
	pthread_t t;

	(void)state;
	assert_int_equal(sem_init(&queued, 0, 0), 0);
	assert_int_equal(sem_init(&freed, 0, 0), 0);
	p.loop = loop_new();
	assert_int_equal(pthread_create(&t, NULL, post, &p), 0);
	while (sem_wait(&queued) != 0)
		;
	assert_int_equal(wf_loop_run_once(p.loop, 0), 0);
	assert_int_equal(ran, 1);
	wf_loop_free(p.loop);
	sem_post(&freed);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(p.rc, 0);
	sem_destroy(&queued);
	sem_destroy(&freed);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(post_then_free_from_the_task),
	};

	RUN("post_free", cases);
}
