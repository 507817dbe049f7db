/*
 * The poller: the only file that talks to epoll. The loop sees WF_* bits
 * and the pointer it registered, never an epoll_event.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop_int.h"

int
wf__poll_open(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int
ctl(int pfd, int op, int fd, unsigned interest, void *ptr)
{
	struct epoll_event ev = { 0 };

	if (interest & WF_READ)
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (interest & WF_WRITE)
		ev.events |= EPOLLOUT;
	if (interest & WF_EDGE)
		ev.events |= EPOLLET;
	ev.data.ptr = ptr;
	return epoll_ctl(pfd, op, fd, &ev) < 0 ? -errno : 0;
}

int
wf__poll_add(int pfd, int fd, unsigned interest, void *ptr)
{
	return ctl(pfd, EPOLL_CTL_ADD, fd, interest, ptr);
}

int
wf__poll_mod(int pfd, int fd, unsigned interest, void *ptr)
{
	return ctl(pfd, EPOLL_CTL_MOD, fd, interest, ptr);
}

int
wf__poll_del(int pfd, int fd)
{
	/* Kernels before 2.6.9 insist on a non-NULL event. */
	struct epoll_event ev = { 0 };

	return epoll_ctl(pfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

int
wf__poll_wait(int pfd, struct wf__fired *out, int max, int timeout_ms)
{
	struct epoll_event evs[WF__MAX_EVENTS];
	int i, n;

	if (max > WF__MAX_EVENTS)
		max = WF__MAX_EVENTS;
	n = epoll_wait(pfd, evs, max, timeout_ms);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		uint32_t e = evs[i].events;
		unsigned w = 0;

		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
			w |= WF_READ;
		if (e & EPOLLOUT)
			w |= WF_WRITE;
		if (e & EPOLLHUP)
			w |= WF_HUP;
		if (e & EPOLLERR)
			w |= WF_ERR;
		out[i].ptr = evs[i].data.ptr;
		out[i].events = w;
	}
	return n;
}
