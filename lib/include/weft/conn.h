/*
 * Buffered stream connections (TCP or Unix) on one loop.
 *
 * A connection belongs to its loop's thread. Other threads reach it through
 * a wf_conn_ref, which stays safe to use after the connection is gone.
 */
#ifndef WEFT_CONN_H
#define WEFT_CONN_H

#include <stddef.h>
#include <sys/uio.h>
#include <weft/buffer.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_conn wf_conn;
typedef struct wf_conn_ref wf_conn_ref;

/* wf_conn_read_into(): got bytes of the target are there, in all. */
typedef void (*wf_fill_cb)(wf_conn *c, size_t got, void *arg);

enum wf_close_reason {
	WF_CLOSE_PEER = 1, /* the peer closed its end */
	WF_CLOSE_ERROR,    /* a socket error; err says which */
	WF_CLOSE_LOCAL,    /* wf_conn_close() or wf_conn_abort() */
	WF_CLOSE_TIMEOUT,  /* idle timeout, or the close deadline passed */
	WF_CLOSE_LIMIT,    /* input over its limit, or a protocol error */
	WF_CLOSE_EVICTED,  /* a server at max_conns made room (server.h) */
};

struct wf_conn_cbs {
	/*
	 * Bytes arrived: consume what you use from in (wf_buf_consume); the
	 * rest waits for more. Required.
	 */
	void (*on_data)(wf_conn *c, wf_buf *in, void *arg);
	/* Queued output went above the high-water mark. */
	void (*on_high_water)(wf_conn *c, size_t queued, void *arg);
	/* Queued output has all been written. */
	void (*on_drain)(wf_conn *c, void *arg);
	/*
	 * Called once, when the connection is torn down (maybe from inside
	 * wf_conn_close/abort). err is 0 or a negative errno, like every
	 * error of the library (WF_CLOSE_ERROR: the socket's; WF_CLOSE_LIMIT:
	 * -ENOBUFS for input over max_in; WF_CLOSE_TIMEOUT: -ETIMEDOUT). The
	 * wf_conn stays valid until the callback dispatch that tore it down
	 * returns, then it is freed.
	 */
	void (*on_close)(wf_conn *c, enum wf_close_reason why, int err,
	    void *arg);
	/*
	 * Optional: the peer half-closed (end of file after everything it
	 * sent was delivered, and the caller is not paused), or
	 * wf_conn_shutdown_read() was called. The connection stays open for
	 * sending; close it when done. Without this callback it closes by
	 * itself, once the output already queued is written.
	 */
	void (*on_eof)(wf_conn *c, void *arg);
};

/*
 * Take over a connected socket, pipe, FIFO or terminal (made non-blocking,
 * close-on-exec, and TCP_NODELAY on TCP). The connection owns fd from then
 * on, also on failure. A pipe's read end cannot send (-EBADF), its write end
 * is never read; a write to a pipe whose reader has gone raises SIGPIPE
 * (the library leaves signals alone: ignore or block it); pipes and
 * terminals have no half-close. O_NONBLOCK is set on the open file, which
 * other holders (a shell sharing a terminal) see too. 0; -EINVAL (no cbs or
 * on_data); -EPERM (a regular file or directory: epoll cannot watch it);
 * -ENOMEM; the errno of fcntl(), fstat() or epoll_ctl(). A connection still
 * open when its loop is freed is closed with it, without on_close.
 */
WF_EXPORT int wf_conn_adopt(wf_loop *loop, wf_conn **cp, int fd,
    const struct wf_conn_cbs *cbs, void *arg);

/*
 * Send: what the socket takes at once is written directly; only the rest is
 * copied to the output buffer (the caller's memory is never kept). Returns 0,
 * -ENOTCONN when the connection is closing, -ENOBUFS above the hard output
 * limit, or -ENOMEM.
 */
WF_EXPORT int wf_conn_send(wf_conn *c, const void *p, size_t n);
WF_EXPORT int wf_conn_sendv(wf_conn *c, const struct iovec *iov, int iovcnt);

/* Send one weft frame: header and payload in one writev, no copy. */
WF_EXPORT int wf_conn_send_frame(wf_conn *c, uint16_t status, uint16_t flags,
    const void *payload, size_t n);

/*
 * Stop and restart reading (backpressure). Input read before a pause and
 * not consumed is offered again after the resume; so is an end of input
 * seen meanwhile, which on_eof (or the close without it) reports only
 * after everything the peer sent has been offered.
 */
WF_EXPORT void wf_conn_pause(wf_conn *c);
WF_EXPORT void wf_conn_resume(wf_conn *c);

/*
 * Read the next len bytes of the stream straight into dst, past the input
 * buffer: a large message body lands where it belongs, with no copy and no
 * growing buffer. Only while no input is buffered (consume all of in
 * first; from on_data or anywhere on the loop thread). Each read that adds
 * to dst is reported to on_fill(c, got, arg) with the total so far; the
 * call that reports got == len ends it, and what follows goes to on_data
 * again. Meanwhile on_data is not called; pause, resume, close and the end
 * of input work as usual (an end before len bytes: on_eof, or the close,
 * with dst part-filled). dst must stay valid until then, or until
 * wf_conn_read_into(c, NULL, 0, NULL) cancels it, or the connection closes
 * (it is never touched once on_close runs). A call replaces a target not
 * yet filled. Returns 0; -EBUSY while input is buffered; -ENOTCONN when
 * closing or when the input has ended (nothing more will be read); -EINVAL
 * for len 0 or no on_fill.
 */
WF_EXPORT int wf_conn_read_into(wf_conn *c, void *dst, size_t len,
    wf_fill_cb on_fill);

/*
 * Read no more from the socket, as if the peer had half-closed: what was
 * read already is still offered to on_data (after a resume, if paused),
 * then on_eof is called, from a task, never inside this call. The
 * connection stays writable. A server draining uses it.
 */
WF_EXPORT void wf_conn_shutdown_read(wf_conn *c);

/*
 * Limits: on_high_water above high (default 1 MiB, 0: never); input
 * buffered beyond max_in closes with WF_CLOSE_LIMIT (default 1 MiB); output
 * beyond max_out makes send fail with -ENOBUFS (default 64 MiB).
 */
WF_EXPORT void wf_conn_set_limits(wf_conn *c, size_t high, size_t max_in,
    size_t max_out);

/*
 * Graceful close: stop reading, write what is queued, shutdown(SHUT_WR),
 * wait for the peer's end of file (reading and discarding, so unread input
 * does not make the kernel reset the connection and destroy the reply),
 * then close; abort if not done within linger_ms. linger_ms 0 is the
 * default, 5 s, not "at once": wf_conn_abort() is that. on_close gets
 * WF_CLOSE_LOCAL (or WF_CLOSE_TIMEOUT when the deadline hit). Input not yet
 * consumed is dropped, and sends fail with -ENOTCONN from the call on.
 * A pipe or terminal has no half-close: it closes once its output is out.
 */
WF_EXPORT void wf_conn_close(wf_conn *c, uint64_t linger_ms);

/* Close now, dropping queued output. */
WF_EXPORT void wf_conn_abort(wf_conn *c);

/*
 * Close now with a reason of the caller's (a protocol error: WF_CLOSE_LIMIT)
 * and err for on_close (a negative errno or 0; a positive one is negated).
 */
WF_EXPORT void wf_conn_fail(wf_conn *c, enum wf_close_reason why, int err);

WF_EXPORT size_t wf_conn_queued(const wf_conn *c);
WF_EXPORT int wf_conn_fd(const wf_conn *c);
WF_EXPORT wf_loop *wf_conn_loop(const wf_conn *c);
/*
 * The arg every callback gets. wf_conn_set_arg replaces it for every later
 * callback, on_close included (a server's on_open sets the connection's
 * own state this way).
 */
WF_EXPORT void *wf_conn_arg(const wf_conn *c);
WF_EXPORT void wf_conn_set_arg(wf_conn *c, void *arg);

/*
 * A reference for other threads. wf_conn_ref_get() (loop thread) returns a new
 * reference; each must be dropped with wf_conn_ref_put() (any thread).
 * Sending or closing through a reference to a connection that is gone does
 * nothing and returns -ENOTCONN. The loop must outlive its references' use.
 */
WF_EXPORT wf_conn_ref *wf_conn_ref_get(wf_conn *c);
WF_EXPORT void wf_conn_ref_put(wf_conn_ref *r);

/* Copy p and send it from the connection's loop thread. */
WF_EXPORT int wf_conn_ref_send(wf_conn_ref *r, const void *p, size_t n);

/* Graceful close from any thread. */
WF_EXPORT int wf_conn_ref_close(wf_conn_ref *r, uint64_t linger_ms);

/*
 * Run fn(c, arg) on the loop thread; c is NULL if the connection is gone by
 * then (so arg can still be freed). -ENOTCONN (fn not called) if it is
 * already known to be gone.
 */
WF_EXPORT int wf_conn_ref_call(wf_conn_ref *r,
    void (*fn)(wf_conn *c, void *arg), void *arg);

WF_END_DECLS

#endif
