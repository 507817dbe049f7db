/*
 * A stream server: N IO loops of its own, each owning the connections it is
 * given, or one loop of the caller's. Listeners live on IO loop 0 and hand
 * accepted sockets to the loops in turn (default), or each loop has its own
 * SO_REUSEPORT listener.
 *
 * Threads: with its own loops, the calls below are made from any thread but
 * those loops' (they wait for the loops), except wf_server_conns (any) and
 * wf_conn_listener (the connection's loop). On a caller's loop they are
 * made on that loop's thread, or while no thread runs it.
 */
#ifndef WEFT_SERVER_H
#define WEFT_SERVER_H

#include <weft/addr.h>
#include <weft/conn.h>
#include <weft/listener.h>
#include <weft/thread.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_server wf_server;

/* Why a new connection was closed at once (on_refuse). */
enum wf_refuse_reason {
	WF_REFUSE_FULL = 1, /* max_conns, and nothing to evict */
	WF_REFUSE_PER_ADDR, /* its address has max_conns_per_addr already */
	WF_REFUSE_SHUTDOWN, /* accepted as wf_server_shutdown() began */
};

/*
 * Zero fields are defaults. size is sizeof(struct wf_server_opts) as the
 * caller was compiled: the struct can grow without breaking programs built
 * against older headers (fields it lacks are zero), and a field unknown to
 * an older library is refused (-E2BIG) rather than ignored; so is a size
 * over 4096 (an unset one).
 */
struct wf_server_opts {
	size_t size;
	unsigned threads;          /* IO loops of its own; 0: 1 */
	/*
	 * Non-NULL: the server runs on this loop of the caller's instead (it
	 * starts no thread; threads must be 0 or 1, reuseport is moot). The
	 * loop must outlive the server.
	 */
	wf_loop *loop;
	unsigned max_conns;        /* 0: no limit; see evict */
	/*
	 * 0: no limit. Connections from one IPv4 or IPv6 address (any port)
	 * beyond it are closed at once; Unix peers are not counted.
	 */
	unsigned max_conns_per_addr;
	/*
	 * 0: at max_conns a new connection is closed at once. Non-zero: it
	 * replaces the connection idle longest on the loop it is given to,
	 * among those on_idle lets go (nothing in flight), which is closed
	 * with WF_CLOSE_EVICTED; only when there is none is the new one closed.
	 */
	int evict;
	uint64_t idle_timeout_ms;  /* 0: none; closes with WF_CLOSE_TIMEOUT */
	int reuseport;             /* a listener per loop instead of handoff */
	const struct wf_listen_opts *listen; /* NULL: defaults; copied */
	size_t high, max_in, max_out; /* wf_conn_set_limits; 0: defaults */
	const struct wf_conn_cbs *cbs;
	void *arg;
	/*
	 * On the connection's loop, before any data: may wf_conn_set_arg.
	 * peer is the address accept() returned, valid during the call only
	 * (a Unix client that did not bind has an empty path).
	 */
	void (*on_open)(wf_conn *c, const struct wf_addr *peer, void *arg);
	/*
	 * Optional: c has been idle for idle_timeout_ms, or is the candidate
	 * for eviction. Return non-zero to keep it (a request of its is still
	 * being worked on); its idle clock restarts. Without the callback, or
	 * on 0, it is closed.
	 */
	int (*on_idle)(wf_conn *c, void *arg);
	/* Optional: a new connection from peer was closed at once. Called on
	 * an IO loop; peer is valid during the call only. */
	void (*on_refuse)(const struct wf_addr *peer, enum wf_refuse_reason why,
	    void *arg);
};

/*
 * 0; -EINVAL (no cbs or on_data, size too small, threads > 1 with loop);
 * -E2BIG (fields this library does not know are set); -ENOMEM; the errno of
 * starting a thread or a timer.
 */
WF_EXPORT int wf_server_start(wf_server **sp, const struct wf_server_opts *o);

/* Listen on addr; returns the listener's index. Any thread but the IO ones. */
WF_EXPORT int wf_server_listen(wf_server *s, const struct wf_addr *addr);

/* Adopt an already listening socket (socket activation); an index. */
WF_EXPORT int wf_server_adopt(wf_server *s, int fd);

/*
 * The index the next wf_server_listen or wf_server_adopt will return (the
 * lowest free one), or -ENOSPC: what a caller keys by listener can be in
 * place before the listener's first connection is accepted.
 */
WF_EXPORT int wf_server_next_listener(const wf_server *s);

/*
 * Close listener i (its index is used again by a later listen); its
 * connections stay. Any thread but the IO ones, like wf_server_listen.
 */
WF_EXPORT int wf_server_close_listener(wf_server *s, unsigned i);

/*
 * Listener i's counts since it was opened: connections accepted (handed to
 * a loop) and refused (max_conns, max_conns_per_addr, out of memory), and
 * those accepted on its index still open (an earlier listener that had the
 * index too, if its connections outlived it). queued and queue_max: the
 * kernel's accept queue (connections waiting to be accepted, and its
 * backlog) for TCP; -1 for Unix sockets, which do not say. Any thread but
 * the IO ones, like wf_server_listen. 0, or -ENOENT: no listener i.
 */
struct wf_listener_stats {
	unsigned long long accepted, refused;
	unsigned conns;
	long queued, queue_max;
};
WF_EXPORT int wf_server_listener_stats(wf_server *s, unsigned i,
    struct wf_listener_stats *st);
/* The index of the listener c was accepted on; -1 if not a server's. */
WF_EXPORT int wf_conn_listener(const wf_conn *c);

/* The bound address of listener i (the kernel's port for port 0). */
WF_EXPORT int wf_server_addr(wf_server *s, unsigned i, struct wf_addr *a);

/* Open connections, all loops together. Any thread. */
WF_EXPORT unsigned wf_server_conns(const wf_server *s);

/* The server's own loops; NULL for a server on a caller's loop. */
WF_EXPORT wf_loop_group *wf_server_loops(const wf_server *s);

/* Close the listeners; connections stay. Any thread but the IO ones. */
WF_EXPORT void wf_server_stop_accepting(wf_server *s);

typedef void wf_server_done_cb(wf_server *s, void *arg);

/*
 * Graceful shutdown: close the listeners (a connection accepted but not yet
 * handed to its loop is refused, WF_REFUSE_SHUTDOWN), then close every
 * connection as wf_conn_close(c, linger_ms) does: stop reading, flush what
 * is queued, half-close, and abort whatever is not done within linger_ms
 * (0: 5 s). done(s, arg) is called once no connection is left, never inside
 * this call: on a server's own loop (the one whose connection went last)
 * or on the caller's loop. A server on a caller's loop may be freed in
 * done; with its own loops, free it from another thread (post to yours),
 * and only once this call has returned. done may be NULL. Returns 0, or
 * -EALREADY for every call after the first (concurrent ones included).
 *
 * Answers still being prepared are not waited for: a program that has
 * requests in flight stops reading first (wf_conn_shutdown_read), answers,
 * and then shuts down, or closes each connection itself when its last
 * answer is queued.
 */
WF_EXPORT int wf_server_shutdown(wf_server *s, uint64_t linger_ms,
    wf_server_done_cb *done, void *arg);

/*
 * Close listeners, abort every connection (on_close runs), join, free. A
 * shutdown in progress ends with it; its done callback is not called.
 */
WF_EXPORT void wf_server_free(wf_server *s);

WF_END_DECLS

#endif
