/*
 * SIGHUP: the configuration is read again, aside, and applied only if it
 * is valid as a whole (as nginx does); otherwise the running one stays.
 *
 * What the IO threads were built with (thread count, connection and frame
 * limits, idle and shutdown timeouts, user) is fixed for the life of the
 * process: a change there is named in a warning and waits for a restart.
 * The pools, the listen addresses, the log level, the byte budgets and
 * frame_timeout and send_timeout apply at once. Pools are matched by name:
 * a new one starts, a removed one stops once its requests are answered,
 * and every other one replaces its workers: idle ones now, busy ones as
 * soon as their requests are answered, so a reload loses no request, and
 * never takes capacity away: the old workers serve until new ones are up
 * (pool.c). New addresses are bound first; if one cannot be, nothing
 * changes (listen.c).
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "pool.h"
#include "spawner.h"
#include "weftd.h"

/* Names of the restart-only settings that differ, comma-separated. */
static void
restart_only(const struct weftd_config *o, const struct weftd_config *n,
    char *buf, size_t len)
{
	const struct {
		const char *name;
		int changed;
	} v[] = {
		{ "io_threads", o->io_threads != n->io_threads },
		{ "max_connections", o->max_connections != n->max_connections },
		{ "max_pipeline", o->max_pipeline != n->max_pipeline },
		{ "max_frame", o->max_frame != n->max_frame },
		{ "idle_timeout", o->idle_timeout_ms != n->idle_timeout_ms },
		{ "shutdown_timeout", o->shutdown_timeout_ms != n->shutdown_timeout_ms },
		{ "syslog_facility", o->facility != n->facility },
		{ "max_connections_per_ip",
		    o->max_connections_per_ip != n->max_connections_per_ip },
		{ "unix_socket", o->unix_socket.mode != n->unix_socket.mode ||
		    o->unix_socket.uid != n->unix_socket.uid ||
		    o->unix_socket.gid != n->unix_socket.gid },
		{ "user", o->uid != n->uid || o->gid != n->gid },
		{ "control", strcmp(o->control, n->control) != 0 },
		{ "metrics_listen", strcmp(o->metrics_listen, n->metrics_listen) != 0 },
	};
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(v) / sizeof(v[0]) && off < len; i++)
		if (v[i].changed)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off ? ", " : "", v[i].name);
}

/* Keep the running values of what only a restart may change. */
static void
keep_fixed(struct weftd_config *n, struct weftd_config *o)
{
	char *user = n->user, *group = n->group;
	char *control = n->control, *metrics = n->metrics_listen;
	gid_t *groups = n->groups;
	int ngroups = n->ngroups;

	n->user = o->user;
	n->group = o->group;
	n->groups = o->groups;
	n->ngroups = o->ngroups;
	o->user = user; /* freed with the old configuration */
	o->group = group;
	o->groups = groups;
	o->ngroups = ngroups;
	n->control = o->control;
	n->metrics_listen = o->metrics_listen;
	n->control_set = o->control_set;
	o->control = control;
	o->metrics_listen = metrics;
	n->uid = o->uid;
	n->gid = o->gid;
	n->io_threads = o->io_threads;
	n->max_connections = o->max_connections;
	n->max_pipeline = o->max_pipeline;
	n->max_frame = o->max_frame;
	n->idle_timeout_ms = o->idle_timeout_ms;
	n->shutdown_timeout_ms = o->shutdown_timeout_ms;
	n->facility = o->facility;
	n->unix_socket = o->unix_socket;
	n->max_connections_per_ip = o->max_connections_per_ip;
}

/* n's pools: the running one of each name, or a new one (fresh). */
static int
match_pools(struct weftd *d, struct weftd_config *n, struct pool **to)
{
	unsigned i, s;

	for (i = 0; i < n->npools; i++) {
		to[i] = NULL;
		for (s = 0; s < MAX_POOLS; s++)
			if (d->pools[s] && !d->pools[s]->removed &&
			    strcmp(d->pools[s]->cfg->name, n->pools[i]->name) == 0)
				to[i] = d->pools[s];
		if (to[i])
			continue;
		/* Its configuration is the pool's from here. */
		if ((to[i] = pool_new(d, n->pools[i])) == NULL)
			return -1;
		to[i]->fresh = true;
		n->pools[i] = NULL;
	}
	return 0;
}

/* Each pool's new configuration: n's, or a fresh pool's (it took it). */
static struct weftd_pool_cfg **
pool_cfgs(struct weftd_config *n, struct pool **to,
    struct weftd_pool_cfg **cfgs)
{
	unsigned i;

	for (i = 0; i < n->npools; i++)
		cfgs[i] = to[i]->fresh ? to[i]->cfg : n->pools[i];
	return cfgs;
}

/* The reload failed after new pools were made: they go again. */
static void
drop_fresh(struct weftd *d)
{
	unsigned s;

	for (s = 0; s < MAX_POOLS; s++)
		if (d->pools[s] && d->pools[s]->fresh) {
			d->pools[s]->fresh = false;
			pool_remove(d->pools[s]);
		}
	(void)pool_post_views(d);
}

int
weftd_reload(struct weftd *d, char *err, size_t errlen)
{
	struct weftd_config n, old;
	struct pool *to[MAX_POOLS];
	struct weftd_pool_cfg *cfgs[MAX_POOLS];
	char fixed[256];
	struct timespec ts;
	bool named;
	unsigned i, s;
	int rc;

	/* Either way it ends in READY=1 with a fresh STATUS, so systemctl
	 * status does not show "reloading" until the next periodic one. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	rc = weftd_config_load(d->cfg_path, &n, err, errlen);
	if (rc == 0 &&
	    (rc = weftd_config_check(d->cfg_path, &n, spawner_on(d), err,
	    errlen)) < 0)
		weftd_config_free(&n);
	/*
	 * The spawner reads it too (what it starts is what it read), and
	 * keeps it aside until this reload can no longer fail.
	 */
	if (rc == 0 && spawner_on(d) &&
	    (rc = spawner_prepare(d, n.digest, err, errlen)) < 0)
		weftd_config_free(&n);
	if (rc < 0) {
		weftd_log(LOG_ERR, "reload: %s; keeping the running configuration",
		    err);
		d->reload_failures++;
		weftd_notify_status(d, "READY=1\n");
		return -1;
	}
	/*
	 * New pools get lanes on every loop before their listeners open (a
	 * connection finds its pool there), and their routes only once the
	 * reload cannot fail any more.
	 */
	memset(to, 0, sizeof(to));
	if (match_pools(d, &n, to) < 0 || dispatch_views(d) < 0 ||
	    listen_apply(d, n.listen, n.nlisten, pool_cfgs(&n, to, cfgs), to,
	    n.npools) < 0) {
		snprintf(err, errlen, "could not set up the new pools and "
		    "listeners");
		weftd_log(LOG_ERR, "reload: %s; keeping the running "
		    "configuration", err);
		drop_fresh(d);
		if (spawner_on(d))
			spawner_abort(d);
		weftd_config_free(&n);
		d->reload_failures++;
		weftd_notify_status(d, "READY=1\n");
		return -1;
	}
	if (spawner_on(d))
		spawner_commit(d);
	restart_only(&d->cfg, &n, fixed, sizeof(fixed));
	if (fixed[0])
		weftd_log(LOG_WARNING, "reload: %s changed: takes effect when "
		    "weftd is restarted", fixed);
	/* Pools it no longer names: their listeners are closed already. */
	for (s = 0; s < MAX_POOLS; s++) {
		if (d->pools[s] == NULL || d->pools[s]->removed)
			continue;
		for (named = false, i = 0; i < n.npools; i++)
			named |= to[i] == d->pools[s];
		if (!named)
			pool_remove(d->pools[s]);
	}
	for (i = 0; i < n.npools; i++) {
		struct weftd_pool_cfg *pc = cfgs[i];

		n.pools[i] = NULL; /* the pool's from here */
		if (to[i]->fresh) {
			to[i]->fresh = false;
			weftd_log(LOG_NOTICE, "reload: pool %s added: %u workers "
			    "of %s", pc->name, pc->workers, pc->argv[0]);
			(void)pool_start(to[i], false);
		} else {
			weftd_log(LOG_NOTICE, "reload: %s%u workers of %s; "
			    "each replaces a running one once it is up",
			    to[i]->tag, pc->workers, pc->argv[0]);
			pool_reload(to[i], pc);
		}
	}
	n.npools = 0;
	old = d->cfg;
	keep_fixed(&n, &old);
	d->cfg = n;
	weftd_config_free(&old);
	weftd_log_level(d->cfg.log_level);
	front_apply(d);
	(void)pool_post_views(d);
	d->reloads++;
	d->loaded_at = time(NULL);
	weftd_notify_status(d, "READY=1\n");
	return 0;
}
