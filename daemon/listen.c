/*
 * Listeners and the pool each one delivers to. At start weftd binds every
 * address the configuration names (the top-level ones for pool `default`,
 * each pool's own for it), or adopts systemd's sockets, each going to the
 * pool its FileDescriptorName names, else to `default`.
 *
 * A reload binds what is new before anything changes: if one address
 * cannot be bound, the reload fails as a whole and the running listeners
 * stay. An address the new configuration still names keeps its socket
 * (nothing is refused in between), delivering to whichever pool names it
 * now; one it no longer names is closed, its connections staying open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "pool.h"
#include "weftd.h"

static void
log_listener(struct weftd *d, int idx, const char *pool, const char *how)
{
	bool dflt = strcmp(pool, DEFAULT_POOL) == 0;
	char buf[160];
	struct wf_addr a;

	if (wf_server_addr(d->server, (unsigned)idx, &a) == 0)
		weftd_log(LOG_INFO, "listening on %s%s%s%s",
		    wf_addr_format(&a, buf, sizeof(buf)), how,
		    dflt ? "" : " for pool ", dflt ? "" : pool);
}


static bool
port0(const char *addr)
{
	size_t n = strlen(addr);

	return n > 2 && strcmp(addr + n - 2, ":0") == 0;
}

static unsigned
lmap_of(const struct pool *p)
{
	return p ? LMAP(p->slot, p->serial) : 0;
}

/* An adopted socket goes to the pool its name names, else to `default`. */
static void
remap_adopted(struct weftd *d, int idx)
{
	struct pool *p = NULL, *dflt = NULL;
	unsigned i;

	for (i = 0; i < MAX_POOLS; i++) {
		if (d->pools[i] == NULL || d->pools[i]->removed)
			continue;
		if (strcmp(d->pools[i]->cfg->name, d->ls_key[idx]) == 0)
			p = d->pools[i];
		if (strcmp(d->pools[i]->cfg->name, DEFAULT_POOL) == 0)
			dflt = d->pools[i];
	}
	atomic_store(&d->lmap[idx], lmap_of(p ? p : dflt));
}

/* Socket activation: systemd's sockets replace every listen setting. */
static int
adopt_sockets(struct weftd *d, int n, char **names)
{
	struct pool *p;
	int i, fd, idx;

	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			weftd_log(LOG_ERR, "socket activation: fd %d is not a "
			    "listening stream socket", fd);
			return -EINVAL;
		}
		/* Its pool is set before a queued connection is accepted. */
		if ((idx = wf_server_next_listener(d->server)) >= 0) {
			snprintf(d->ls_key[idx], sizeof(d->ls_key[idx]), "%s",
			    names && names[i] ? names[i] : "");
			remap_adopted(d, idx);
			idx = wf_server_adopt(d->server, fd);
		}
		if (idx < 0) {
			weftd_log(LOG_ERR, "socket activation: fd %d: %s", fd,
			    strerror(-idx));
			return idx;
		}
		p = NULL;
		if (atomic_load(&d->lmap[idx]))
			p = d->pools[(atomic_load(&d->lmap[idx]) & 0xff) - 1];
		log_listener(d, idx, p ? p->cfg->name : "(none)",
		    " (from systemd)");
	}
	weftd_log(LOG_INFO, "socket activation: %d sockets from systemd; the "
	    "listen settings are not used", n);
	return 0;
}

/*
 * Make the listeners what the pools' configurations (cfgs[k], for
 * pools[k]; n of them) and top (the top-level addresses, for `default`)
 * name. All or nothing: on failure nothing changed and the error is logged.
 */
int
listen_apply(struct weftd *d, char *const *top, unsigned ntop,
    struct weftd_pool_cfg *const *cfgs, struct pool *const *pools,
    unsigned n)
{
	struct { char addr[128]; struct pool *p; } want[MAX_ADDRS];
	bool keep[MAX_ADDRS] = { false }, opened[MAX_ADDRS] = { false };
	unsigned nw = 0, i, k, m[MAX_ADDRS];
	struct pool *dflt = NULL;
	struct wf_addr a;
	int idx, at;

	for (k = 0; k < n; k++)
		if (strcmp(cfgs[k]->name, DEFAULT_POOL) == 0)
			dflt = pools[k];

	if (d->adopted) {
		for (i = 0; i < d->adopted; i++)
			remap_adopted(d, (int)i);
		return 0;
	}
	for (i = 0; i < ntop && dflt && nw < MAX_ADDRS; i++) {
		(void)wf_addr_parse(&a, top[i]); /* checked at load */
		wf_addr_format(&a, want[nw].addr, sizeof(want[nw].addr));
		want[nw++].p = dflt;
	}
	for (k = 0; k < n; k++)
		for (i = 0; i < cfgs[k]->nlisten && nw < MAX_ADDRS; i++) {
			(void)wf_addr_parse(&a, cfgs[k]->listen[i]);
			wf_addr_format(&a, want[nw].addr, sizeof(want[nw].addr));
			want[nw++].p = pools[k];
		}
	/*
	 * What stays open keeps its socket, the same pool's first (port 0
	 * may be named more than once); what is new is bound now.
	 */
	for (k = 0; k < nw; k++) {
		m[k] = MAX_ADDRS;
		for (i = 0; i < MAX_ADDRS; i++)
			if (!keep[i] && strcmp(d->ls_key[i], want[k].addr) == 0 &&
			    atomic_load(&d->lmap[i]) == lmap_of(want[k].p)) {
				keep[i] = true;
				m[k] = i;
				break;
			}
	}
	for (k = 0; k < nw; k++) {
		if (m[k] < MAX_ADDRS)
			continue;
		/* Port 0 is a new port each time: never another pool's. */
		for (i = 0; i < MAX_ADDRS && !port0(want[k].addr); i++)
			if (!keep[i] && strcmp(d->ls_key[i], want[k].addr) == 0)
				break;
		if (i < MAX_ADDRS && !port0(want[k].addr)) {
			keep[i] = true;
			m[k] = i;
			continue;
		}
		(void)wf_addr_parse(&a, want[k].addr);
		/* Its pool is set before its first connection is accepted. */
		if ((at = idx = wf_server_next_listener(d->server)) >= 0) {
			atomic_store(&d->lmap[at], lmap_of(want[k].p));
			if ((idx = wf_server_listen(d->server, &a)) < 0)
				atomic_store(&d->lmap[at], 0);
		}
		if (idx < 0) {
			weftd_log(LOG_ERR, "listen %s: %s", want[k].addr,
			    strerror(-idx));
			for (i = 0; i < MAX_ADDRS; i++)
				if (opened[i]) {
					(void)wf_server_close_listener(d->server, i);
					atomic_store(&d->lmap[i], 0);
				}
			return idx;
		}
		opened[idx] = keep[idx] = true;
		m[k] = (unsigned)idx;
	}
	for (i = 0; i < MAX_ADDRS; i++) {
		if (d->ls_key[i][0] == '\0' || keep[i])
			continue;
		weftd_log(LOG_INFO, "listen %s: closed (no pool names it)",
		    d->ls_key[i]);
		(void)wf_server_close_listener(d->server, i);
		atomic_store(&d->lmap[i], 0);
		d->ls_key[i][0] = '\0';
	}
	for (k = 0; k < nw; k++) {
		i = m[k];
		atomic_store(&d->lmap[i], lmap_of(want[k].p));
		if (opened[i]) {
			_Static_assert(sizeof(d->ls_key[i]) ==
			    sizeof(want[k].addr), "one size of address");
			memcpy(d->ls_key[i], want[k].addr, sizeof(d->ls_key[i]));
			log_listener(d, (int)i, want[k].p->cfg->name, "");
		}
	}
	return 0;
}

/* At start: systemd's sockets, or every configured address. */
int
listen_start(struct weftd *d)
{
	char **names = NULL;
	int n, i, rc;

	/* Also unsets LISTEN_FDS and LISTEN_PID: they were meant for us. */
	if ((n = sd_listen_fds_with_names(1, &names)) < 0) {
		weftd_log(LOG_ERR, "sd_listen_fds: %s", strerror(-n));
		return n;
	}
	if (n > 0) {
		d->adopted = (unsigned)n;
		rc = adopt_sockets(d, n, names);
	} else {
		struct weftd_pool_cfg *cfgs[MAX_POOLS];
		struct pool *pools[MAX_POOLS];
		unsigned k = 0, s;

		for (s = 0; s < MAX_POOLS; s++)
			if (d->pools[s]) {
				cfgs[k] = d->pools[s]->cfg;
				pools[k++] = d->pools[s];
			}
		rc = listen_apply(d, d->cfg.listen, d->cfg.nlisten, cfgs, pools,
		    k);
	}
	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
