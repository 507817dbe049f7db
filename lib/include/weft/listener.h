/*
 * Listening sockets: TCP on IPv4/IPv6 and Unix stream sockets, opened here
 * or adopted (socket activation). Accepted sockets are non-blocking and
 * close-on-exec, and belong to the accept callback.
 *
 * Running out of descriptors (EMFILE, ENFILE) never turns into a busy loop:
 * a spare descriptor is released to accept and close the excess connection,
 * accepting pauses with a growing backoff, and the log callback hears about
 * it at most once a second.
 */
#ifndef WEFT_LISTENER_H
#define WEFT_LISTENER_H

#include <weft/addr.h>
#include <weft/loop.h>

typedef struct wf_listener wf_listener;

typedef void wf_accept_cb(wf_listener *l, int fd, const struct wf_addr *peer,
    void *arg);

struct wf_listen_opts {
	int backlog;   /* 0: 511 */
	int reuseport; /* set SO_REUSEPORT (several listeners on one port) */
	int unix_mode; /* chmod for a Unix socket path; 0: as the umask made it */
};

/*
 * Bind and listen. SO_REUSEADDR is always set on TCP; IPv6 sockets are
 * IPv6-only. A stale Unix socket file (nobody accepting on it) is replaced;
 * a live one gives -EADDRINUSE; a non-socket file gives -EEXIST.
 */
WF_EXPORT int wf_listener_open(wf_loop *loop, wf_listener **lp,
    const struct wf_addr *addr, const struct wf_listen_opts *opts,
    wf_accept_cb *cb, void *arg);

/* Take over a listening socket (made non-blocking and close-on-exec). */
WF_EXPORT int wf_listener_adopt(wf_loop *loop, wf_listener **lp, int fd,
    wf_accept_cb *cb, void *arg);

WF_EXPORT void wf_listener_pause(wf_listener *l);
WF_EXPORT int wf_listener_resume(wf_listener *l);
WF_EXPORT int wf_listener_fd(const wf_listener *l);

/* The bound address (with the port the kernel chose for port 0). */
WF_EXPORT int wf_listener_addr(const wf_listener *l, struct wf_addr *a);

/* Stop, close, and unlink a Unix socket path this listener created. */
WF_EXPORT void wf_listener_close(wf_listener *l);

#endif
