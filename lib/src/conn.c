/*
 * Buffered stream connections.
 *
 * Fast paths first: data is read into a 64 KiB stack area and lent to
 * on_data without a copy; only bytes the callback leaves behind are copied
 * to memory of the connection's own. A send on an empty output buffer is
 * written directly; only what the socket does not take is buffered. Buffers
 * are released whenever they empty, so an idle connection is one struct.
 * A large body can be read straight into the caller's memory instead
 * (wf_conn_read_into).
 *
 * Teardown happens in one place, teardown(), which calls on_close once; the
 * struct itself is freed with its embedded watcher, after the dispatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer_int.h"
#include "conn_int.h"
#include "weft/frame.h"
#include "weft/timer.h"

#define SPILL (64 * 1024)
#define DEFAULT_LINGER_MS 5000

enum {
	C_PAUSED = 0x01,   /* the caller paused reading */
	C_CLOSING = 0x02,  /* graceful close: flushing, then lingering */
	C_SHUT = 0x04,     /* shutdown(SHUT_WR) done */
	C_PEER_EOF = 0x08, /* the peer closed its end */
	C_CLOSED = 0x10,   /* torn down; freed after the dispatch */
	C_HIGH = 0x20,     /* on_high_water called since the last drain */
	C_IN_DATA = 0x40,  /* inside on_data */
	C_CORKED = 0x80,   /* on_data wrote once already: queue, flush after */
	C_EOF_LATER = 0x100, /* end of input seen; input kept is offered first */
	C_STREAM = 0x200,  /* a pipe or terminal: read/write, no half-close */
	C_RDONLY = 0x400,  /* a pipe's read end: sends fail */
	C_WRONLY = 0x800,  /* a pipe's write end: nothing to read */
};

static void teardown(wf_conn *c, enum wf_close_reason why, int err);

static void
update_interest(wf_conn *c)
{
	unsigned want = 0;

	if (c->flags & C_WRONLY)
		;
	else if ((c->flags & C_CLOSING) ? !(c->flags & C_PEER_EOF) :
	    !(c->flags & (C_PAUSED | C_PEER_EOF)))
		want |= WF_READ;
	if (c->out.len)
		want |= WF_WRITE;
	if (want == c->io.interest)
		return; /* the usual case: called after every on_data */
	if (wf_io_modify(&c->io, want) < 0)
		teardown(c, WF_CLOSE_ERROR, EBADF);
}

static void
touch(wf_conn *c)
{
	if (c->owner)
		c->owner->touch(c, c->owner->owner);
}

static void flush(wf_conn *c);

/* A pipe would fail recv() and sendmsg() with ENOTSOCK first: go direct. */
static ssize_t
conn_recv(wf_conn *c, void *p, size_t n)
{
	ssize_t r;

	if (!(c->flags & C_STREAM))
		return wf__recv(c->io.fd, p, n);
	do
		r = read(c->io.fd, p, n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static ssize_t
conn_send(wf_conn *c, const struct iovec *iov, int cnt)
{
	ssize_t r;

	if (!(c->flags & C_STREAM))
		return wf__send(c->io.fd, iov, cnt);
	do
		r = writev(c->io.fd, iov, cnt);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/*
 * Pipelined requests make several responses per on_data: the first is
 * written at once (no copy, and the only write when there is one response),
 * the rest are queued and leave in one write when the callback returns.
 */
static void
deliver(wf_conn *c)
{
	touch(c);
	c->flags |= C_IN_DATA;
	c->cbs->on_data(c, &c->in, c->arg);
	if (c->flags & C_CLOSED)
		return;
	c->flags &= ~(C_IN_DATA | C_CORKED);
	if (c->out.len && !(c->io.interest & WF_WRITE))
		flush(c);
	if (!(c->flags & C_CLOSED))
		update_interest(c);
}

/* err: a positive errno or 0 inside this file; on_close gets it negative. */
static void
teardown(wf_conn *c, enum wf_close_reason why, int err)
{
	int fd = c->io.fd;

	if (c->flags & C_CLOSED)
		return;
	c->flags |= C_CLOSED;
	c->rd = NULL;
	wf_timer_free(c->linger);
	c->linger = NULL;
	if (c->ref) {
		wf__conn_ref_detach(c->ref);
		c->ref = NULL;
	}
	if (c->owner)
		c->owner->gone(c, c->owner->owner);
	if (c->cbs->on_close)
		c->cbs->on_close(c, why, -err, c->arg);
	wf_buf_reset(&c->in, 1);
	wf_buf_reset(&c->out, 1);
	wf_io_stop(&c->io); /* may free c: the last use of it */
	close(fd);
}

/*
 * After the teardown, or when the loop is freed with the connection open:
 * then, as for every watcher, no callback, but its descriptor and buffers
 * go with it (its linger timer went with the loop's timers already).
 */
static void
release(void *arg)
{
	wf_conn *c = arg;

	if (!(c->flags & C_CLOSED)) {
		if (c->ref)
			wf__conn_ref_detach(c->ref);
		wf_buf_reset(&c->in, 1);
		wf_buf_reset(&c->out, 1);
		close(c->io.fd);
	}
	free(c);
}

/* Output is flushed during a graceful close: half-close, then linger. */
static void
flushed_while_closing(wf_conn *c)
{
	if (c->flags & C_STREAM) {
		teardown(c, WF_CLOSE_LOCAL, 0); /* no half-close, no reset */
		return;
	}
	if (!(c->flags & C_SHUT)) {
		c->flags |= C_SHUT;
		(void)shutdown(c->io.fd, SHUT_WR);
	}
	/*
	 * Closing with unread input makes the kernel send a reset, which can
	 * destroy the reply we just wrote before the peer reads it. So wait
	 * for the peer's end of file (reading and discarding), as nginx's
	 * lingering close does; the linger timer bounds the wait.
	 */
	if (c->flags & C_PEER_EOF)
		teardown(c, WF_CLOSE_LOCAL, 0);
	else
		update_interest(c);
}

static void
flush(wf_conn *c)
{
	int waited = c->io.interest & WF_WRITE;
	struct iovec iov = { c->out.data + c->out.off, c->out.len };
	ssize_t n = c->out.len ? conn_send(c, &iov, 1) : 0;

	if (n > 0)
		wf_buf_consume(&c->out, (size_t)n);

	if (n < 0 && n != -EAGAIN) {
		teardown(c, WF_CLOSE_ERROR, (int)-n);
		return;
	}
	if (n > 0)
		touch(c);
	if (c->out.len)
		return;
	wf_buf_reset(&c->out, 1);
	c->flags &= ~C_HIGH;
	if (c->flags & C_CLOSING) {
		flushed_while_closing(c);
		return;
	}
	update_interest(c);
	/* Drained after waiting for the socket, not after every batch. */
	if (waited && c->cbs->on_drain && !(c->flags & C_CLOSED))
		c->cbs->on_drain(c, c->arg);
}

static void
peer_eof(wf_conn *c)
{
	c->flags |= C_PEER_EOF;
	if (c->flags & C_CLOSING) {
		if (c->flags & C_SHUT)
			teardown(c, WF_CLOSE_LOCAL, 0);
		else
			update_interest(c);
	} else if (c->cbs->on_eof) {
		/* Still writable: the application closes when it is done. */
		update_interest(c);
		c->cbs->on_eof(c, c->arg);
	} else if (c->out.len) {
		/* The peer half-closed: still deliver what we owe it. */
		wf_conn_close(c, DEFAULT_LINGER_MS);
	} else
		teardown(c, WF_CLOSE_PEER, 0);
}

/*
 * End of input (the peer's, or wf_conn_shutdown_read): input already kept
 * goes to on_data first, and the end is reported only once the caller has
 * had it all and is not paused; a pause defers it to the resume.
 */
static void
end_of_input(wf_conn *c)
{
	c->flags |= C_PEER_EOF;
	if (c->in.len && !(c->flags & C_CLOSING)) {
		c->flags |= C_EOF_LATER;
		if (!(c->flags & C_PAUSED))
			deliver(c);
		if (c->flags & (C_CLOSED | C_PAUSED))
			return;
	}
	c->flags &= ~C_EOF_LATER;
	if (!(c->flags & C_CLOSED) && c->in.len == 0)
		wf_buf_reset(&c->in, 1);
	peer_eof(c);
}

/* Into the caller's target: exactly what it lacks, never past it. */
static ssize_t
read_target(wf_conn *c)
{
	wf_fill_cb cb = c->rd_cb;
	size_t want = c->rd_len - c->rd_got;
	ssize_t n;

	/* Large bodies on other connections of the loop wait no longer. */
	if (want > WF__TARGET_READ)
		want = WF__TARGET_READ;
	if ((n = conn_recv(c, c->rd + c->rd_got, want)) <= 0)
		return n;
	touch(c);
	c->rd_got += (size_t)n;
	if (c->rd_got == c->rd_len)
		c->rd = NULL; /* before the call, which may set the next one */
	cb(c, c->rd_got, c->arg);
	if (!(c->flags & C_CLOSED))
		update_interest(c);
	return n;
}

static void
readable(wf_conn *c)
{
	char spill[SPILL];
	ssize_t n;

	if (c->rd) { /* never while closing: wf_conn_close() clears it */
		if ((n = read_target(c)) > 0)
			return;
	} else if (c->flags & C_CLOSING) {
		n = conn_recv(c, spill, sizeof(spill));
	} else if (c->in.cap == 0) {
		n = conn_recv(c, spill, c->max_in < SPILL ? c->max_in : SPILL);
		if (n > 0) {
			wf__buf_borrow(&c->in, spill, (size_t)n);
			deliver(c);
			if (c->flags & C_CLOSED)
				return;
			if (wf__buf_keep(&c->in) < 0)
				teardown(c, WF_CLOSE_ERROR, ENOMEM);
			return;
		}
	} else {
		/*
		 * A full buffer kept while the caller paused us goes first
		 * (the task wf_conn_resume posted may not have run yet): only
		 * input the caller had its chance at counts against max_in.
		 */
		if (c->in.len >= c->max_in) {
			deliver(c);
			/* on_data may have set a target: the next read is its. */
			if ((c->flags & (C_CLOSED | C_PAUSED)) || c->rd)
				return;
		}
		n = wf_buf_read_fd(&c->in, c->io.fd, c->max_in);
		if (n > 0) {
			deliver(c);
			if (!(c->flags & C_CLOSED) && c->in.len == 0)
				wf_buf_reset(&c->in, 1);
			return;
		}
	}
	if (n == 0)
		end_of_input(c);
	else if (n == -ENOBUFS)
		teardown(c, WF_CLOSE_LIMIT, ENOBUFS);
	else if (n < 0 && n != -EAGAIN)
		teardown(c, WF_CLOSE_ERROR, (int)-n);
}

static void
on_io(wf_io *io, int fd, unsigned events, void *arg)
{
	wf_conn *c = arg;

	(void)io;
	(void)fd;
	/* A pipe's reader went: a write now would only raise SIGPIPE. */
	if ((events & WF_ERR) && (c->flags & C_WRONLY)) {
		teardown(c, WF_CLOSE_PEER, EPIPE);
		return;
	}
	if (events & WF_WRITE) {
		flush(c);
		if (c->flags & C_CLOSED)
			return;
	}
	if (events & WF_READ)
		readable(c);
}

int
wf_conn_adopt(wf_loop *loop, wf_conn **cp, int fd,
    const struct wf_conn_cbs *cbs, void *arg)
{
	unsigned kind = 0;
	int fl, one = 1, rc;
	struct stat st;
	wf_conn *c;

	*cp = NULL;
	if (cbs == NULL || cbs->on_data == NULL) {
		close(fd);
		return -EINVAL;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (S_ISSOCK(st.st_mode)) {
		/* Fails on Unix sockets, harmlessly. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		kind = C_STREAM;
		if ((fl & O_ACCMODE) == O_RDONLY)
			kind |= C_RDONLY;
		else if ((fl & O_ACCMODE) == O_WRONLY)
			kind |= C_WRONLY;
	} else {
		close(fd); /* a file or directory: epoll cannot watch it */
		return -EPERM;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->cbs = cbs;
	c->arg = arg;
	c->flags = kind;
	c->high = 1u << 20;
	c->max_in = 1u << 20;
	c->max_out = 64u << 20;
	if ((rc = wf__io_init(loop, &c->io, fd, (kind & C_WRONLY) ? 0 : WF_READ,
	    on_io, c, release)) < 0) {
		free(c);
		close(fd);
		return rc;
	}
	*cp = c;
	return 0;
}

int
wf_conn_sendv(wf_conn *c, const struct iovec *iov, int iovcnt)
{
	size_t total = 0, skip;
	ssize_t n = 0;
	int i, rc;

	if (c->flags & (C_CLOSING | C_CLOSED))
		return -ENOTCONN;
	if (c->flags & C_RDONLY)
		return -EBADF;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return 0;
	/* Refuse before writing anything: never a half-sent message. */
	if (c->out.len + total > c->max_out)
		return -ENOBUFS;
	if (c->out.len == 0 && !(c->flags & C_CORKED)) {
		if (c->flags & C_IN_DATA)
			c->flags |= C_CORKED;
		n = conn_send(c, iov, iovcnt);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0) {
			teardown(c, WF_CLOSE_ERROR, (int)-n);
			return (int)n;
		}
		if ((size_t)n == total)
			return 0;
	}
	if ((rc = wf_buf_reserve(&c->out, total - (size_t)n)) < 0) {
		teardown(c, WF_CLOSE_ERROR, ENOMEM);
		return rc;
	}
	for (i = 0, skip = (size_t)n; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		wf_buf_append(&c->out, (const char *)iov[i].iov_base + skip,
		    len - skip);
		skip = 0;
	}
	if (!(c->flags & C_IN_DATA))
		update_interest(c);
	if (c->high && c->out.len > c->high && !(c->flags & C_HIGH)) {
		c->flags |= C_HIGH;
		if (c->cbs->on_high_water)
			c->cbs->on_high_water(c, c->out.len, c->arg);
	}
	return 0;
}

int
wf_conn_send(wf_conn *c, const void *p, size_t n)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return wf_conn_sendv(c, &iov, 1);
}

int
wf_conn_send_frame(wf_conn *c, uint16_t status, uint16_t flags,
    const void *payload, size_t n)
{
	unsigned char hdr[WF_FRAME_HDR];
	struct iovec iov[2] = { { hdr, sizeof(hdr) },
	    { (void *)(uintptr_t)payload, n } };

	if (n > UINT32_MAX)
		return -EMSGSIZE;
	wf_frame_header(hdr, (uint32_t)n, status, flags);
	return wf_conn_sendv(c, iov, n ? 2 : 1);
}

static void
redeliver(wf_conn *c, void *arg)
{
	(void)arg;
	if (c == NULL || (c->flags & (C_PAUSED | C_CLOSING | C_CLOSED)))
		return;
	if (c->flags & C_EOF_LATER) {
		end_of_input(c);
		return;
	}
	if (c->in.len) {
		deliver(c);
		if (!(c->flags & C_CLOSED) && c->in.len == 0)
			wf_buf_reset(&c->in, 1);
	}
}

/* Later, from a task: never from inside the caller's own call. */
static void
post_redeliver(wf_conn *c)
{
	wf_conn_ref *r;

	if ((r = wf_conn_ref_get(c)) != NULL) {
		wf_conn_ref_call(r, redeliver, NULL);
		wf_conn_ref_put(r);
	}
}

int
wf_conn_read_into(wf_conn *c, void *dst, size_t len, wf_fill_cb on_fill)
{
	if (dst == NULL) {
		c->rd = NULL;
		return 0;
	}
	if (c->flags & (C_CLOSING | C_CLOSED | C_PEER_EOF))
		return -ENOTCONN;
	if (len == 0 || on_fill == NULL)
		return -EINVAL;
	if (c->in.len)
		return -EBUSY;
	c->rd = dst;
	c->rd_len = len;
	c->rd_got = 0;
	c->rd_cb = on_fill;
	return 0;
}

void
wf_conn_shutdown_read(wf_conn *c)
{
	if (c->flags & (C_PEER_EOF | C_CLOSING | C_CLOSED))
		return;
	c->flags |= C_PEER_EOF | C_EOF_LATER;
	update_interest(c);
	if (!(c->flags & C_PAUSED))
		post_redeliver(c);
}

void
wf_conn_pause(wf_conn *c)
{
	if (c->flags & C_CLOSED)
		return;
	c->flags |= C_PAUSED;
	update_interest(c);
}

void
wf_conn_resume(wf_conn *c)
{
	if (!(c->flags & C_PAUSED) || (c->flags & C_CLOSED))
		return;
	c->flags &= ~C_PAUSED;
	update_interest(c);
	/*
	 * Input buffered while paused, or an end of input held back, gets no
	 * new readiness event: hand it over from a task.
	 */
	if (c->in.len || (c->flags & C_EOF_LATER))
		post_redeliver(c);
}

void
wf_conn_set_limits(wf_conn *c, size_t high, size_t max_in, size_t max_out)
{
	c->high = high > UINT32_MAX ? UINT32_MAX : (uint32_t)high;
	c->max_in = max_in > UINT32_MAX ? UINT32_MAX : (uint32_t)max_in;
	c->max_out = max_out > UINT32_MAX ? UINT32_MAX : (uint32_t)max_out;
	if (c->max_in == 0)
		c->max_in = 1;
}

static void
on_linger(wf_timer *t, void *arg)
{
	(void)t;
	teardown(arg, WF_CLOSE_TIMEOUT, ETIMEDOUT);
}

void
wf_conn_close(wf_conn *c, uint64_t linger_ms)
{
	if (c->flags & (C_CLOSING | C_CLOSED))
		return;
	c->flags |= C_CLOSING;
	c->rd = NULL;
	wf_buf_reset(&c->in, 1);
	if (wf_timer_new(c->io.loop, &c->linger, on_linger, c) < 0 ||
	    wf_timer_start(c->linger, linger_ms ? linger_ms : DEFAULT_LINGER_MS,
	    0) < 0) {
		teardown(c, WF_CLOSE_ERROR, ENOMEM);
		return;
	}
	if (c->out.len == 0)
		flushed_while_closing(c);
	else
		update_interest(c);
}

void
wf_conn_abort(wf_conn *c)
{
	teardown(c, WF_CLOSE_LOCAL, 0);
}

void
wf_conn_fail(wf_conn *c, enum wf_close_reason why, int err)
{
	/* Either sign is taken: on_close gets it negative, like every error. */
	teardown(c, why, err < 0 ? -err : err);
}

size_t
wf_conn_queued(const wf_conn *c)
{
	return c->out.len;
}

int
wf_conn_fd(const wf_conn *c)
{
	return c->io.fd;
}

wf_loop *
wf_conn_loop(const wf_conn *c)
{
	return c->io.loop;
}

void *
wf_conn_arg(const wf_conn *c)
{
	return c->arg;
}

void
wf_conn_set_arg(wf_conn *c, void *arg)
{
	c->arg = arg;
}

void
wf__conn_set_owner(wf_conn *c, const struct wf__conn_owner *o)
{
	c->owner = o;
}
