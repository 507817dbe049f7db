/*
 * The control socket's protocol (weftctl(1)): one line in; "CODE LENGTH
 * message", a line, then LENGTH bytes of body out, then the close (so a
 * cut-off answer is known for one). CODE is what weftctl exits with: 0
 * done, 1 weftd could not do it, 2 not a request weftd knows.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "admin.h"
#include "pool.h"
#include "spawner.h"

#define CONTROL_LINE 1024
#define MAX_ARGS 8

static struct pool *
pool_named(struct weftd *d, const char *name)
{
	unsigned i;

	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i] && !d->pools[i]->removed && !d->pools[i]->fresh &&
		    strcmp(d->pools[i]->cfg->name, name) == 0)
			return d->pools[i];
	return NULL;
}

static void
status(struct weftd *d, bool json, struct out *o)
{
	struct snapshot s;

	if (stats_take(d, &s) < 0) {
		stats_free(&s);
		out_printf(o, "1 out of memory\n");
		return;
	}
	out_printf(o, "0 ok\n");
	if (json)
		report_json(&s, o);
	else
		report_text(&s, o);
	stats_free(&s);
}

static void
restart(struct weftd *d, const char *name, struct out *o)
{
	struct pool *p;
	unsigned i, n = 0;

	if (name && (p = pool_named(d, name)) == NULL) {
		out_printf(o, "1 no pool named %s\n", name);
		return;
	}
	for (i = 0; i < MAX_POOLS; i++) {
		if ((p = d->pools[i]) == NULL || p->removed || p->fresh ||
		    (name && strcmp(p->cfg->name, name) != 0))
			continue;
		weftd_log(LOG_NOTICE, "%srestart of its %u workers, one at a "
		    "time (weftctl)", p->tag, p->cfg->workers);
		pool_restart(p);
		n++;
	}
	out_printf(o, "0 restarting the workers of %u pool%s, one at a time: "
	    "each is replaced once its successor is up\n", n, n == 1 ? "" : "s");
}

static void
resize(struct weftd *d, const char *name, const char *count, struct out *o)
{
	struct pool *p = pool_named(d, name);
	const char *what;
	unsigned was;
	char *end;
	long n;

	errno = 0;
	n = strtol(count, &end, 10);
	if (p == NULL) {
		out_printf(o, "1 no pool named %s\n", name);
		return;
	}
	if (errno || *end || end == count || n < 1 || n > 1024) {
		out_printf(o, "2 workers: \"%s\" is not a number from 1 to 1024\n",
		    count);
		return;
	}
	/* The spawner starts no more than the file it read allows. */
	if (spawner_on(d) && (unsigned)n > p->file_max) {
		out_printf(o, "1 pool %s: at most %u workers, as the file says: "
		    "the spawner starts what weftd.conf names (raise it there "
		    "and reload)\n", name, p->file_max);
		return;
	}
	what = p->cfg->dynamic ? "max_workers" : "workers";
	was = p->cfg->max_workers;
	weftd_log(LOG_NOTICE, "%s%s %u -> %ld (weftctl; until the next "
	    "reload or restart)", p->tag, what, was, n);
	pool_resize(p, (unsigned)n);
	out_printf(o, "0 pool %s: %s %u -> %ld; not saved: the next "
	    "reload or restart goes back to the configuration's %s\n", name,
	    what, was, n, what);
}

static void
run(struct weftd *d, char **argv, int argc, struct out *o)
{
	char err[512];

	if (argc == 1 && strcmp(argv[0], "status") == 0) {
		status(d, false, o);
		return;
	}
	if (argc == 2 && strcmp(argv[0], "status") == 0 &&
	    strcmp(argv[1], "--json") == 0) {
		status(d, true, o);
		return;
	}
	if (argc >= 1 && (strcmp(argv[0], "reload") == 0 ||
	    strcmp(argv[0], "restart-workers") == 0 ||
	    strcmp(argv[0], "pool") == 0) && d->stopping) {
		out_printf(o, "1 weftd is shutting down\n");
		return;
	}
	if (argc == 1 && strcmp(argv[0], "reload") == 0) {
		if (weftd_reload(d, err, sizeof(err)) < 0)
			out_printf(o, "1 reload failed: %s; the running "
			    "configuration stays\n", err);
		else
			out_printf(o, "0 reloaded %s\n", d->cfg_path);
		return;
	}
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "restart-workers") == 0) {
		restart(d, argc == 2 ? argv[1] : NULL, o);
		return;
	}
	if (argc == 4 && strcmp(argv[0], "pool") == 0 &&
	    strcmp(argv[2], "workers") == 0) {
		resize(d, argv[1], argv[3], o);
		return;
	}
	out_printf(o, "2 not a request weftd knows: status [--json], reload, "
	    "restart-workers [POOL], pool POOL workers N\n");
}

/* "CODE message\nbody" becomes "CODE LENGTH message\nbody". */
static void
frame(struct out *o)
{
	struct out f = { 0 };
	const char *nl;

	if (o->failed || o->len < 2 || (nl = memchr(o->p, '\n', o->len)) ==
	    NULL) {
		o->failed = true;
		return;
	}
	out_printf(&f, "%c %zu %.*s", o->p[0], o->len - (size_t)(nl + 1 - o->p),
	    (int)(nl + 1 - o->p - 2), o->p + 2);
	out_printf(&f, "%.*s", (int)(o->len - (size_t)(nl + 1 - o->p)), nl + 1);
	out_free(o);
	*o = f;
}

/*
 * A handler (a worker, or a process of its group, as its children are)
 * may not steer weftd, even as weftd's own user.
 */
static bool
refuse(struct weftd *d, int fd)
{
	/* A handler may knock as often as it likes: its lines are bounded. */
	static struct weftd_rl refused_rl = { .what = "control socket refusals",
	    .burst = 5, .interval_ms = 1000 };
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char path[64], buf[512], *p;
	const struct worker *w;
	int pgrp = -1, fd2;
	unsigned i;
	ssize_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)uc.pid);
	if ((fd2 = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd2, buf, sizeof(buf) - 1);
		close(fd2);
		buf[n > 0 ? n : 0] = '\0';
		/* pid (comm) state ppid pgrp: comm may hold anything. */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %*d %d", &pgrp) != 1)
			pgrp = -1;
	}
	for (i = 0; i < MAX_POOLS; i++) {
		if (d->pools[i] == NULL)
			continue;
		LIST_FOREACH(w, &d->pools[i]->all, plink)
			if (w->pid == uc.pid || w->pid == pgrp) {
				if (weftd_rl_allow(&refused_rl, wf_loop_now(d->main)))
					weftd_log(LOG_WARNING, "control socket: pid "
					    "%d is a handler's (worker %d): refused",
					    (int)uc.pid, (int)w->pid);
				return true;
			}
	}
	return false;
}

static int
handle(struct weftd *d, const char *req, size_t len, bool full,
    struct out *o)
{
	char line[CONTROL_LINE], *argv[MAX_ARGS + 1], *save, *t;
	const char *nl = memchr(req, '\n', len);
	int argc = 0;

	if (nl == NULL && !full)
		return 0;
	if (nl == NULL || (size_t)(nl - req) >= sizeof(line)) {
		out_printf(o, "2 request too long\n");
		frame(o);
		return 1;
	}
	memcpy(line, req, (size_t)(nl - req));
	line[nl - req] = '\0';
	for (t = strtok_r(line, " \t\r", &save); t && argc <= MAX_ARGS;
	    t = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = t;
	run(d, argv, argc, o);
	frame(o);
	return 1;
}

const struct admin_proto control_proto = {
	.name = "control socket",
	.max_request = CONTROL_LINE,
	.handle = handle,
	.refuse = refuse,
};
