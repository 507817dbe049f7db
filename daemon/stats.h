/*
 * What weftd tells an operator (weftctl status, /metrics): a snapshot taken
 * on the main thread from the counts the IO loops keep (lane.h), the
 * pools' and the listeners', formatted by report.c.
 */
#ifndef WEFTD_STATS_H
#define WEFTD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lane.h"

/* A growing text buffer; a failed allocation is remembered, not fatal. */
struct out {
	char *p;
	size_t len, cap;
	bool failed;
};

void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes and escapes included. */
void out_json(struct out *o, const char *s);
void out_free(struct out *o);

struct worker_snap {
	pid_t pid;
	const char *state;     /* starting idle busy leaving stopping */
	unsigned long long served;
	long long age_ms;      /* its oldest request's; -1: none */
	long long rss;         /* bytes; -1: unknown */
	time_t started;
	const char *why;       /* stopping: why it was retired */
	const char *replaces;  /* why the worker it replaced went; NULL */
	unsigned long max_requests; /* its own, jitter added; 0: none */
	const char *recycling; /* being replaced for this; NULL */
};

struct pool_snap {
	const char *name, *command;
	unsigned workers, min, max; /* workers: the target, now */
	bool dynamic;
	unsigned busy, idle, starting, leaving, stopping, ready;
	unsigned queued, queue_max, queue_limit;
	unsigned long long answers[STATUS_KINDS];
	unsigned long long lat[LAT_BOUNDS + 1]; /* not cumulative */
	unsigned long long lat_sum_us, max_reached, slow, respawns;
	unsigned long long recycled[3]; /* by RECYCLE_* */
	unsigned long long requests; /* answers, all statuses */
	double avg_ms, p99_ms; /* of the last minute; -1: no answer in it */
	struct worker_snap *w;
	unsigned nw;
	const struct pool_exit *exits; /* the pool's ring, oldest first: */
	unsigned nexits, exit0;        /* how many, and the first's index */
	uint64_t slow_ms;
};

struct listener_snap {
	char addr[128];
	const char *pool; /* NULL: none */
	struct wf_listener_stats st;
};

struct snapshot {
	pid_t pid;
	const char *version, *config;
	time_t started, loaded;
	unsigned long long uptime_s, reloads, reload_failures;
	unsigned io_threads, clients;
	bool draining, ready;
	unsigned long long served, closed[CLOSE_REASONS];
	unsigned long long buffered, budget;
	struct listener_snap ls[MAX_ADDRS];
	unsigned nls;
	struct pool_snap pools[MAX_POOLS];
	unsigned npools;
};

/* Names of the answer kinds (STATUS_KINDS), for reports. */
extern const char *const stats_status_names[STATUS_KINDS];

/* 0 or -ENOMEM; stats_free() either way. */
int stats_take(struct weftd *d, struct snapshot *s);
void stats_free(struct snapshot *s);
/* Every pool has a worker that takes requests, and no drain began. */
bool stats_ready(const struct weftd *d, char *why, size_t len);
/* From the status timer: p's latency counts, for the last minute's. */
void stats_tick(struct pool *p);
void stats_pool_free(struct pool *p);

/* report.c: s as text for people, JSON, or Prometheus' text format. */
void report_text(const struct snapshot *s, struct out *o);
void report_json(const struct snapshot *s, struct out *o);
void report_prometheus(const struct snapshot *s, struct out *o);

#endif
