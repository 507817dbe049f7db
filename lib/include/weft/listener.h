/*
 * Listening sockets: TCP on IPv4/IPv6 and Unix stream sockets, opened here
 * or adopted (socket activation). Accepted sockets are non-blocking and
 * close-on-exec, and belong to the accept callback. A listener belongs to
 * its loop's thread. At most 64 connections are accepted per wakeup.
 *
 * Running out of descriptors (EMFILE, ENFILE) never turns into a busy loop:
 * a spare descriptor (/dev/null) is released to accept and close the
 * queued connections, so their clients see a close rather than a hang;
 * then accepting pauses on a timer, 10 ms at first, doubling up to 1 s
 * while the shortage lasts, back to 10 ms after a successful accept.
 * ENOBUFS and ENOMEM pause the same way without dropping anything, and so
 * does any other failure of accept4() (a socket shut down behind our back),
 * logged as an error. The log callback (weft/log.h) hears about it at most
 * once a second per listener, with the number of connections dropped since
 * the last message.
 */
#ifndef WEFT_LISTENER_H
#define WEFT_LISTENER_H

#include <sys/types.h>
#include <weft/addr.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_listener wf_listener;

/*
 * A connection arrived: fd is the caller's to close. peer is only valid
 * during the call (a Unix client that did not bind has an empty path). The
 * callback may pause or close l; no further connection is accepted in the
 * same wakeup then.
 */
typedef void wf_accept_cb(wf_listener *l, int fd, const struct wf_addr *peer,
    void *arg);

/*
 * NULL opts gives the defaults, as does every field left 0. size is
 * sizeof(struct wf_listen_opts) as the caller was compiled (see
 * wf_server_opts in weft/server.h: -E2BIG for unknown fields or a size
 * over 4096).
 */
struct wf_listen_opts {
	size_t size;
	int backlog;   /* 0: 511 (the kernel caps it at net.core.somaxconn) */
	int reuseport; /* set SO_REUSEPORT (several listeners on one port);
			  TCP only, ignored for Unix sockets */
	/*
	 * A Unix socket path gets its mode and owner between bind() and
	 * listen(): until listen() every connect() is refused, so no client
	 * ever connects under the umask's mode or the wrong owner.
	 */
	int unix_mode;  /* chmod to this (07777 bits); 0: as the umask made it */
	int unix_chown; /* non-zero: lchown to unix_uid, unix_gid; (uid_t)-1
			   or (gid_t)-1 leaves that one as it is */
	uid_t unix_uid;
	gid_t unix_gid;
};

/*
 * Bind and listen. SO_REUSEADDR is always set on TCP; IPv6 sockets are
 * IPv6-only. A stale Unix socket file (connect() refused: nobody accepting
 * on it) is replaced; a live one gives -EADDRINUSE; any other kind of file,
 * a symlink included, gives -EEXIST. Returns 0, -EINVAL for bad arguments
 * (opts->size too small among them), -E2BIG for opts fields this library
 * does not know,
 * -EAFNOSUPPORT for a family other than IPv4, IPv6 and Unix, or the errno
 * of the failing socket(), setsockopt(), bind(), lchown(), chmod() or
 * listen(); on
 * failure nothing is left behind (no fd, no socket file).
 */
WF_EXPORT int wf_listener_open(wf_loop *loop, wf_listener **lp,
    const struct wf_addr *addr, const struct wf_listen_opts *opts,
    wf_accept_cb *cb, void *arg);

/*
 * Take over a listening socket (made non-blocking and close-on-exec; that
 * flag is shared with other holders of the same open file). The listener
 * owns fd from the call on, also on failure: then fd is closed. Returns 0,
 * -EBADF for a negative fd, -EINVAL when fd is not listening (SO_ACCEPTCONN)
 * or cb is NULL, -ENOTSOCK, -ENOMEM, or an epoll_ctl() errno. The Unix
 * socket path of an adopted fd is never unlinked.
 */
WF_EXPORT int wf_listener_adopt(wf_loop *loop, wf_listener **lp, int fd,
    wf_accept_cb *cb, void *arg);

/*
 * Stop and restart accepting, e.g. at a connection limit; new connections
 * wait in the kernel's backlog meanwhile. A resume during a shortage
 * backoff takes effect when the backoff ends. Resume returns 0 or the
 * epoll_ctl() errno.
 */
WF_EXPORT void wf_listener_pause(wf_listener *l);
WF_EXPORT int wf_listener_resume(wf_listener *l);
WF_EXPORT int wf_listener_fd(const wf_listener *l);

/* The bound address (with the port the kernel chose for port 0). */
WF_EXPORT int wf_listener_addr(const wf_listener *l, struct wf_addr *a);

/*
 * Stop, close, and unlink a Unix socket path this listener created (only
 * if the path still is the socket it bound, not one that replaced it). The
 * socket is closed at once, so the address can be bound again right away,
 * also from the accept callback; the memory goes after the dispatch. A
 * listener still open when its loop is freed is closed the same way.
 */
WF_EXPORT void wf_listener_close(wf_listener *l);

WF_END_DECLS

#endif
