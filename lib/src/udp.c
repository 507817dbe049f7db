/*
 * Datagram sockets.
 *
 * A watcher is a library-owned fd watcher (wf__io_start_internal with a
 * release hook), like a listener: wf_udp_close() closes the socket at once
 * but the struct, and the slab the callback's data points into, are freed
 * only when the loop releases the watcher after the dispatch. So the
 * callback may close its own watcher; the receive loop looks at u->closed
 * before going on.
 *
 * Datagrams come in with recvmmsg(), many per syscall, into one slab of
 * fixed slots. A batch is read whole before it is delivered, so a callback
 * that pauses leaves the rest of it read but undelivered: those slots are
 * kept and go first when receiving resumes (a 0 ms timer delivers them
 * even if nothing new arrives).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_int.h"
#include "unix_path.h"
#include "weft/udp.h"

#define BATCH_MAX 16          /* datagrams per recvmmsg() */
#define SLAB_BYTES (256 * 1024) /* slab size that still gets a full batch */
#define RECV_PER_WAKEUP 64    /* datagrams (and skipped errors) per wakeup */
#define DEFAULT_DATAGRAM 65535
#define MAX_DATAGRAM (16u << 20)
#define RETRY_MS 1000         /* receiving pauses this long after an error */

struct wf_udp {
	wf_loop *loop;
	wf_io *io;
	wf_timer *timer;     /* delivers kept slots on resume; ends a stall */
	int fd;
	int family;
	wf_udp_recv_cb *cb;
	void *arg;
	int paused;          /* by the caller (wf_udp_pause) */
	int stalled;         /* a receive error paused it until the timer */
	int closed;          /* wf_udp_close() ran; freed after dispatch */

	/*
	 * The slab: batch slots of max_datagram bytes, batch * max_datagram
	 * <= max(SLAB_BYTES, max_datagram) (wf_udp_opts.max_datagram). Slots
	 * [next, n) of the last recvmmsg() are read but not delivered yet.
	 */
	size_t max_datagram;
	int batch;
	int next, n;
	unsigned char *slab;
	struct mmsghdr msg[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	struct wf_addr peer[BATCH_MAX];

	struct wf__upath upath; /* a Unix socket path we bound */
};

/*
 * The watcher's release hook: after wf_udp_close() (the dispatch is over),
 * or from wf_loop_free() with the watcher still open. In the second case
 * the loop has already freed the timer: do not touch it.
 */
static void
release(void *arg)
{
	wf_udp *u = arg;

	wf__upath_unlink(&u->upath);
	if (u->fd >= 0)
		close(u->fd);
	free(u->slab);
	free(u);
}

/*
 * Hand slots [next, n) to the callback, each taking one of *budget.
 * Returns 0 when the callback paused or closed u.
 */
static int
deliver(wf_udp *u, int *budget)
{
	while (u->next < u->n && *budget > 0) {
		int i = u->next++;

		(*budget)--;
		u->cb(u, u->iov[i].iov_base, u->msg[i].msg_len, &u->peer[i],
		    (u->msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, u->arg);
		/* Closed: u lives until the dispatch ends, its socket not. */
		if (u->closed || u->paused)
			return 0;
	}
	return 1;
}

/*
 * Receiving failed for a reason that does not go away by being read:
 * stop for RETRY_MS rather than spin on a socket that stays readable.
 */
static void
stall(wf_udp *u, const char *why)
{
	u->stalled = 1;
	(void)wf_io_modify(u->io, 0);
	if (wf_timer_start(u->timer, RETRY_MS, 0) < 0) {
		/* No memory for the timer heap: spin rather than stay stuck. */
		u->stalled = 0;
		if (!u->paused)
			(void)wf_io_modify(u->io, WF_READ);
	}
	wf__log(WF_LOG_ERR, "recvmmsg(fd=%d): %s; receiving again in %d ms",
	    u->fd, why, RETRY_MS);
}

/* Readable with nothing to read: shut down for reading (see weft/udp.h)? */
static int
shut_down(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP);
}

/* Errors of an earlier datagram, queued on the socket and read once. */
static int
soft_error(int err)
{
	switch (err) {
	case ECONNREFUSED: /* ICMP port unreachable, connected socket */
	case ECONNRESET:   /* a connected Unix peer went away */
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ENONET:
	case EPROTO:       /* ICMP parameter problem */
	case ENOPROTOOPT:
	case ETIMEDOUT:
	case EMSGSIZE:     /* ICMP fragmentation needed */
		return 1;
	default:
		return 0;
	}
}

/*
 * Deliver what was kept from the last batch, then read and deliver until
 * the socket is drained or the wakeup's budget is spent.
 */
static void
pump(wf_udp *u)
{
	int budget = RECV_PER_WAKEUP, quiet = 1, want, got, i;

	if (!deliver(u, &budget))
		return;
	while (budget > 0) {
		want = budget < u->batch ? budget : u->batch;
		for (i = 0; i < want; i++) {
			u->msg[i].msg_hdr.msg_namelen = sizeof(u->peer[i].ss);
			u->msg[i].msg_hdr.msg_flags = 0;
		}
		got = recvmmsg(u->fd, u->msg, (unsigned)want, MSG_DONTWAIT,
		    NULL);
		if (got < 0) {
			if (errno == EAGAIN) {
				if (quiet && shut_down(u->fd))
					stall(u, "shut down for reading");
				return;
			}
			/* Each costs budget: the loop ends whatever comes. */
			if (errno == EINTR || soft_error(errno)) {
				budget--;
				quiet = 0;
				continue;
			}
			stall(u, strerror(errno));
			return;
		}
		quiet = 0;
		for (i = 0; i < got; i++) {
			struct wf_addr *a = &u->peer[i];

			a->len = u->msg[i].msg_hdr.msg_namelen;
			/* An unbound Unix sender has no name at all. */
			if (a->len == 0 && u->family == AF_UNIX) {
				a->ss.ss_family = AF_UNIX;
				a->len = sizeof(sa_family_t);
			}
		}
		u->next = 0;
		u->n = got;
		if (!deliver(u, &budget))
			return;
		if (got < want)
			return; /* drained: spare the syscall that says so */
	}
}

static void
on_readable(wf_io *io, int fd, unsigned events, void *arg)
{
	(void)io;
	(void)fd;
	(void)events;
	pump(arg);
}

static void
on_timer(wf_timer *t, void *arg)
{
	wf_udp *u = arg;
	int rc;

	(void)t;
	u->stalled = 0;
	if (u->paused)
		return; /* the resume arms it */
	/* After a stall; a no-op when armed already (kept slots only). */
	if ((rc = wf_io_modify(u->io, WF_READ)) < 0) {
		wf__log(WF_LOG_ERR, "epoll_ctl(udp fd=%d): %s", u->fd,
		    strerror(-rc));
		u->stalled = 1;
		(void)wf_timer_start(u->timer, RETRY_MS, 0);
		return;
	}
	if (u->next < u->n)
		pump(u);
}

static int
udp_new(wf_loop *loop, wf_udp **up, int fd, size_t max_datagram,
    wf_udp_recv_cb *cb, void *arg)
{
	size_t batch = SLAB_BYTES / max_datagram;
	wf_udp *u;
	int i;

	*up = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	u->loop = loop;
	u->fd = fd;
	u->cb = cb;
	u->arg = arg;
	u->max_datagram = max_datagram;
	u->batch = batch < 1 ? 1 : batch > BATCH_MAX ? BATCH_MAX : (int)batch;
	for (i = 0; i < BATCH_MAX; i++) {
		u->msg[i].msg_hdr.msg_name = &u->peer[i].ss;
		u->msg[i].msg_hdr.msg_iov = &u->iov[i];
		u->msg[i].msg_hdr.msg_iovlen = 1;
	}
	*up = u;
	return 0;
}

/* The slab and the watcher. On failure u is torn down and freed. */
static int
udp_start(wf_udp *u, wf_udp **up)
{
	int rc, i;

	if ((u->slab = malloc((size_t)u->batch * u->max_datagram)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < u->batch; i++) {
		u->iov[i].iov_base = u->slab + (size_t)i * u->max_datagram;
		u->iov[i].iov_len = u->max_datagram;
	}
	if ((rc = wf_timer_new(u->loop, &u->timer, on_timer, u)) < 0)
		goto fail;
	rc = wf__io_start_internal(u->loop, &u->io, u->fd, WF_READ,
	    on_readable, u, release);
	if (rc < 0)
		goto fail;
	*up = u;
	return 0;
fail:
	wf_timer_free(u->timer);
	release(u);
	return rc;
}

static int
setopt(int fd, int level, int name)
{
	int one = 1;

	if (setsockopt(fd, level, name, &one, sizeof(one)) == -1)
		return -errno;
	return 0;
}

static int
ip_bind(int fd, const struct wf_addr *addr, const struct wf_udp_opts *o)
{
	int rc = 0;

	/* One socket per family, whatever net.ipv6.bindv6only says. */
	if (addr->ss.ss_family == AF_INET6)
		rc = setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY);
	if (rc == 0 && o->reuseaddr)
		rc = setopt(fd, SOL_SOCKET, SO_REUSEADDR);
	if (rc == 0 && o->reuseport)
		rc = setopt(fd, SOL_SOCKET, SO_REUSEPORT);
	if (rc == 0 && bind(fd, (const struct sockaddr *)&addr->ss,
	    addr->len) == -1)
		rc = -errno;
	return rc;
}

_Static_assert(sizeof(struct wf_udp_opts) ==
    WF__SIZE_TO(struct wf_udp_opts, reuseaddr), "wf_udp_opts padding");

int
wf_udp_open(wf_loop *loop, wf_udp **up, const struct wf_addr *bind_addr,
    const struct wf_udp_opts *caller, wf_udp_recv_cb *cb, void *arg)
{
	struct wf_udp_opts o;
	size_t max;
	wf_udp *u;
	int family, fd, rc;

	*up = NULL;
	if ((rc = wf__opts_copy(&o, sizeof(o), caller, WF__SIZE_TO(struct
	    wf_udp_opts, reuseaddr))) < 0)
		return rc;
	max = o.max_datagram ? o.max_datagram : DEFAULT_DATAGRAM;
	if (bind_addr == NULL || cb == NULL || max > MAX_DATAGRAM)
		return -EINVAL;
	family = bind_addr->ss.ss_family;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return -EAFNOSUPPORT;
	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -errno;
	if ((rc = udp_new(loop, &u, fd, max, cb, arg)) < 0)
		return rc;
	u->family = family;
	if (family == AF_UNIX)
		rc = wf__upath_bind(&u->upath, u->fd, SOCK_DGRAM, bind_addr);
	else
		rc = ip_bind(fd, bind_addr, &o);
	if (rc < 0) {
		release(u);
		return rc;
	}
	return udp_start(u, up);
}

int
wf_udp_adopt(wf_loop *loop, wf_udp **up, int fd, wf_udp_recv_cb *cb,
    void *arg)
{
	socklen_t len = sizeof(int);
	int type = 0, family = 0, fl, rc;
	wf_udp *u;

	*up = NULL;
	if (fd < 0)
		return -EBADF;
	if (cb == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		rc = -errno;
		goto fail;
	}
	if (type != SOCK_DGRAM) {
		rc = -EINVAL;
		goto fail;
	}
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) {
		rc = -errno;
		goto fail;
	}
	if ((rc = udp_new(loop, &u, fd, DEFAULT_DATAGRAM, cb, arg)) < 0)
		return rc;
	u->family = family;
	return udp_start(u, up);
fail:
	close(fd);
	return rc;
}

int
wf_udp_sendv(wf_udp *u, const struct iovec *iov, int iovcnt,
    const struct wf_addr *peer)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)(uintptr_t)iov,
	    .msg_iovlen = (size_t)iovcnt };

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL))
		return -EINVAL;
	if (peer != NULL) {
		mh.msg_name = (void *)(uintptr_t)&peer->ss;
		mh.msg_namelen = peer->len;
	}
	/* MSG_NOSIGNAL: a connected Unix peer gone is an error, not SIGPIPE. */
	while (sendmsg(u->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	return 0;
}

int
wf_udp_send(wf_udp *u, const void *p, size_t n, const struct wf_addr *peer)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return wf_udp_sendv(u, &iov, 1, peer);
}

static in_port_t *
port_of(struct wf_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return &((struct sockaddr_in *)&a->ss)->sin_port;
	if (a->ss.ss_family == AF_INET6)
		return &((struct sockaddr_in6 *)&a->ss)->sin6_port;
	return NULL;
}

/*
 * Linux dissolving a UDP association also unbinds a port the kernel chose
 * (bind to port 0, or none): the socket would come back on a new one at
 * the next send, out of its peers' reach. Bind the old port again, on the
 * address the socket is left with (the bound one, or the wildcard).
 */
static int
disconnect(wf_udp *u)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct wf_addr before, after;
	in_port_t *was, *now;

	if (wf_udp_addr(u, &before) < 0)
		before.len = 0;
	if (connect(u->fd, &unspec, sizeof(unspec)) == -1)
		return -errno;
	if (before.len == 0 || (was = port_of(&before)) == NULL || *was == 0 ||
	    wf_udp_addr(u, &after) < 0 || (now = port_of(&after)) == NULL ||
	    *now != 0)
		return 0;
	*now = *was;
	if (bind(u->fd, (const struct sockaddr *)&after.ss, after.len) == -1)
		return -errno;
	return 0;
}

int
wf_udp_connect(wf_udp *u, const struct wf_addr *peer)
{
	if (peer == NULL)
		return disconnect(u);
	if (connect(u->fd, (const struct sockaddr *)&peer->ss, peer->len) ==
	    -1)
		return -errno;
	return 0;
}

void
wf_udp_pause(wf_udp *u)
{
	u->paused = 1;
	(void)wf_io_modify(u->io, 0);
}

int
wf_udp_resume(wf_udp *u)
{
	int rc;

	u->paused = 0;
	/* A pending stall resumes by itself; resuming now could spin. */
	if (u->stalled)
		return 0;
	if ((rc = wf_io_modify(u->io, WF_READ)) < 0)
		return rc;
	/* Kept slots go first, whether or not anything new arrives. */
	if (u->next < u->n)
		return wf_timer_start(u->timer, 0, 0);
	return 0;
}

int
wf_udp_addr(const wf_udp *u, struct wf_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	if (getsockname(u->fd, (struct sockaddr *)&a->ss, &a->len) == -1) {
		a->len = 0;
		return -errno;
	}
	return 0;
}

int
wf_udp_fd(const wf_udp *u)
{
	return u->fd;
}

void *
wf_udp_arg(const wf_udp *u)
{
	return u->arg;
}

void
wf_udp_set_arg(wf_udp *u, void *arg)
{
	u->arg = arg;
}

void
wf_udp_close(wf_udp *u)
{
	int fd;

	if (u == NULL)
		return;
	u->closed = 1;
	wf_timer_free(u->timer);
	u->timer = NULL;
	wf__upath_unlink(&u->upath);
	/* The socket outlives release() until its watcher is stopped. */
	fd = u->fd;
	u->fd = -1;
	/* Releases u now, or after the dispatch when inside a callback. */
	wf_io_stop(u->io);
	/* Close now rather than at release: the address is free at once. */
	close(fd);
}
