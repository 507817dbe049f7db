/*
 * Tasks posted from any thread, run on the loop thread in FIFO order.
 *
 * Producers append to qin under qlock; once per iteration the loop swaps qin
 * for its own (empty) qrun and runs it without the lock, so a producer never
 * waits for a task to finish.
 *
 * Only the producer that makes qin non-empty may wake the loop, and only if
 * the loop is asleep: a burst costs at most one eventfd write, and a loop busy
 * with other work costs none. The loop sets `sleeping` before it checks
 * `queued` and polls; a producer sets `queued` before it checks `sleeping`.
 * Both sides use sequentially consistent atomics, so at least one sees the
 * other: either the loop does not sleep, or the producer writes.
 *
 * The eventfd is watched edge-triggered and never read: every write is a new
 * edge, which saves the read that would reset the counter (the 64-bit counter
 * cannot fill up at one write per sleep).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop_int.h"

#define QUEUE_MIN 64

static void on_wake(wf_io *io, int fd, unsigned events, void *arg);

int
wf__task_init(wf_loop *loop)
{
	wf_io *io;
	int rc;

	if ((rc = pthread_mutex_init(&loop->qlock, NULL)) != 0)
		return -rc;
	if ((loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = -errno;
		pthread_mutex_destroy(&loop->qlock);
		return rc;
	}
	rc = wf__io_start_internal(loop, &io, loop->efd, WF_READ | WF_EDGE, on_wake,
	    loop, NULL);
	if (rc < 0) {
		close(loop->efd);
		pthread_mutex_destroy(&loop->qlock);
	}
	return rc;
}

void
wf__task_wake(wf_loop *loop)
{
	uint64_t one = 1;

	if (!atomic_load(&loop->sleeping))
		return;
	/* EAGAIN means the counter is full: the loop is woken anyway. */
	if (write(loop->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		wf__log(WF_LOG_ERR, "write(eventfd %d): %s", loop->efd,
		    strerror(errno));
	atomic_fetch_add_explicit(&loop->wakes, 1, memory_order_relaxed);
}

int
wf_loop_post(wf_loop *loop, wf_task_fn *fn, void *arg)
{
	struct wf__taskq *q = &loop->qin;
	int was_empty;

	if (fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&loop->qlock);
	if (loop->qclosed) {
		pthread_mutex_unlock(&loop->qlock);
		return -ESHUTDOWN;
	}
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : QUEUE_MIN;
		struct wf__task *v = realloc(q->v, cap * sizeof(*v));

		if (v == NULL) {
			pthread_mutex_unlock(&loop->qlock);
			return -ENOMEM;
		}
		q->v = v;
		q->cap = cap;
	}
	was_empty = q->len == 0;
	q->v[q->len].fn = fn;
	q->v[q->len].arg = arg;
	q->len++;
	if (was_empty) {
		atomic_store(&loop->queued, 1);
		/*
		 * Under the lock: once the task is queued the loop may run
		 * it and be freed, eventfd and all; wf__task_close() takes
		 * the lock first, so it waits for this write.
		 */
		wf__task_wake(loop);
	}
	pthread_mutex_unlock(&loop->qlock);
	return 0;
}

/* Run what was queued when we looked; return how many tasks that was. */
static size_t
run_batch(wf_loop *loop)
{
	struct wf__taskq q;
	size_t i, n;

	pthread_mutex_lock(&loop->qlock);
	q = loop->qin;
	loop->qin = loop->qrun;
	atomic_store_explicit(&loop->queued, 0, memory_order_relaxed);
	pthread_mutex_unlock(&loop->qlock);
	for (i = 0; i < q.len; i++)
		q.v[i].fn(q.v[i].arg);
	n = q.len;
	/* A burst left a large array behind: give half of it back. */
	if (q.cap > 4 * QUEUE_MIN && n < q.cap / 4) {
		struct wf__task *v = realloc(q.v, q.cap / 2 * sizeof(*v));

		if (v) {
			q.v = v;
			q.cap /= 2;
		}
	}
	q.len = 0;
	loop->qrun = q;
	return n;
}

/* The wakeup itself carries nothing: the loop runs tasks every iteration. */
static void
on_wake(wf_io *io, int fd, unsigned events, void *arg)
{
	(void)io;
	(void)fd;
	(void)events;
	(void)arg;
}

void
wf__task_run(wf_loop *loop)
{
	if (atomic_load_explicit(&loop->queued, memory_order_relaxed))
		run_batch(loop);
}

void
wf__task_drain(wf_loop *loop)
{
	while (run_batch(loop) > 0)
		;
}

void
wf__task_close(wf_loop *loop)
{
	pthread_mutex_lock(&loop->qlock);
	loop->qclosed = 1;
	pthread_mutex_unlock(&loop->qlock);
	wf__task_drain(loop);
}

void
wf__task_release(wf_loop *loop)
{
	close(loop->efd);
	free(loop->qin.v);
	free(loop->qrun.v);
	pthread_mutex_destroy(&loop->qlock);
}
