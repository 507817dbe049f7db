/*
 * A snapshot (stats.c) three ways: a table for people (weftctl status),
 * JSON (weftctl status --json), and Prometheus' text exposition format
 * (GET /metrics), whose names follow Prometheus' conventions: weftd_
 * prefix, base units (seconds, bytes), _total on counters.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "stats.h"

static const char *
when(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

static const char *
span(unsigned long long s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%llud%lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lluh%llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%llum%llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%llus", s);
	return buf;
}

static const char *
bytes(long long n, char *buf, size_t len)
{
	if (n < 0)
		snprintf(buf, len, "-");
	else if (n >= 1 << 30)
		snprintf(buf, len, "%.1fG", (double)n / (1 << 30));
	else if (n >= 1 << 20)
		snprintf(buf, len, "%.1fM", (double)n / (1 << 20));
	else if (n >= 1 << 10)
		snprintf(buf, len, "%.1fk", (double)n / (1 << 10));
	else
		snprintf(buf, len, "%lld", n);
	return buf;
}

static const char *
ms(double v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f", v);
	return buf;
}

/* --- for people ---------------------------------------------------------- */

static void
text_pool(const struct pool_snap *p, struct out *o)
{
	char a[32], b[32], c[32];
	unsigned i, k;

	out_printf(o, "\npool %s: %s\n", p->name, p->command);
	out_printf(o, "  workers %u (min %u, max %u): %u busy, %u idle, %u "
	    "starting, %u leaving, %u stopping\n", p->workers, p->min, p->max,
	    p->busy, p->idle, p->starting, p->leaving, p->stopping);
	out_printf(o, "  queue %u (max seen %u, limit %u); max reached %llu "
	    "times\n", p->queued, p->queue_max, p->queue_limit, p->max_reached);
	out_printf(o, "  requests %llu:", p->requests);
	for (k = 0; k < STATUS_KINDS; k++)
		if (p->answers[k])
			out_printf(o, " %s %llu", stats_status_names[k],
			    p->answers[k]);
	out_printf(o, "\n  latency (last minute): avg %s ms, p99 %s ms; slow "
	    "%llu; respawns %llu\n", ms(p->avg_ms, a, sizeof(a)),
	    ms(p->p99_ms, b, sizeof(b)), p->slow, p->respawns);
	out_printf(o, "  recycled: %llu for max_requests, %llu for max_lifetime, "
	    "%llu for max_rss\n", p->recycled[RECYCLE_REQUESTS],
	    p->recycled[RECYCLE_LIFETIME], p->recycled[RECYCLE_RSS]);
	out_printf(o, "  %-8s %-9s %9s %9s %8s %-19s %s\n", "PID", "STATE",
	    "REQUESTS", "AGE_MS", "RSS", "STARTED", "REPLACED");
	for (i = 0; i < p->nw; i++) {
		const struct worker_snap *w = &p->w[i];

		if (w->age_ms >= 0)
			snprintf(c, sizeof(c), "%lld", w->age_ms);
		else
			snprintf(c, sizeof(c), "-");
		out_printf(o, "  %-8d %-9s %9llu %9s %8s %-19s %s%s%s\n",
		    (int)w->pid, w->state, w->served, c,
		    bytes(w->rss, a, sizeof(a)), when(w->started, b, sizeof(b)),
		    w->replaces ? w->replaces : "-", w->why ? "; retired: " : "",
		    w->why ? w->why : "");
	}
	if (p->nexits)
		out_printf(o, "  last exits:\n");
	for (i = 0; i < p->nexits; i++) {
		const struct pool_exit *e = &p->exits[(p->exit0 + i) % 8];

		out_printf(o, "    %s worker %d %s\n", when(e->at, a, sizeof(a)),
		    (int)e->pid, e->how);
	}
}

void
report_text(const struct snapshot *s, struct out *o)
{
	char a[32], b[32], c[32];
	unsigned i;

	out_printf(o, "weftd %s, pid %d, up %s; %s\n", s->version, (int)s->pid,
	    span(s->uptime_s, a, sizeof(a)), s->draining ? "draining" :
	    s->ready ? "ready" : "not ready");
	out_printf(o, "config %s, loaded %s (%llu reloads, %llu failed)\n",
	    s->config, when(s->loaded, b, sizeof(b)), s->reloads,
	    s->reload_failures);
	out_printf(o, "%u IO threads, %u connections, %llu answers, %s of %s "
	    "buffered\n", s->io_threads, s->clients, s->served,
	    bytes((long long)s->buffered, a, sizeof(a)),
	    bytes((long long)s->budget, c, sizeof(c)));
	out_printf(o, "\n%-28s %-12s %10s %8s %6s %6s %6s\n", "LISTENER", "POOL",
	    "ACCEPTED", "REFUSED", "CONNS", "QUEUE", "BACKLOG");
	for (i = 0; i < s->nls; i++) {
		const struct listener_snap *l = &s->ls[i];

		snprintf(a, sizeof(a), "%ld", l->st.queued);
		snprintf(b, sizeof(b), "%ld", l->st.queue_max);
		out_printf(o, "%-28s %-12s %10llu %8llu %6u %6s %6s\n", l->addr,
		    l->pool ? l->pool : "-", l->st.accepted, l->st.refused,
		    l->st.conns, l->st.queued < 0 ? "-" : a,
		    l->st.queue_max < 0 ? "-" : b);
	}
	for (i = 0; i < s->npools; i++)
		text_pool(&s->pools[i], o);
}

/* --- JSON ---------------------------------------------------------------- */

static void
json_num(struct out *o, const char *name, double v, bool more)
{
	if (v < 0 || isnan(v))
		out_printf(o, "\"%s\":null%s", name, more ? "," : "");
	else
		out_printf(o, "\"%s\":%.3f%s", name, v, more ? "," : "");
}

static void
json_worker(const struct worker_snap *w, struct out *o)
{
	out_printf(o, "{\"pid\":%d,\"state\":\"%s\",\"requests\":%llu,",
	    (int)w->pid, w->state, w->served);
	if (w->age_ms >= 0)
		out_printf(o, "\"request_age_ms\":%lld,", w->age_ms);
	else
		out_printf(o, "\"request_age_ms\":null,");
	if (w->rss >= 0)
		out_printf(o, "\"rss_bytes\":%lld,", w->rss);
	else
		out_printf(o, "\"rss_bytes\":null,");
	out_printf(o, "\"started\":%lld,\"last_exit\":", (long long)w->started);
	if (w->replaces)
		out_json(o, w->replaces);
	else
		out_printf(o, "null");
	out_printf(o, ",\"max_requests\":%lu,\"recycling\":", w->max_requests);
	if (w->recycling)
		out_json(o, w->recycling);
	else
		out_printf(o, "null");
	out_printf(o, ",\"retired\":");
	if (w->why)
		out_json(o, w->why);
	else
		out_printf(o, "null");
	out_printf(o, "}");
}

static void
json_pool(const struct pool_snap *p, struct out *o)
{
	unsigned i, k;

	out_printf(o, "{\"name\":");
	out_json(o, p->name);
	out_printf(o, ",\"command\":");
	out_json(o, p->command);
	out_printf(o, ",\"workers\":{\"dynamic\":%s,\"configured\":%u,"
	    "\"min\":%u,\"max\":%u,"
	    "\"busy\":%u,\"idle\":%u,\"starting\":%u,\"leaving\":%u,"
	    "\"stopping\":%u,\"ready\":%u},", p->dynamic ? "true" : "false",
	    p->workers, p->min, p->max,
	    p->busy, p->idle, p->starting, p->leaving, p->stopping, p->ready);
	out_printf(o, "\"queue\":{\"length\":%u,\"max\":%u,\"limit\":%u},",
	    p->queued, p->queue_max, p->queue_limit);
	out_printf(o, "\"requests\":{\"total\":%llu", p->requests);
	for (k = 0; k < STATUS_KINDS; k++)
		out_printf(o, ",\"%s\":%llu", stats_status_names[k],
		    p->answers[k]);
	out_printf(o, "},\"overloaded\":%llu,\"timeout\":%llu,\"respawns\":%llu,"
	    "\"max_reached\":%llu,\"slow\":%llu,\"slow_request_ms\":%llu,",
	    p->answers[WEFTD_OVERLOADED], p->answers[WEFTD_TIMEOUT],
	    p->respawns, p->max_reached, p->slow,
	    (unsigned long long)p->slow_ms);
	out_printf(o, "\"recycled\":{");
	for (k = 0; k < 3; k++)
		out_printf(o, "%s\"%s\":%llu", k ? "," : "", recycle_names[k],
		    p->recycled[k]);
	out_printf(o, "},\"latency_ms\":{");
	json_num(o, "avg", p->avg_ms, true);
	json_num(o, "p99", p->p99_ms, false);
	out_printf(o, "},\"worker_list\":[");
	for (i = 0; i < p->nw; i++) {
		if (i)
			out_printf(o, ",");
		json_worker(&p->w[i], o);
	}
	out_printf(o, "],\"exits\":[");
	for (i = 0; i < p->nexits; i++) {
		const struct pool_exit *e = &p->exits[(p->exit0 + i) % 8];

		out_printf(o, "%s{\"pid\":%d,\"at\":%lld,\"how\":", i ? "," : "",
		    (int)e->pid, (long long)e->at);
		out_json(o, e->how);
		out_printf(o, "}");
	}
	out_printf(o, "]}");
}

void
report_json(const struct snapshot *s, struct out *o)
{
	unsigned i;

	out_printf(o, "{\"pid\":%d,\"version\":", (int)s->pid);
	out_json(o, s->version);
	out_printf(o, ",\"config\":");
	out_json(o, s->config);
	out_printf(o, ",\"started\":%lld,\"loaded\":%lld,\"uptime_s\":%llu,"
	    "\"reloads\":%llu,\"reload_failures\":%llu,\"io_threads\":%u,"
	    "\"connections\":%u,\"answers\":%llu,\"buffered_bytes\":%llu,"
	    "\"buffered_limit_bytes\":%llu,\"draining\":%s,\"ready\":%s,",
	    (long long)s->started, (long long)s->loaded, s->uptime_s,
	    s->reloads, s->reload_failures, s->io_threads, s->clients,
	    s->served, s->buffered, s->budget, s->draining ? "true" : "false",
	    s->ready ? "true" : "false");
	out_printf(o, "\"closed\":{");
	for (i = 0; i < CLOSE_REASONS; i++)
		out_printf(o, "%s\"%s\":%llu", i ? "," : "", weftd_close_names[i],
		    s->closed[i]);
	out_printf(o, "},\"listeners\":[");
	for (i = 0; i < s->nls; i++) {
		const struct listener_snap *l = &s->ls[i];

		out_printf(o, "%s{\"address\":", i ? "," : "");
		out_json(o, l->addr);
		out_printf(o, ",\"pool\":");
		if (l->pool)
			out_json(o, l->pool);
		else
			out_printf(o, "null");
		out_printf(o, ",\"accepted\":%llu,\"refused\":%llu,"
		    "\"connections\":%u,", l->st.accepted, l->st.refused,
		    l->st.conns);
		if (l->st.queued >= 0)
			out_printf(o, "\"accept_queue\":%ld,\"accept_queue_max\":"
			    "%ld}", l->st.queued, l->st.queue_max);
		else
			out_printf(o, "\"accept_queue\":null,"
			    "\"accept_queue_max\":null}");
	}
	out_printf(o, "],\"pools\":[");
	for (i = 0; i < s->npools; i++) {
		if (i)
			out_printf(o, ",");
		json_pool(&s->pools[i], o);
	}
	out_printf(o, "]}\n");
}

/* --- Prometheus ---------------------------------------------------------- */

/* A label value: backslash, quote and newline escaped. */
static void
label(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			out_printf(o, "\\%c", *s);
		else if (*s == '\n')
			out_printf(o, "\\n");
		else
			out_printf(o, "%c", *s);
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pool="..."} v, for each pool. */
static void
per_pool(const struct snapshot *s, struct out *o, const char *name,
    const char *type, const char *help, size_t off, bool ull)
{
	unsigned i;

	family(o, name, type, help);
	for (i = 0; i < s->npools; i++) {
		const char *p = (const char *)&s->pools[i] + off;

		out_printf(o, "%s{pool=\"", name);
		label(o, s->pools[i].name);
		if (ull)
			out_printf(o, "\"} %llu\n",
			    *(const unsigned long long *)(const void *)p);
		else
			out_printf(o, "\"} %u\n", *(const unsigned *)(const void *)p);
	}
}

static void
prom_listeners(const struct snapshot *s, struct out *o)
{
	static const struct {
		const char *name, *type, *help;
	} f[] = {
		{ "weftd_listener_accepted_connections_total", "counter",
		    "Connections accepted on the listener." },
		{ "weftd_listener_refused_connections_total", "counter",
		    "Connections closed at once: max_connections, "
		    "max_connections_per_ip." },
		{ "weftd_listener_connections", "gauge",
		    "Open connections accepted on the listener." },
		{ "weftd_listener_accept_queue", "gauge",
		    "Connections in the kernel's accept queue (TCP)." },
		{ "weftd_listener_accept_queue_limit", "gauge",
		    "The accept queue's size, the listen backlog (TCP)." },
	};
	unsigned i, k;

	for (k = 0; k < 5; k++) {
		family(o, f[k].name, f[k].type, f[k].help);
		for (i = 0; i < s->nls; i++) {
			const struct listener_snap *l = &s->ls[i];
			long long v[5] = { (long long)l->st.accepted,
			    (long long)l->st.refused, l->st.conns, l->st.queued,
			    l->st.queue_max };

			if (v[k] < 0)
				continue;
			out_printf(o, "%s{listener=\"", f[k].name);
			label(o, l->addr);
			out_printf(o, "\",pool=\"");
			label(o, l->pool ? l->pool : "");
			out_printf(o, "\"} %lld\n", v[k]);
		}
	}
}

static void
prom_histogram(const struct snapshot *s, struct out *o)
{
	static const char name[] = "weftd_pool_request_duration_seconds";
	unsigned i, k;

	family(o, name, "histogram", "From a request read whole to its answer.");
	for (i = 0; i < s->npools; i++) {
		const struct pool_snap *p = &s->pools[i];
		unsigned long long cum = 0;

		for (k = 0; k <= LAT_BOUNDS; k++) {
			cum += p->lat[k];
			out_printf(o, "%s_bucket{pool=\"", name);
			label(o, p->name);
			if (k < LAT_BOUNDS)
				out_printf(o, "\",le=\"%g\"} %llu\n",
				    (double)lat_bounds_us[k] / 1e6, cum);
			else
				out_printf(o, "\",le=\"+Inf\"} %llu\n", cum);
		}
		out_printf(o, "%s_sum{pool=\"", name);
		label(o, p->name);
		out_printf(o, "\"} %.6f\n", (double)p->lat_sum_us / 1e6);
		out_printf(o, "%s_count{pool=\"", name);
		label(o, p->name);
		out_printf(o, "\"} %llu\n", cum);
	}
}

static void
prom_pools(const struct snapshot *s, struct out *o)
{
	static const char *const states[] = { "busy", "idle", "starting",
	    "leaving", "stopping" };
	unsigned i, k;

	family(o, "weftd_pool_workers", "gauge",
	    "Handler processes of the pool, by state.");
	for (i = 0; i < s->npools; i++) {
		const struct pool_snap *p = &s->pools[i];
		unsigned v[] = { p->busy, p->idle, p->starting, p->leaving,
		    p->stopping };

		for (k = 0; k < 5; k++) {
			out_printf(o, "weftd_pool_workers{pool=\"");
			label(o, p->name);
			out_printf(o, "\",state=\"%s\"} %u\n", states[k], v[k]);
		}
	}
	per_pool(s, o, "weftd_pool_workers_configured", "gauge",
	    "Workers the pool is configured to run (weftctl pool ... workers "
	    "changes it).", offsetof(struct pool_snap, workers), false);
	per_pool(s, o, "weftd_pool_workers_min", "gauge",
	    "The fewest workers the pool keeps.",
	    offsetof(struct pool_snap, min), false);
	per_pool(s, o, "weftd_pool_workers_max", "gauge",
	    "The most workers the pool runs.",
	    offsetof(struct pool_snap, max), false);
	per_pool(s, o, "weftd_pool_ready_workers", "gauge",
	    "Workers that take new requests.",
	    offsetof(struct pool_snap, ready), false);
	per_pool(s, o, "weftd_pool_queue_length", "gauge",
	    "Requests waiting for a worker.",
	    offsetof(struct pool_snap, queued), false);
	per_pool(s, o, "weftd_pool_queue_length_max", "gauge",
	    "The longest the queue has been since the start.",
	    offsetof(struct pool_snap, queue_max), false);
	per_pool(s, o, "weftd_pool_queue_limit", "gauge",
	    "queue_limit: requests beyond it are answered overloaded.",
	    offsetof(struct pool_snap, queue_limit), false);
	family(o, "weftd_pool_requests_total", "counter",
	    "Answers of the pool, by status (ok: the handler's status 0, "
	    "handler_error: any other status a handler sent).");
	for (i = 0; i < s->npools; i++)
		for (k = 0; k < STATUS_KINDS; k++) {
			if (k == WEFTD_BAD_REQUEST || k == WEFTD_NO_ROUTE)
				continue; /* never a pool's */
			out_printf(o, "weftd_pool_requests_total{pool=\"");
			label(o, s->pools[i].name);
			out_printf(o, "\",status=\"%s\"} %llu\n",
			    stats_status_names[k], s->pools[i].answers[k]);
		}
	prom_histogram(s, o);
	per_pool(s, o, "weftd_pool_max_reached_total", "counter",
	    "Requests that found every worker busy and waited in the queue.",
	    offsetof(struct pool_snap, max_reached), true);
	per_pool(s, o, "weftd_pool_slow_requests_total", "counter",
	    "Requests that ran past slow_request.",
	    offsetof(struct pool_snap, slow), true);
	family(o, "weftd_pool_recycles_total", "counter",
	    "Workers replaced, their successor first, by reason.");
	for (i = 0; i < s->npools; i++)
		for (k = 0; k < 3; k++) {
			out_printf(o, "weftd_pool_recycles_total{pool=\"");
			label(o, s->pools[i].name);
			out_printf(o, "\",reason=\"%s\"} %llu\n", recycle_names[k],
			    s->pools[i].recycled[k]);
		}
	per_pool(s, o, "weftd_pool_respawns_total", "counter",
	    "Workers started to replace one that exited or was retired.",
	    offsetof(struct pool_snap, respawns), true);
}

void
report_prometheus(const struct snapshot *s, struct out *o)
{
	unsigned i;

	family(o, "weftd_build_info", "gauge", "weftd's version.");
	out_printf(o, "weftd_build_info{version=\"");
	label(o, s->version);
	out_printf(o, "\"} 1\n");
	family(o, "weftd_start_time_seconds", "gauge",
	    "When weftd started, in seconds since the epoch.");
	out_printf(o, "weftd_start_time_seconds %lld\n", (long long)s->started);
	family(o, "weftd_config_load_time_seconds", "gauge",
	    "When the running configuration was loaded.");
	out_printf(o, "weftd_config_load_time_seconds %lld\n",
	    (long long)s->loaded);
	family(o, "weftd_config_reloads_total", "counter",
	    "Reloads that took effect.");
	out_printf(o, "weftd_config_reloads_total %llu\n", s->reloads);
	family(o, "weftd_config_reload_failures_total", "counter",
	    "Reloads refused: the running configuration stayed.");
	out_printf(o, "weftd_config_reload_failures_total %llu\n",
	    s->reload_failures);
	family(o, "weftd_ready", "gauge",
	    "1 while every pool has a ready worker and no drain began.");
	out_printf(o, "weftd_ready %d\n", s->ready);
	family(o, "weftd_draining", "gauge", "1 once a graceful shutdown began.");
	out_printf(o, "weftd_draining %d\n", s->draining);
	family(o, "weftd_connections", "gauge", "Open client connections.");
	out_printf(o, "weftd_connections %u\n", s->clients);
	family(o, "weftd_connections_closed_total", "counter",
	    "Client connections weftd closed or refused, by reason.");
	for (i = 0; i < CLOSE_REASONS; i++)
		out_printf(o, "weftd_connections_closed_total{reason=\"%s\"} "
		    "%llu\n", weftd_close_names[i], s->closed[i]);
	family(o, "weftd_answers_total", "counter",
	    "Answers given to clients, all pools together.");
	out_printf(o, "weftd_answers_total %llu\n", s->served);
	family(o, "weftd_buffered_bytes", "gauge",
	    "Bytes of requests and answers held (max_buffered).");
	out_printf(o, "weftd_buffered_bytes %llu\n", s->buffered);
	family(o, "weftd_buffered_limit_bytes", "gauge", "max_buffered.");
	out_printf(o, "weftd_buffered_limit_bytes %llu\n", s->budget);
	prom_listeners(s, o);
	prom_pools(s, o);
}
