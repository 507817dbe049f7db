/* weftd's configuration: parsed with libconfuse, every value checked. */
#ifndef WEFTD_CONFIG_H
#define WEFTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_POOLS 64
#define MAX_ADDRS 64     /* listen addresses, all pools together */
#define POOL_NAME_MAX 32
#define DEFAULT_POOL "default"
#define DEFAULT_CONTROL "/run/weft/control.sock"

/* A pool of handler processes: a `pool "NAME" { }` or the handler section. */
struct weftd_pool_cfg {
	char *name;
	int line;    /* of its command, for -t's messages */
	char **argv; /* NULL-terminated; argv[0] is the program */
	unsigned argc;
	unsigned workers;     /* static: the count; dynamic: where it starts */
	/* Dynamic (max_workers set): min_workers .. max_workers, keeping
	 * spare_workers idle, stopping one idle worker_idle_timeout, starting
	 * at most spawn_rate a second. Static: min = max = workers. */
	bool dynamic;
	unsigned min_workers, max_workers, spare_workers, spawn_rate;
	uint64_t worker_idle_timeout_ms;
	uint64_t request_timeout_ms;
	unsigned queue_limit;
	unsigned pipeline; /* requests in flight per worker; 0: auto */
	char **env; /* NAME=value, NULL-terminated */
	unsigned nenv;
	char **listen; /* its own addresses: requests there come to it */
	unsigned nlisten;
	uint16_t *routes; /* route ids that select it, whatever the listener */
	unsigned nroutes;
	char *user, *group; /* as written; "" or NULL: weftd's own */
	uid_t uid;          /* (uid_t)-1: weftd's own */
	gid_t gid;
	gid_t *groups;      /* supplementary: the user's (getgrouplist) */
	int ngroups;
	uint64_t rlimit_nofile, rlimit_as; /* 0: as weftd's */
	uint64_t slow_request_ms; /* 0: off */
	/* Recycling (0: off): a worker is replaced, its successor first,
	 * after max_requests + [0, jitter] answers, max_lifetime + [0,
	 * jitter] ms, or an answer after which its RSS is above max_rss. */
	unsigned max_requests, max_requests_jitter;
	uint64_t max_lifetime_ms, max_lifetime_jitter_ms;
	uint64_t max_rss;
};

struct weftd_config {
	char **listen; /* addresses as wf_addr_parse() takes them: `default` */
	unsigned nlisten;
	unsigned io_threads;
	unsigned max_connections;
	unsigned max_pipeline;        /* requests in flight per connection */
	uint32_t max_frame;           /* bytes */
	uint64_t idle_timeout_ms;     /* 0: none */
	uint64_t shutdown_timeout_ms;
	uint64_t drain_delay_ms;      /* SIGTERM: /readyz 503, still serving */
	uint64_t frame_timeout_ms;    /* first byte of a frame to its last */
	uint64_t send_timeout_ms;     /* oldest answer byte owed, unwritten */
	uint64_t max_buffered;        /* bytes of requests and answers held */
	uint64_t max_buffered_per_client;
	unsigned max_connections_per_ip; /* 0: no limit */
	int log_level;                /* LOG_ERR .. LOG_DEBUG */
	int facility;                 /* LOG_DAEMON, LOG_USER, LOG_LOCAL0-7 */
	struct {              /* Unix listeners' socket files */
		int mode;     /* permission bits */
		uid_t uid;    /* (uid_t)-1: weftd's own */
		gid_t gid;    /* (gid_t)-1: weftd's own */
	} unix_socket;
	/* Top-level user and group: weftd drops to them after binding. */
	char *user, *group;
	uid_t uid; /* (uid_t)-1: stay as started */
	gid_t gid;
	gid_t *groups;
	int ngroups;
	/* The control socket's path ("": none) and whether it is another
	 * than the default (which may be left out when it cannot be bound). */
	char *control;
	bool control_set;
	char *metrics_listen; /* "": none */
	struct weftd_pool_cfg **pools; /* the `default` pool first, if any */
	unsigned npools;
	uint64_t digest; /* of the file's bytes (FNV-1a): same file read? */
};

/* The pool named name, or NULL. */
struct weftd_pool_cfg *weftd_config_pool(const struct weftd_config *c,
    const char *name);
void weftd_pool_cfg_free(struct weftd_pool_cfg *p);

/*
 * Load path into *c. On error returns -1 with err holding
 * "file:line: what is wrong" (or "file: ..." when no line applies).
 */
int weftd_config_load(const char *path, struct weftd_config *c, char *err,
    size_t errlen);
void weftd_config_free(struct weftd_config *c);

/*
 * What the parser cannot see: each pool's handler program must be an
 * executable regular file, and its user one weftd can start it as (root
 * can, and so can the privileged spawner: spawner). Caught by -t and by a
 * reload, not by the first fork.
 */
int weftd_config_check(const char *path, const struct weftd_config *c,
    bool spawner, char *err, size_t errlen);

/* "64k", "1m", "1g" or bytes; "500ms", "30s", "5m", "1h" or seconds. */
int weftd_parse_size(const char *s, uint64_t *bytes);
int weftd_parse_duration(const char *s, uint64_t *ms);

#endif
