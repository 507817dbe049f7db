/*
 * The floor for the echo benchmark: the least a correct single-threaded
 * level-triggered epoll echo server can do. No library, no timers, one
 * read per wakeup into a stack buffer, written straight back.
 *
 *   echo_epoll --port N        TCP on 127.0.0.1
 *   echo_epoll --unix PATH     a Unix stream socket (a proxy's backend)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * All an idle connection costs. pend holds what the peer was too slow to
 * take; while it is set the fd waits for EPOLLOUT only, so a client that
 * does not read cannot make us buffer more than one read's worth.
 */
struct conn {
	int	 fd;
	char	*pend;
	size_t	 off, len;
};

static int ep;

static void
conn_close(struct conn *c)
{
	close(c->fd);	/* also drops it from the epoll set */
	free(c->pend);
	free(c);
}

static int
conn_watch(struct conn *c, uint32_t what)
{
	struct epoll_event ev = { .events = what, .data.ptr = c };

	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write pend; 1 while some is left, 0 once drained, -1 on error. */
static int
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->off < c->len) {
		n = send(c->fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 1 : -1;
		c->off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	return conn_watch(c, EPOLLIN);
}

static void
conn_read(struct conn *c)
{
	char buf[65536];
	ssize_t n, w;

	if ((n = read(c->fd, buf, sizeof(buf))) <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
	if ((w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL)) == n)
		return;
	if (w < 0 && errno != EAGAIN) {
		conn_close(c);
		return;
	}
	if (w < 0)
		w = 0;
	c->len = (size_t)(n - w);
	c->off = 0;
	if ((c->pend = malloc(c->len)) == NULL ||
	    conn_watch(c, EPOLLOUT) < 0) {
		conn_close(c);
		return;
	}
	memcpy(c->pend, buf + w, c->len);
}

/*
 * Level-triggered, so drain the queue now rather than wake once per
 * connection. On EMFILE the pending connection would wake us forever:
 * give up the spare fd, accept and drop it, and take the spare back.
 */
static void
accept_all(int lfd, int *spare)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && *spare >= 0) {
				perror("accept4");
				close(*spare);
				if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
					close(fd);
				*spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			if (errno != EAGAIN)
				perror("accept4");
			return;
		}
		/* Fails harmlessly on a Unix socket. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			perror("epoll_ctl(ADD)");
			conn_close(c);
		}
	}
}

/* The listening socket named by argv, or -1 (reported). */
static int
listen_on(const char *kind, const char *where)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr *sa = (struct sockaddr *)&sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1, unix_ = strcmp(kind, "--unix") == 0;

	if (unix_) {
		if (strlen(where) >= sizeof(sun.sun_path)) {
			fprintf(stderr, "echo_epoll: %s: path too long\n", where);
			return -1;
		}
		strcpy(sun.sun_path, where);
		unlink(where);
		sa = (struct sockaddr *)&sun, len = sizeof(sun);
	} else {
		sin.sin_port = htons((uint16_t)atoi(where));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 || (!unix_ &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		fprintf(stderr, "echo_epoll: listen(%s): %s\n", where,
		    strerror(errno));
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
	struct conn *c;
	int lfd, spare, i, n;

	if (argc != 3 || (strcmp(argv[1], "--port") != 0 &&
	    strcmp(argv[1], "--unix") != 0)) {
		fprintf(stderr, "usage: echo_epoll --port N | --unix PATH\n");
		return 2;
	}
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((lfd = listen_on(argv[1], argv[2])) < 0)
		return 1;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("epoll");
		return 1;
	}
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return 1;
		}
		/*
		 * Dispatch on our state, not the event bits: HUP and ERR
		 * come with either, and the read or the send that follows
		 * reports them. A connection closed here cannot show up
		 * later in this batch, since each fd appears once in it.
		 */
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL)
				accept_all(lfd, &spare);
			else if (c->pend == NULL)
				conn_read(c);
			else if (conn_flush(c) < 0)
				conn_close(c);
		}
	}
}
