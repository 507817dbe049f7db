/*
 * The handler SDK: the other end of weftd's worker socket.
 *
 * weftd starts a handler with its socket on fd 3 (WEFT_FD) and sends it
 * weft frames; the handler answers each request with exactly one response
 * frame, in order. With this API a C handler is a function and a call:
 *
 *   static int upcase(const struct wf_frame *req, wf_buf *resp,
 *       uint16_t *status, void *arg) { ...; return 0; }
 *   int main(void) { return wf_handler_run(wf_handler_fd(), 0, upcase,
 *       NULL) < 0; }
 *
 * The calls block: a handler process serves one request at a time. The
 * handler says hello first and answers with each request's tag, so weftd
 * can tell a stray answer from the one it waits for (weft-protocol(7)).
 */
#ifndef WEFT_HANDLER_H
#define WEFT_HANDLER_H

#include <weft/buffer.h>
#include <weft/frame.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

/*
 * Answer req: append the response payload to resp and set *status (0 on
 * entry; 100 and above are the handler's own codes, 1-99 are weftd's).
 * Return 0, or a negative errno to stop serving (wf_handler_run returns it).
 */
typedef int wf_handler_fn(const struct wf_frame *req, wf_buf *resp,
    uint16_t *status, void *arg);

/* The worker socket: $WEFT_FD if set and valid, else 3. */
WF_EXPORT int wf_handler_fd(void);

/*
 * Serve requests on fd until the peer closes it. max_frame bounds a
 * request's payload (0: $WEFT_MAX_FRAME, which weftd sets to its own
 * max_frame; without it, 16 MiB). Returns 0 at a clean end of file (between
 * frames), -EMSGSIZE on a request over max_frame, -ECONNRESET when the
 * stream ends inside a frame, or fn's or a syscall's negative errno.
 */
WF_EXPORT int wf_handler_run(int fd, uint32_t max_frame, wf_handler_fn *fn,
    void *arg);

WF_END_DECLS

#endif
