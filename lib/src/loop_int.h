/* Internals shared by the loop's modules. Never installed. */
#ifndef WEFT_LOOP_INT_H
#define WEFT_LOOP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "weft/log.h"
#include "weft/loop.h"
#include "weft/timer.h"

#define WF__NSEC_PER_MSEC 1000000ull
#define WF__MAX_EVENTS 256 /* bounds the watchers dispatched per wakeup */

/* One ready event, as the poller reports it (WF_* bits). */
struct wf__fired {
	void *ptr;
	unsigned events;
};

enum {
	WF__IO_ARMED = 0x1,   /* registered with the poller */
	WF__IO_DEAD = 0x2,    /* stopped: skip its pending events */
	WF__IO_EMBEDDED = 0x8, /* memory belongs to the struct it sits in */
};

struct wf_io {
	wf_loop *loop;
	int fd;
	unsigned interest;
	unsigned flags;
	wf_io_cb *cb;
	void *arg;
	void (*on_release)(void *arg); /* library-owned watchers clean up */
	LIST_ENTRY(wf_io) link;         /* loop->ios, then loop->dead */
};

struct wf__task {
	wf_task_fn *fn;
	void *arg;
};

struct wf__taskq {
	struct wf__task *v;
	size_t len, cap;
};

struct wf__heap_ent {
	uint64_t when; /* copy of the timer's deadline: keeps sifting in cache */
	wf_timer *t;
};

struct wf_loop {
	int epfd;
	int depth;    /* >0 while a thread runs the loop */
	uint64_t now; /* CLOCK_MONOTONIC, ns */
	atomic_int stop;
	struct wf__fired fired[WF__MAX_EVENTS];

	wf_io **fdtab; /* live watcher by fd: catches fds reused behind us */
	size_t fdtab_len;
	LIST_HEAD(, wf_io) ios;  /* live watchers */
	LIST_HEAD(, wf_io) dead; /* stopped during dispatch, released after it */

	struct wf__heap_ent *heap;
	size_t heap_len, heap_cap;
	uint64_t timer_seq;
	wf_timer *timer_firing;
	LIST_HEAD(, wf_timer) timers; /* every timer of the loop, armed or not */

	pthread_mutex_t qlock;
	struct wf__taskq qin; /* guarded by qlock */
	int qclosed;          /* guarded by qlock */
	struct wf__taskq qrun;
	atomic_int queued;   /* qin is not empty */
	atomic_int sleeping; /* the loop may be blocked in epoll_wait */
	int efd;
	atomic_ulong wakes;  /* eventfd writes, for tests and benchmarks */
};

uint64_t wf__clock_ns(void);
void wf__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The poller (poll_epoll.c). */
int wf__poll_open(void);
int wf__poll_add(int pfd, int fd, unsigned interest, void *ptr);
int wf__poll_mod(int pfd, int fd, unsigned interest, void *ptr);
int wf__poll_del(int pfd, int fd);
int wf__poll_wait(int pfd, struct wf__fired *out, int max, int timeout_ms);

/* Watchers (io.c). wf__io_init fills a watcher embedded in the caller's
 * struct; on_release(arg) runs when it is released after dispatch. */
int wf__io_init(wf_loop *loop, wf_io *io, int fd, unsigned interest,
    wf_io_cb *cb, void *arg, void (*on_release)(void *));
int wf__io_start_internal(wf_loop *loop, wf_io **iop, int fd,
    unsigned interest, wf_io_cb *cb, void *arg, void (*on_release)(void *));
void wf__io_dispatch(wf_loop *loop, int n);
void wf__io_release_dead(wf_loop *loop);
void wf__io_release_all(wf_loop *loop);

/* Timers (timer.c). */
int wf__timer_timeout(const wf_loop *loop);
void wf__timer_run(wf_loop *loop);
void wf__timer_release_all(wf_loop *loop);
/* A timer whose owner must be released with the loop: fn(arg) then. */
void wf__timer_on_release(wf_timer *t, void (*fn)(void *arg));

/* Cross-thread tasks (task.c). */
int wf__task_init(wf_loop *loop);
void wf__task_wake(wf_loop *loop);
void wf__task_run(wf_loop *loop);
void wf__task_close(wf_loop *loop);
void wf__task_drain(wf_loop *loop);
void wf__task_release(wf_loop *loop);

/*
 * Copy an extensible option struct (first member: size_t size) of the
 * caller's into dst (ours bytes); first: the size of its first version.
 * NULL src: all zero. 0, -EINVAL (size too small), -E2BIG (fields set that
 * this library does not know). See opts.c.
 */
int wf__opts_copy(void *dst, size_t ours, const void *src, size_t first);
#define WF__SIZE_TO(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))

/* Close the task queue and run what is left in it, as the loop's thread
 * (wf_loop_call runs inline there); later posts get -ESHUTDOWN (loop.c). */
void wf__loop_close(wf_loop *loop);

#endif
