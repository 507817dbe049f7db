/*
 * SIGHUP: the configuration is read again, aside, and applied only if it
 * is valid as a whole (as nginx does); otherwise the running one stays.
 *
 * What the IO threads and listeners were built with (addresses, thread
 * count, connection and frame limits, idle and shutdown timeouts) is fixed
 * for the life of the process: a change there is named in a warning and
 * waits for a restart. The handler section, the log level, the byte
 * budgets and frame_timeout and send_timeout apply at once: idle workers
 * are replaced now, busy ones as soon as their requests are answered, so a
 * reload loses no request, and never takes capacity away: the old workers
 * serve until new ones are up (pool.c).
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "pool.h"
#include "weftd.h"

static int
same_list(char **a, char **b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return 0;
	return *a == *b;
}

/* Names of the restart-only settings that differ, comma-separated. */
static void
restart_only(const struct weftd_config *o, const struct weftd_config *n,
    char *buf, size_t len)
{
	const struct {
		const char *name;
		int changed;
	} v[] = {
		{ "listen", !same_list(o->listen, n->listen) },
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
	char **listen = n->listen;
	unsigned nlisten = n->nlisten;

	n->listen = o->listen;
	n->nlisten = o->nlisten;
	o->listen = listen; /* freed with the old configuration */
	o->nlisten = nlisten;
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

void
weftd_reload(struct weftd *d)
{
	struct weftd_config n, old;
	char err[512], fixed[256];
	struct timespec ts;
	int rc;

	/* Either way it ends in READY=1 with a fresh STATUS, so systemctl
	 * status does not show "reloading" until the next periodic one. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	rc = weftd_config_load(d->cfg_path, &n, err, sizeof(err));
	if (rc == 0 &&
	    (rc = weftd_config_check(d->cfg_path, &n, err, sizeof(err))) < 0)
		weftd_config_free(&n);
	if (rc < 0) {
		weftd_log(LOG_ERR, "reload: %s; keeping the running configuration",
		    err);
		weftd_notify_status(d, "READY=1\n");
		return;
	}
	restart_only(&d->cfg, &n, fixed, sizeof(fixed));
	if (fixed[0])
		weftd_log(LOG_WARNING, "reload: %s changed: takes effect when "
		    "weftd is restarted", fixed);
	old = d->cfg;
	keep_fixed(&n, &old);
	d->cfg = n;
	weftd_config_free(&old);
	weftd_log_level(d->cfg.log_level);
	weftd_log(LOG_NOTICE, "reload: %u workers of %s; each replaces a "
	    "running one once it is up", d->cfg.handler.workers,
	    d->cfg.handler.argv[0]);
	front_apply(d);
	pool_reload(d);
	weftd_notify_status(d, "READY=1\n");
}
