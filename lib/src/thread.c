/*
 * Loop threads and groups of them.
 *
 * When a loop thread's run returns, the thread closes the loop's task queue
 * (running what is left in it) before it exits: from then on posts fail with
 * -ESHUTDOWN instead of queueing work nobody will run.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_int.h"
#include "weft/thread.h"

struct wf_loop_thread {
	wf_loop *loop;
	pthread_t tid;
	int joined;
	char name[16]; /* the kernel's limit for thread names */
};

struct wf_loop_group {
	unsigned n;
	atomic_uint next;
	wf_loop_thread *t[];
};

static void *
thread_main(void *arg)
{
	wf_loop_thread *t = arg;

	if (t->name[0])
		pthread_setname_np(pthread_self(), t->name);
	wf_loop_run(t->loop);
	wf__loop_close(t->loop);
	return NULL;
}

int
wf_loop_thread_start(wf_loop_thread **tp, const char *name)
{
	wf_loop_thread *t;
	sigset_t all, old;
	int rc;

	*tp = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	if (name)
		snprintf(t->name, sizeof(t->name), "%s", name);
	if ((rc = wf_loop_new(&t->loop)) < 0) {
		free(t);
		return rc;
	}
	/*
	 * The thread inherits this mask: it starts with every signal blocked
	 * and never takes a signal meant for the program's signalfd. Only
	 * this thread's mask changes, and only around pthread_create.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->tid, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		wf_loop_free(t->loop);
		free(t);
		return -rc;
	}
	*tp = t;
	return 0;
}

wf_loop *
wf_loop_thread_loop(const wf_loop_thread *t)
{
	return t->loop;
}

void
wf_loop_thread_stop(wf_loop_thread *t)
{
	wf_loop_stop(t->loop);
}

int
wf_loop_thread_join(wf_loop_thread *t)
{
	int rc;

	if (t->joined)
		return 0;
	if (pthread_equal(pthread_self(), t->tid))
		return -EDEADLK;
	if ((rc = pthread_join(t->tid, NULL)) != 0)
		return -rc;
	t->joined = 1;
	return 0;
}

void
wf_loop_thread_free(wf_loop_thread *t)
{
	if (t == NULL)
		return;
	wf_loop_thread_stop(t);
	if (wf_loop_thread_join(t) < 0)
		return; /* from its own thread: leaking beats freeing a live loop */
	wf_loop_free(t->loop);
	free(t);
}

int
wf_loop_group_start(wf_loop_group **gp, unsigned n, const char *name)
{
	wf_loop_group *g;
	char tname[16];
	unsigned i;
	int rc;

	*gp = NULL;
	if (n == 0)
		return -EINVAL;
	if ((g = calloc(1, sizeof(*g) + n * sizeof(g->t[0]))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		snprintf(tname, sizeof(tname), "%s-%u", name ? name : "wf", i);
		if ((rc = wf_loop_thread_start(&g->t[i], tname)) < 0) {
			g->n = i;
			wf_loop_group_free(g);
			return rc;
		}
	}
	g->n = n;
	*gp = g;
	return 0;
}

unsigned
wf_loop_group_size(const wf_loop_group *g)
{
	return g->n;
}

wf_loop *
wf_loop_group_get(const wf_loop_group *g, unsigned i)
{
	return i < g->n ? g->t[i]->loop : NULL;
}

wf_loop *
wf_loop_group_next(wf_loop_group *g)
{
	unsigned i = atomic_fetch_add_explicit(&g->next, 1,
	    memory_order_relaxed);

	return g->t[i % g->n]->loop;
}

void
wf_loop_group_stop(wf_loop_group *g)
{
	unsigned i;

	for (i = 0; i < g->n; i++)
		wf_loop_thread_stop(g->t[i]);
}

int
wf_loop_group_join(wf_loop_group *g)
{
	unsigned i;
	int rc, first = 0;

	for (i = 0; i < g->n; i++)
		if ((rc = wf_loop_thread_join(g->t[i])) < 0 && first == 0)
			first = rc;
	return first;
}

void
wf_loop_group_free(wf_loop_group *g)
{
	unsigned i;

	if (g == NULL)
		return;
	/* Stop them all first so they wind down in parallel. */
	wf_loop_group_stop(g);
	for (i = 0; i < g->n; i++)
		wf_loop_thread_free(g->t[i]);
	free(g);
}
