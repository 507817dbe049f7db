/*
 * fd watchers.
 *
 * The poller hands back the wf_io pointer it was registered with, never a
 * bare fd, so an event can only reach the watcher it was meant for. A watcher
 * stopped during dispatch is marked dead, its remaining events in the batch
 * are skipped, and its memory is released after the batch; a new watcher on
 * the same fd number is a different object and cannot receive them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop_int.h"

static int
fdtab_reserve(wf_loop *loop, int fd)
{
	size_t n = loop->fdtab_len ? loop->fdtab_len : 64;
	wf_io **tab;

	if ((size_t)fd < loop->fdtab_len)
		return 0;
	while (n <= (size_t)fd)
		n *= 2;
	if ((tab = realloc(loop->fdtab, n * sizeof(*tab))) == NULL)
		return -ENOMEM;
	memset(tab + loop->fdtab_len, 0, (n - loop->fdtab_len) * sizeof(*tab));
	loop->fdtab = tab;
	loop->fdtab_len = n;
	return 0;
}

/* An embedded watcher's memory is its owner's: on_release frees both. */
static void
release(wf_io *io)
{
	int embedded = io->flags & WF__IO_EMBEDDED;

	if (io->on_release)
		io->on_release(io->arg);
	if (!embedded)
		free(io);
}

/*
 * fd still has a live watcher although the kernel accepted a new
 * registration: the caller closed it without stopping the watcher and the
 * number was reused. The old watcher must never see the new fd's events.
 */
static void
orphan(wf_io *old)
{
	old->flags = (old->flags & ~WF__IO_ARMED) | WF__IO_DEAD;
	wf__log(WF_LOG_WARN, "fd %d was closed while watched; watcher disabled",
	    old->fd);
}

int
wf__io_init(wf_loop *loop, wf_io *io, int fd, unsigned interest,
    wf_io_cb *cb, void *arg, void (*on_release)(void *))
{
	wf_io *old;
	int rc;

	if (fd < 0 || cb == NULL || (interest & ~(WF_READ | WF_WRITE | WF_EDGE)))
		return -EINVAL;
	if ((rc = fdtab_reserve(loop, fd)) < 0)
		return rc;
	old = loop->fdtab[fd];
	/*
	 * Only a successful EPOLL_CTL_ADD proves the old fd is gone; without
	 * a registration on either side the kernel cannot tell us.
	 */
	if (old && ((old->flags & WF__IO_ARMED) == 0 || interest == 0))
		return -EEXIST;
	memset(io, 0, sizeof(*io));
	io->loop = loop;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->on_release = on_release;
	io->flags = WF__IO_EMBEDDED;
	if ((rc = wf_io_modify(io, interest)) < 0)
		return rc;
	if (old)
		orphan(old);
	loop->fdtab[fd] = io;
	LIST_INSERT_HEAD(&loop->ios, io, link);
	return 0;
}

int
wf__io_start_internal(wf_loop *loop, wf_io **iop, int fd, unsigned interest,
    wf_io_cb *cb, void *arg, void (*on_release)(void *))
{
	wf_io *io;
	int rc;

	*iop = NULL;
	if ((io = malloc(sizeof(*io))) == NULL)
		return -ENOMEM;
	if ((rc = wf__io_init(loop, io, fd, interest, cb, arg, on_release)) < 0) {
		free(io);
		return rc;
	}
	io->flags &= ~WF__IO_EMBEDDED;
	*iop = io;
	return 0;
}

int
wf_io_start(wf_loop *loop, wf_io **iop, int fd, unsigned interest,
    wf_io_cb *cb, void *arg)
{
	return wf__io_start_internal(loop, iop, fd, interest, cb, arg, NULL);
}

int
wf_io_modify(wf_io *io, unsigned interest)
{
	wf_loop *loop = io->loop;
	int rc = 0;

	if (io->flags & WF__IO_DEAD)
		return -EBADF;
	if (interest & ~(WF_READ | WF_WRITE | WF_EDGE))
		return -EINVAL;
	if ((interest & (WF_READ | WF_WRITE)) == 0) {
		/*
		 * Unregister rather than MOD to no events: epoll reports
		 * EPOLLHUP and EPOLLERR regardless of the mask, which would
		 * wake a paused watcher forever.
		 */
		if (io->flags & WF__IO_ARMED)
			rc = wf__poll_del(loop->epfd, io->fd);
		io->flags &= ~WF__IO_ARMED;
	} else if (io->flags & WF__IO_ARMED) {
		if (interest != io->interest)
			rc = wf__poll_mod(loop->epfd, io->fd, interest, io);
	} else {
		rc = wf__poll_add(loop->epfd, io->fd, interest, io);
		if (rc == 0)
			io->flags |= WF__IO_ARMED;
	}
	if (rc < 0)
		return rc;
	io->interest = interest;
	return 0;
}

void
wf_io_stop(wf_io *io)
{
	wf_loop *loop;

	if (io == NULL)
		return;
	loop = io->loop;
	/* ENOENT/EBADF: the caller closed the fd first; nothing to undo. */
	if (io->flags & WF__IO_ARMED)
		(void)wf__poll_del(loop->epfd, io->fd);
	if (loop->fdtab[io->fd] == io)
		loop->fdtab[io->fd] = NULL;
	io->flags = (io->flags & ~WF__IO_ARMED) | WF__IO_DEAD;
	LIST_REMOVE(io, link);
	if (loop->depth)
		LIST_INSERT_HEAD(&loop->dead, io, link);
	else
		release(io);
}

int
wf_io_fd(const wf_io *io)
{
	return io->fd;
}

void *
wf_io_arg(const wf_io *io)
{
	return io->arg;
}

void
wf_io_set_arg(wf_io *io, void *arg)
{
	io->arg = arg;
}

void
wf__io_dispatch(wf_loop *loop, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		wf_io *io = loop->fired[i].ptr;
		unsigned ev = loop->fired[i].events;

		if (io->flags & WF__IO_DEAD)
			continue;
		/* Hang-up and error wake every direction the caller waits on. */
		if (ev & (WF_HUP | WF_ERR))
			ev |= io->interest & (WF_READ | WF_WRITE);
		ev &= io->interest | WF_HUP | WF_ERR;
		if (ev & (WF_READ | WF_WRITE))
			io->cb(io, io->fd, ev, io->arg);
	}
}

void
wf__io_release_dead(wf_loop *loop)
{
	wf_io *io;

	while ((io = LIST_FIRST(&loop->dead)) != NULL) {
		LIST_REMOVE(io, link);
		release(io);
	}
}

void
wf__io_release_all(wf_loop *loop)
{
	wf_io *io;

	while ((io = LIST_FIRST(&loop->ios)) != NULL) {
		LIST_REMOVE(io, link);
		release(io);
	}
	wf__io_release_dead(loop);
}
