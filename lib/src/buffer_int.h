/* Buffer internals shared with the connection code. */
#ifndef WEFT_BUFFER_INT_H
#define WEFT_BUFFER_INT_H

#include <sys/uio.h>

#include "weft/buffer.h"

enum {
	WF__BUF_BORROWED = 0x1, /* data is the caller's (a stack area) */
};

/* Lend the buffer n bytes at p (no copy) for the length of a callback. */
void wf__buf_borrow(wf_buf *b, char *p, size_t n);

/* After that callback: copy what is left into memory of the buffer's own. */
int wf__buf_keep(wf_buf *b);

/* recv, again on EINTR; bytes, 0 at the end, or -errno. */
ssize_t wf__recv(int fd, void *p, size_t n);

/* sendmsg(MSG_NOSIGNAL), or writev for non-sockets; bytes or -errno. */
ssize_t wf__send(int fd, const struct iovec *iov, int cnt);

#endif
