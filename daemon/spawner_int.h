/* The spawner's messages: spawner.c (its side) and spawner_ask.c (weftd's). */
#ifndef WEFTD_SPAWNER_INT_H
#define WEFTD_SPAWNER_INT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum { OP_SPAWN = 1, OP_KILL, OP_KILL_WAIT, OP_PREPARE, OP_COMMIT, OP_ABORT };

/* weftd to the spawner, one at a time, each answered by a reply. */
struct sp_req {
	uint32_t op;
	int32_t pid, sig;    /* KILL, KILL_WAIT */
	uint32_t uid;        /* SPAWN: the pool's user and command as weftd */
	char pool[POOL_NAME_MAX + 1]; /* read them, for a consistency check */
	char cmd[PATH_MAX];
	uint64_t digest;     /* PREPARE: of the file weftd read */
};

/* SPAWN's reply carries the worker socket and the output pipe. */
struct sp_reply {
	int32_t rc, pid, st;
	char err[256];
};

/* The spawner to weftd, on the other socket: a handler exited. */
struct sp_exit {
	int32_t pid, st;
};

/* In the spawner: its sockets at these fds. */
#define SP_REQ_FD 3
#define SP_EV_FD 4

/*
 * Just forked: become the spawner (its sockets req and ev, parent weftd,
 * c the configuration weftd read from path) and serve until weftd goes.
 */
void __attribute__((noreturn)) spawner_serve(int req, int ev, pid_t parent,
    struct weftd_config *c, const char *path);

#endif
