/*
 * LD_PRELOAD fault injection for the bats tests: makes chosen system calls
 * fail the way an exhausted machine would, at a point a test names.
 *
 *   WEFT_FAIL_EPOLL_FIFO=N   the Nth epoll_ctl(EPOLL_CTL_ADD) of a pipe fails
 *                            with ENOMEM (weftd watches each worker's output
 *                            pipe: N picks the worker whose set-up fails).
 *
 * Built without sanitizers; a sanitized weftd runs it with
 * ASAN_OPTIONS=verify_asan_link_order=0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

static atomic_int fifo_adds;

int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	static int (*real)(int, int, int, struct epoll_event *);
	const char *n = getenv("WEFT_FAIL_EPOLL_FIFO");
	struct stat st;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "epoll_ctl");
	if (n != NULL && op == EPOLL_CTL_ADD && fstat(fd, &st) == 0 &&
	    S_ISFIFO(st.st_mode) && atomic_fetch_add(&fifo_adds, 1) + 1 == atoi(n)) {
		errno = ENOMEM;
		return -1;
	}
	return real(epfd, op, fd, ev);
}
