/*
 * Byte buffers. Compaction is one memmove; growth copies only the readable
 * bytes into a fresh region (realloc would also copy the consumed front).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buffer_int.h"

#define SPILL (64 * 1024)

void
wf_buf_consume(wf_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		b->off = b->flags & WF__BUF_BORROWED ? 0 : WF_BUF_PREPEND;
		if (b->off > b->cap)
			b->off = b->cap;
		return;
	}
	b->off += (uint32_t)n;
	b->len -= (uint32_t)n;
}

static size_t
room(const wf_buf *b)
{
	return b->cap - b->off - b->len;
}

int
wf_buf_reserve(wf_buf *b, size_t n)
{
	size_t cap, need;
	char *p;

	if (room(b) >= n)
		return 0;
	/* Checked in size_t, where these sums cannot wrap. */
	if (n > UINT32_MAX)
		return -ENOMEM;
	need = (size_t)WF_BUF_PREPEND + b->len + n;
	if (!(b->flags & WF__BUF_BORROWED) && b->cap >= need) {
		/* Compact: the bytes go back to their usual place. */
		memmove(b->data + WF_BUF_PREPEND, b->data + b->off, b->len);
		b->off = WF_BUF_PREPEND;
		return 0;
	}
	if (need > UINT32_MAX)
		return -ENOMEM;
	cap = b->cap > 256 ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if ((p = malloc(cap)) == NULL)
		return -ENOMEM;
	if (b->len)
		memcpy(p + WF_BUF_PREPEND, b->data + b->off, b->len);
	if (!(b->flags & WF__BUF_BORROWED))
		free(b->data);
	b->flags &= ~(uint32_t)WF__BUF_BORROWED;
	b->data = p;
	b->cap = (uint32_t)cap;
	b->off = WF_BUF_PREPEND;
	return 0;
}

int
wf_buf_append(wf_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = wf_buf_reserve(b, n)) < 0)
		return rc;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

int
wf_buf_prepend(wf_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0; /* a never-used buffer has no data to point into */
	if (b->off < n || (b->flags & WF__BUF_BORROWED)) {
		/* Rare: make the room by moving the bytes once. */
		if ((rc = wf_buf_reserve(b, n + WF_BUF_PREPEND)) < 0)
			return rc;
		if (b->off < n) {
			memmove(b->data + b->off + n, b->data + b->off, b->len);
			b->off += (uint32_t)n;
		}
	}
	b->off -= (uint32_t)n;
	b->len += (uint32_t)n;
	memcpy(b->data + b->off, p, n);
	return 0;
}

ssize_t
wf_buf_read_fd(wf_buf *b, int fd, size_t limit)
{
	char spill[SPILL];
	struct iovec iov[2];
	size_t want, first;
	ssize_t n;
	int cnt = 0;

	if (b->len >= limit)
		return -ENOBUFS;
	want = limit - b->len;
	first = room(b) < want ? room(b) : want;
	if (b->flags & WF__BUF_BORROWED)
		first = 0;
	if (first) {
		iov[cnt].iov_base = b->data + b->off + b->len;
		iov[cnt++].iov_len = first;
	}
	if (want > first) {
		iov[cnt].iov_base = spill;
		iov[cnt++].iov_len = want - first < SPILL ? want - first : SPILL;
	}
	do
		n = readv(fd, iov, cnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n <= first) {
		b->len += (uint32_t)n;
		return n;
	}
	b->len += (uint32_t)first;
	if (wf_buf_append(b, spill, (size_t)n - first) < 0)
		return -ENOMEM;
	return n;
}

ssize_t
wf__send(int fd, const struct iovec *iov, int cnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	    .msg_iovlen = (size_t)cnt };
	ssize_t n;

	/* MSG_NOSIGNAL: a closed peer is an EPIPE, never a SIGPIPE. */
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ENOTSOCK) {
		do
			n = writev(fd, iov, cnt);
		while (n < 0 && errno == EINTR);
	}
	return n < 0 ? -errno : n;
}

ssize_t
wf__recv(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = recv(fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

ssize_t
wf_buf_write_fd(wf_buf *b, int fd)
{
	struct iovec iov = { b->data + b->off, b->len };
	ssize_t n;

	if (b->len == 0)
		return 0;
	if ((n = wf__send(fd, &iov, 1)) > 0)
		wf_buf_consume(b, (size_t)n);
	return n;
}

void
wf_buf_reset(wf_buf *b, int release)
{
	if (release || (b->flags & WF__BUF_BORROWED)) {
		if (!(b->flags & WF__BUF_BORROWED))
			free(b->data);
		b->data = NULL;
		b->cap = 0;
		b->flags &= ~(uint32_t)WF__BUF_BORROWED;
	}
	b->len = 0;
	b->off = b->cap ? WF_BUF_PREPEND : 0;
}

void
wf__buf_borrow(wf_buf *b, char *p, size_t n)
{
	b->data = p;
	b->cap = (uint32_t)n;
	b->off = 0;
	b->len = (uint32_t)n;
	b->flags |= WF__BUF_BORROWED;
}

int
wf__buf_keep(wf_buf *b)
{
	if (!(b->flags & WF__BUF_BORROWED))
		return 0;
	if (b->len == 0) {
		wf_buf_reset(b, 1);
		return 0;
	}
	/* reserve(room + 1) forces the copy into memory of our own. */
	return wf_buf_reserve(b, room(b) + 1);
}
