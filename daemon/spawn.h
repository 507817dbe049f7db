/* Starting a handler process: execv of the configured argv, no shell. */
#ifndef WEFTD_SPAWN_H
#define WEFTD_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct weftd_child {
	pid_t pid;
	int sock; /* our end of the worker socket (fd 3 in the child) */
	int out;  /* read end of the child's stdout and stderr */
	int statm; /* its /proc/PID/statm, opened before it changed user
	              (readable after, whoever it runs as); -1: none */
};

/* Who the handler runs as, and its limits; set in the child before exec. */
struct weftd_spawn_as {
	uid_t uid;            /* (uid_t)-1: as weftd */
	gid_t gid;
	const gid_t *groups;  /* supplementary groups (setgroups) */
	int ngroups;
	uint64_t nofile, as;  /* RLIMIT_NOFILE, RLIMIT_AS; 0: inherited */
};

/*
 * Fork and exec argv[0] (an absolute path) with argv, an environment of
 * env plus WEFT_FD=3 and WEFT_MAX_FRAME (when max_frame is not 0: the
 * largest request it may be sent), the worker socket on fd 3, stdin from /dev/null,
 * stdout and stderr on a pipe, no other descriptor, default signal
 * dispositions, an empty signal mask, and SIGKILL when weftd dies; as
 * (NULL: nothing) its user and limits. Returns
 * 0, or -errno with err naming the failing call (an exec failure is
 * reported here, not discovered later). Our fds are close-on-exec.
 */
int weftd_spawn(char *const argv[], char *const env[], uint32_t max_frame,
    const struct weftd_spawn_as *as, struct weftd_child *c, char *err,
    size_t errlen);

/* A process's resident memory in bytes from its statm fd; -1: unknown. */
long long weftd_rss(int statm);

/* How a process ended, from its wait status: "exited with status 1". */
const char *weftd_ended(int st, char *buf, size_t n);

#endif
