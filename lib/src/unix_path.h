/* Unix socket paths bound by a listener or a datagram watcher (internal). */
#ifndef WEFT_UNIX_PATH_H
#define WEFT_UNIX_PATH_H

#include <sys/stat.h>
#include <sys/un.h>

#include "weft/addr.h"

/* A path we bound, and the inode bind() made for it. */
struct wf__upath {
	int own;
	dev_t dev;
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
};

/*
 * Bind fd (of socket type type) to addr, a Unix address: a stale socket
 * file there (nobody bound to it) is replaced first, a live one gives
 * -EADDRINUSE, any other file -EEXIST. An abstract name has no file. 0 or
 * a negative errno; p records what to unlink later.
 */
int wf__upath_bind(struct wf__upath *p, int fd, int type,
    const struct wf_addr *addr);

/* Unlink the path only if it still is the socket we bound; once. */
void wf__upath_unlink(struct wf__upath *p);

#endif
