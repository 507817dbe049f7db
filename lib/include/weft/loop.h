/*
 * The event loop: one per thread, epoll underneath.
 *
 * A loop belongs to the thread that runs it. Everything here except
 * wf_loop_post(), wf_loop_call(), wf_loop_stop() and wf_loop_on_thread() must
 * be called on that thread (or while no thread runs the loop).
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_loop wf_loop;
typedef struct wf_io wf_io;

/* Interest (wf_io_start, wf_io_modify) and delivered events. */
enum {
	WF_READ = 0x01,
	WF_WRITE = 0x02,
	WF_EDGE = 0x04, /* interest only: edge-triggered (EPOLLET) */
	WF_HUP = 0x08,  /* delivered only: hang-up; READ/WRITE are set too */
	WF_ERR = 0x10,  /* delivered only: error; READ/WRITE are set too */
};

typedef void wf_io_cb(wf_io *io, int fd, unsigned events, void *arg);
typedef void wf_task_fn(void *arg);

WF_EXPORT int wf_loop_new(wf_loop **loopp);

/*
 * Free a loop that is not running. Tasks still queued are run first, so a
 * task that owns memory always gets to release it; posts made from then on
 * fail with -ESHUTDOWN. Watchers, timers and signal watchers still active are
 * released without their callbacks being called: their handles become
 * invalid, and the fds passed to wf_io_start() stay open (they belong to the
 * caller). Descriptors the library opened itself are closed.
 */
WF_EXPORT void wf_loop_free(wf_loop *loop);

/*
 * Run until wf_loop_stop(). Before returning, every task posted before the
 * stop has run (and every task those tasks posted). Returns 0, or -EBUSY when
 * called from inside a callback of the same loop.
 */
WF_EXPORT int wf_loop_run(wf_loop *loop);

/*
 * One iteration: wait at most timeout_ms (-1: until an event; the nearest
 * timer shortens it), then dispatch ready watchers, expired timers and posted
 * tasks. Returns 0 or -EBUSY (re-entered).
 */
WF_EXPORT int wf_loop_run_once(wf_loop *loop, int timeout_ms);

/* Make wf_loop_run() return. Any thread; also before run starts. */
WF_EXPORT void wf_loop_stop(wf_loop *loop);

/* Loop time in milliseconds on CLOCK_MONOTONIC, cached once per iteration. */
WF_EXPORT uint64_t wf_loop_now(const wf_loop *loop);
/* The same in nanoseconds: free to read, for latencies without a syscall. */
WF_EXPORT uint64_t wf_loop_now_ns(const wf_loop *loop);
WF_EXPORT void wf_loop_update_time(wf_loop *loop);

/*
 * Watch fd. interest is WF_READ and/or WF_WRITE, optionally WF_EDGE. The
 * library does not take ownership of fd: stop the watcher before closing it.
 * Returns -EEXIST if fd is already watched.
 */
WF_EXPORT int wf_io_start(wf_loop *loop, wf_io **iop, int fd,
    unsigned interest, wf_io_cb *cb, void *arg);

/* Change interest; 0 pauses the watcher without forgetting it. */
WF_EXPORT int wf_io_modify(wf_io *io, unsigned interest);

/*
 * Stop watching and release the watcher. Safe in any callback: events still
 * pending for it in the current batch are dropped (also when its fd number
 * is reused at once), and its memory is released after the batch.
 */
WF_EXPORT void wf_io_stop(wf_io *io);

WF_EXPORT int wf_io_fd(const wf_io *io);

/* The arg passed to the callback; setting it takes effect from the next call. */
WF_EXPORT void *wf_io_arg(const wf_io *io);
WF_EXPORT void wf_io_set_arg(wf_io *io, void *arg);

/*
 * Queue fn(arg) to run on the loop thread. Any thread. Tasks run in FIFO
 * order; a burst of posts wakes the loop once. Returns 0, -EINVAL (no fn),
 * -ENOMEM, or
 * -ESHUTDOWN once the loop is being freed (or its loop thread has exited);
 * on failure fn is not called and arg stays the caller's.
 */
WF_EXPORT int wf_loop_post(wf_loop *loop, wf_task_fn *fn, void *arg);

/* fn(arg) at once when called on the loop's thread, else wf_loop_post(). */
WF_EXPORT int wf_loop_call(wf_loop *loop, wf_task_fn *fn, void *arg);

/* True while the calling thread is running this loop (inside a callback). */
WF_EXPORT bool wf_loop_on_thread(const wf_loop *loop);

WF_END_DECLS

#endif
