/*
 * Unix socket files. A path is replaced only when it is a socket nobody is
 * bound to (a daemon that died left it), and unlinked at close only while
 * it is still the inode we bound: another process may have replaced a
 * stale looking file with its own live socket since.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unix_path.h"

/*
 * The probe is non-blocking so that a live server with a full backlog
 * (EAGAIN) cannot block us; that counts as live, and so does a live socket
 * of the other type (EPROTOTYPE).
 */
static int
clear_stale(const struct sockaddr_un *sun, socklen_t len, const char *path,
    int type)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if ((fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	do {
		rc = connect(fd, (const struct sockaddr *)sun, len);
	} while (rc == -1 && errno == EINTR);
	if (rc == 0 || errno == EAGAIN || errno == EPROTOTYPE)
		rc = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		rc = unlink(path) == -1 && errno != ENOENT ? -errno : 0;
	else if (errno == ENOENT)
		rc = 0; /* gone meanwhile */
	else
		rc = -errno;
	close(fd);
	return rc;
}

int
wf__upath_bind(struct wf__upath *p, int fd, int type,
    const struct wf_addr *addr)
{
	const struct sockaddr_un *sun = (const void *)&addr->ss;
	size_t off = offsetof(struct sockaddr_un, sun_path), n;
	struct stat st;
	int rc;

	if (addr->len <= off || addr->len > sizeof(*sun))
		return -EINVAL;
	n = addr->len - off;
	/* An abstract name (leading NUL) has no file to clear or unlink. */
	if (sun->sun_path[0] == '\0')
		return bind(fd, (const struct sockaddr *)sun, addr->len) == -1 ?
		    -errno : 0;
	memcpy(p->path, sun->sun_path, n);
	p->path[n] = '\0';
	if ((rc = clear_stale(sun, addr->len, p->path, type)) < 0)
		return rc;
	if (bind(fd, (const struct sockaddr *)sun, addr->len) == -1)
		return -errno;
	if (lstat(p->path, &st) == -1)
		return -errno; /* someone removed it already: nothing of ours */
	p->own = 1;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	return 0;
}

void
wf__upath_unlink(struct wf__upath *p)
{
	struct stat st;

	if (!p->own)
		return;
	p->own = 0;
	if (lstat(p->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == p->dev && st.st_ino == p->ino)
		(void)unlink(p->path);
}
