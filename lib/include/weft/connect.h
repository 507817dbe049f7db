/*
 * Asynchronous connect (TCP or Unix) with a per-attempt timeout and
 * optional retries with exponential backoff.
 */
#ifndef WEFT_CONNECT_H
#define WEFT_CONNECT_H

#include <stdint.h>
#include <weft/addr.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_connect wf_connect;

/*
 * Called once: fd >= 0 is the connected socket (non-blocking,
 * close-on-exec, now the callee's) and err is 0, or fd == -1 and err is the
 * negative errno of the last attempt (-ETIMEDOUT for a timeout). The
 * request is freed on return. A request still pending when its loop is
 * freed is released with it, its socket closed, and the callback not called.
 */
typedef void wf_connect_cb(wf_connect *req, int fd, int err, void *arg);

/* size: sizeof(struct wf_connect_opts) as compiled (see wf_server_opts). */
struct wf_connect_opts {
	size_t size;
	uint64_t timeout_ms;     /* per attempt; 0: the kernel's own */
	unsigned retries;        /* attempts after the first; 0: none */
	uint64_t backoff_ms;     /* first retry delay (0: 100), doubling */
	uint64_t backoff_max_ms; /* cap on the delay (0: 10 s) */
};

/*
 * opts may be NULL. The callback never runs inside this call. 0; -EINVAL
 * (no cb or addr, opts->size too small); -E2BIG (unknown fields set);
 * -ENOMEM.
 */
WF_EXPORT int wf_connect_start(wf_loop *loop, wf_connect **reqp,
    const struct wf_addr *addr, const struct wf_connect_opts *opts,
    wf_connect_cb *cb, void *arg);

/* Give up: the callback is not called. Not from inside the callback. */
WF_EXPORT void wf_connect_cancel(wf_connect *req);

WF_END_DECLS

#endif
