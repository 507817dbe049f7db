/*
 * The privileged spawner. Started as root with a top-level user, weftd
 * forks it first (one thread, nothing open but its sockets), then drops to
 * that user. The spawner keeps root for one job: to start the handlers of
 * the pools in its own reading of the configuration file, as their users
 * and with their limits, and to signal and reap them. weftd asks over a
 * socket and gets each handler's sockets back (SCM_RIGHTS); exits come on
 * a second socket. See spawner.c for why this split and not capabilities.
 */
#ifndef WEFTD_SPAWNER_H
#define WEFTD_SPAWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "spawn.h"

struct weftd;

/* Does c, started as euid 0, need one: it drops to a top-level user. */
bool spawner_needed(const struct weftd_config *c);
/* In main, before any thread exists: fork it. 0 or -errno (printed). */
int spawner_start(struct weftd *d);
/* After the main loop exists: watch its exit reports. */
int spawner_watch(struct weftd *d);
/* Handlers come from the spawner (and none start once it is lost). */
bool spawner_on(const struct weftd *d);

/* Start one handler of p: as weftd_spawn(). */
int spawner_spawn(struct weftd *d, const struct weftd_pool_cfg *p,
    struct weftd_child *c, char *err, size_t errlen);
/* Signal one of its handlers (none other: it knows their pids). */
int spawner_kill(struct weftd *d, pid_t pid, int sig);
/* SIGKILL and reap it now; *st its wait status. */
int spawner_kill_wait(struct weftd *d, pid_t pid, int *st);
/*
 * A reload, in two steps: it reads the file again and keeps what it read
 * aside (an error if that is not what weftd read: digest); then commit
 * (it starts handlers from it from now on) or abort (it drops it).
 */
int spawner_prepare(struct weftd *d, uint64_t digest, char *err,
    size_t errlen);
void spawner_commit(struct weftd *d);
void spawner_abort(struct weftd *d);
/*
 * Started as root with a spawner ahead, path must be root's alone: a file
 * weftd's user could write would let a compromised weftd name any command
 * and user for the spawner. 0, or -1 with err.
 */
int spawner_trust(const char *path, const struct weftd_config *c, char *err,
    size_t errlen);
/* SIGCHLD said it exited, with wait status st. */
void spawner_reaped(struct weftd *d, int st);
/* weftd is exiting: it kills what is left and exits. */
void spawner_stop(struct weftd *d);

#endif
