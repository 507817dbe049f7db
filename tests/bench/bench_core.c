/*
 * Core benchmarks: cross-thread posts, wakeups, timers. Prints numbers;
 * asserts nothing about speed.
 *
 *   build/bench/bench_core [posts-per-producer] [timers]
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_int.h"
#include "weft/thread.h"
#include "weft/timer.h"

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define wall() clock_s(CLOCK_MONOTONIC)
#define cpu() clock_s(CLOCK_PROCESS_CPUTIME_ID)

/* Posts: producers flood one loop thread; the last task posts a semaphore. */
struct flood {
	wf_loop *loop;
	long per, target, ran;
	sem_t done;
};

static void
on_flood(void *arg)
{
	struct flood *f = arg;

	if (++f->ran == f->target)
		sem_post(&f->done);
}

static void *
flood_producer(void *arg)
{
	struct flood *f = arg;
	long i;

	for (i = 0; i < f->per; i++)
		if (wf_loop_post(f->loop, on_flood, f) != 0)
			abort();
	return NULL;
}

static void
bench_posts(int producers, long per)
{
	struct flood f = { .per = per, .target = per * producers };
	wf_loop_thread *t;
	pthread_t th[8];
	unsigned long w0;
	double t0, c0, dt, dc;
	int i;

	sem_init(&f.done, 0, 0);
	if (wf_loop_thread_start(&t, "bench-consumer") < 0)
		abort();
	f.loop = wf_loop_thread_loop(t);
	w0 = atomic_load(&f.loop->wakes);
	t0 = wall();
	c0 = cpu();
	for (i = 0; i < producers; i++)
		pthread_create(&th[i], NULL, flood_producer, &f);
	while (sem_wait(&f.done) != 0)
		;
	dt = wall() - t0;
	dc = cpu() - c0;
	for (i = 0; i < producers; i++)
		pthread_join(th[i], NULL);
	printf("posts, %d producer%s: %8.2f M tasks/s  %6.1f ns CPU/task  "
	    "%lu wakeups for %ld tasks\n", producers, producers > 1 ? "s" : " ",
	    (double)f.target / dt / 1e6, dc * 1e9 / (double)f.target,
	    atomic_load(&f.loop->wakes) - w0, f.target);
	wf_loop_thread_free(t);
	sem_destroy(&f.done);
}

/* Wakeups: a task bounces between two loop threads; each hop wakes one. */
struct pingpong {
	wf_loop *a, *b;
	long hops, target;
	sem_t done;
};

static void on_ping(void *arg);

static void
on_ping(void *arg)
{
	struct pingpong *p = arg;
	wf_loop *to = (p->hops & 1) ? p->a : p->b;

	if (++p->hops == p->target) {
		sem_post(&p->done);
		return;
	}
	if (wf_loop_post(to, on_ping, p) != 0)
		abort();
}

static void
bench_wakeups(long hops)
{
	struct pingpong p = { .target = hops };
	wf_loop_thread *a, *b;
	double t0, dt;

	sem_init(&p.done, 0, 0);
	if (wf_loop_thread_start(&a, "bench-ping") < 0 ||
	    wf_loop_thread_start(&b, "bench-pong") < 0)
		abort();
	p.a = wf_loop_thread_loop(a);
	p.b = wf_loop_thread_loop(b);
	t0 = wall();
	if (wf_loop_post(p.a, on_ping, &p) != 0)
		abort();
	while (sem_wait(&p.done) != 0)
		;
	dt = wall() - t0;
	printf("wakeups (ping-pong between 2 loop threads): %8.0f wakeups/s  "
	    "%.2f us per hop\n", (double)hops / dt, dt * 1e6 / (double)hops);
	wf_loop_thread_free(a);
	wf_loop_thread_free(b);
	sem_destroy(&p.done);
}

/* The floor for a wakeup: two bare threads bouncing on blocking eventfds. */
struct bare {
	int in, out;
	long hops;
};

static void *
bare_bounce(void *arg)
{
	struct bare *b = arg;
	uint64_t v;
	long i;

	for (i = 0; i < b->hops; i++) {
		if (read(b->in, &v, sizeof(v)) != sizeof(v) ||
		    write(b->out, &v, sizeof(v)) != sizeof(v))
			abort();
	}
	return NULL;
}

static void
bench_bare_wakeups(long hops)
{
	int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
	struct bare x = { a, b, hops / 2 }, y = { b, a, hops / 2 };
	pthread_t tx, ty;
	uint64_t one = 1;
	double t0, dt;

	t0 = wall();
	pthread_create(&tx, NULL, bare_bounce, &x);
	pthread_create(&ty, NULL, bare_bounce, &y);
	if (write(a, &one, sizeof(one)) != sizeof(one))
		abort();
	pthread_join(tx, NULL);
	pthread_join(ty, NULL);
	dt = wall() - t0;
	printf("wakeups, floor (bare threads, blocking eventfd):  %8.0f wakeups/s  "
	    "%.2f us per hop\n", (double)hops / dt, dt * 1e6 / (double)hops);
	close(a);
	close(b);
}

/* Timers: n timers due within a second; add, fire, and start+stop costs. */
static long fired;

static void
on_fire(wf_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	fired++;
}

static void
bench_timers(long n)
{
	wf_timer **ts = malloc((size_t)n * sizeof(*ts));
	double t0, add, fire, restart;
	wf_loop *loop;
	long i;

	if (ts == NULL || wf_loop_new(&loop) < 0)
		abort();
	srand(1);
	for (i = 0; i < n; i++)
		if (wf_timer_new(loop, &ts[i], on_fire, NULL) < 0)
			abort();
	/* As in a callback: one loop time for all, no clock read per start. */
	wf_loop_update_time(loop);
	loop->depth++;
	t0 = wall();
	for (i = 0; i < n; i++)
		if (wf_timer_start(ts[i], (uint64_t)(rand() % 1000), 0) < 0)
			abort();
	add = wall() - t0;
	/*
	 * Fire: move the loop's clock past every deadline and run the timer
	 * phase, so the figure is the dispatch cost, not time spent asleep.
	 */
	loop->now += 1000 * WF__NSEC_PER_MSEC;
	t0 = wall();
	wf__timer_run(loop);
	fire = wall() - t0;
	loop->depth--;
	if (fired != n)
		abort();

	/* Start and cancel at random positions (a timeout rearmed per request). */
	wf_loop_update_time(loop);
	loop->depth++;
	for (i = 0; i < n; i++)
		wf_timer_start(ts[i], (uint64_t)(rand() % 1000), 0);
	t0 = wall();
	for (i = 0; i < n; i++)
		wf_timer_start(ts[(i * 7919) % n], (uint64_t)(rand() % 1000), 0);
	restart = wall() - t0;
	loop->depth--;
	for (i = 0; i < n; i++)
		wf_timer_free(ts[i]);
	printf("timers, %ld pending: add %.0f ns/timer, fire %.0f ns/timer, "
	    "add+fire %.3f s; restart at random %.0f ns/timer\n", n,
	    add * 1e9 / (double)n, fire * 1e9 / (double)n, add + fire,
	    restart * 1e9 / (double)n);
	wf_loop_free(loop);
	free(ts);
}

int
main(int argc, char **argv)
{
	long per = argc > 1 ? atol(argv[1]) : 5000000;
	long timers = argc > 2 ? atol(argv[2]) : 1000000;

	bench_posts(1, per);
	bench_posts(2, per / 2);
	bench_wakeups(200000);
	bench_bare_wakeups(200000);
	bench_timers(timers);
	return 0;
}
