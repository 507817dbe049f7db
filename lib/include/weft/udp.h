/*
 * Datagram sockets: UDP on IPv4/IPv6 and Unix datagram sockets, opened
 * here or adopted. A watcher belongs to its loop's thread: every function
 * here must be called there (or while no thread runs the loop).
 *
 * Receiving reads up to 16 datagrams per recvmmsg() into slots of
 * max_datagram bytes each, and at most 64 datagrams per wakeup, so that one
 * flooded socket cannot starve the rest of the loop. The slots are one
 * allocation per watcher of min(16, max(1, 256 KiB / max_datagram)) *
 * max_datagram bytes: 16 per call and 24000 bytes for max_datagram 1500,
 * 4 per call and 256 KiB for the default 65535. A small max_datagram buys
 * both less memory and fewer syscalls.
 *
 * UDP has no send queue: a datagram is sent at once or not at all, and
 * the caller decides what a full socket buffer means (drop, count, retry).
 *
 * Errors that the kernel reports on a receive but that belong to an
 * earlier datagram (ECONNREFUSED from an ICMP port unreachable on a
 * connected socket, ECONNRESET, EHOSTUNREACH and the like) are not
 * reported and stop nothing: each is read once and receiving goes on. Any
 * other receive error, or a socket shut down for reading behind the
 * library's back (it would stay readable for ever), is logged (weft/log.h)
 * and pauses receiving for 1 s, so it can never turn into a busy loop.
 */
#ifndef WEFT_UDP_H
#define WEFT_UDP_H

#include <stddef.h>
#include <sys/uio.h>
#include <weft/addr.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_udp wf_udp;

/*
 * One datagram. data and peer are only valid during the call (the slot is
 * read into again). trunc: the datagram was longer than max_datagram and
 * len bytes of it are all there is; the rest is lost. A Unix sender that
 * did not bind has an empty path (it cannot be answered). The callback may
 * pause or close u: no further datagram is delivered then; after a pause,
 * the ones already read are delivered first on resume, none is lost.
 */
typedef void wf_udp_recv_cb(wf_udp *u, const void *data, size_t len,
    const struct wf_addr *peer, int trunc, void *arg);

/*
 * NULL opts gives the defaults, as does every field left 0. size is
 * sizeof(struct wf_udp_opts) as the caller was compiled (see
 * wf_server_opts in weft/server.h).
 */
struct wf_udp_opts {
	size_t size;
	size_t max_datagram; /* bytes per receive slot; 0: 65535 (the largest
				UDP datagram), at most 16 MiB */
	int reuseport;       /* SO_REUSEPORT: the kernel spreads datagrams over
				the sockets of one port; IP only */
	int reuseaddr;       /* SO_REUSEADDR: several sockets on one port, for
				multicast; IP only, not set unless asked */
};

/*
 * Open a socket bound to bind_addr (port 0: the kernel picks one; see
 * wf_udp_addr). IPv6 sockets are IPv6-only. A Unix socket path is created
 * with the umask's mode; a stale socket file (nobody bound to it) is
 * replaced, a live socket gives -EADDRINUSE and any other kind of file
 * -EEXIST, as for wf_listener_open(). Returns 0, -EINVAL for bad
 * arguments (opts->size too small among them), -E2BIG for opts fields
 * this library does not know, -EAFNOSUPPORT for a family other than IPv4,
 * IPv6 and Unix, -ENOMEM, or the errno of the failing socket(),
 * setsockopt() or bind(); on failure nothing is left behind.
 */
WF_EXPORT int wf_udp_open(wf_loop *loop, wf_udp **up,
    const struct wf_addr *bind_addr, const struct wf_udp_opts *opts,
    wf_udp_recv_cb *cb, void *arg);

/*
 * Take over a datagram socket, bound or not (made non-blocking and
 * close-on-exec; the flags are shared with other holders of the same open
 * file); receive slots as for the default options. The watcher owns fd
 * from the call on, also on failure: then fd is closed. Returns 0, -EBADF
 * for a negative fd, -ENOTSOCK, -EINVAL when fd is not SOCK_DGRAM or cb
 * is NULL, -ENOMEM, or an epoll_ctl() errno. The Unix socket path of an
 * adopted fd is never unlinked.
 */
WF_EXPORT int wf_udp_adopt(wf_loop *loop, wf_udp **up, int fd,
    wf_udp_recv_cb *cb, void *arg);

/*
 * Send one datagram now; peer NULL: the connected one (-EDESTADDRREQ when
 * there is none). Returns 0; -EAGAIN when the socket buffer is full (for a
 * Unix peer also when the receiver's queue is), the datagram is dropped;
 * -EMSGSIZE when it can never fit; or another errno of sendmsg(), such as
 * -ECONNREFUSED when an earlier datagram to the connected peer drew an
 * ICMP error not yet read (this one was not sent).
 */
WF_EXPORT int wf_udp_send(wf_udp *u, const void *p, size_t n,
    const struct wf_addr *peer);

/* The same, gathered from iovcnt buffers into one datagram. */
WF_EXPORT int wf_udp_sendv(wf_udp *u, const struct iovec *iov, int iovcnt,
    const struct wf_addr *peer);

/*
 * Fix the default peer of wf_udp_send(); from then on only datagrams from
 * it are received (datagrams already queued from others may still come),
 * and its ICMP errors reach the socket (see above). NULL peer dissolves
 * the association; the socket keeps its port (Linux drops a port the
 * kernel chose: it is bound again). Returns 0, or the errno of connect(),
 * or of that bind() (the port was taken meanwhile: the socket is unbound,
 * the next send binds a new one).
 */
WF_EXPORT int wf_udp_connect(wf_udp *u, const struct wf_addr *peer);

/*
 * Stop and restart receiving; datagrams wait in the socket's receive
 * buffer meanwhile (the kernel drops what does not fit). A resume during
 * the 1 s pause after a receive error takes effect when it ends. Resume
 * returns 0 or the epoll_ctl() errno.
 */
WF_EXPORT void wf_udp_pause(wf_udp *u);
WF_EXPORT int wf_udp_resume(wf_udp *u);

/* The bound address (with the port the kernel chose for port 0). */
WF_EXPORT int wf_udp_addr(const wf_udp *u, struct wf_addr *a);
WF_EXPORT int wf_udp_fd(const wf_udp *u);

/* The arg passed to the callback; setting it takes effect from the next call. */
WF_EXPORT void *wf_udp_arg(const wf_udp *u);
WF_EXPORT void wf_udp_set_arg(wf_udp *u, void *arg);

/*
 * Stop, close, and unlink a Unix socket path this watcher created (only if
 * the path still is the socket it bound). The socket is closed at once, so
 * the address can be bound again right away, also from the callback; the
 * memory goes after the dispatch. A watcher still open when its loop is
 * freed is closed the same way.
 */
WF_EXPORT void wf_udp_close(wf_udp *u);

WF_END_DECLS

#endif
