/*
 * weftd.conf. libconfuse does the syntax and unknown keys; our validate
 * callbacks check every value while the parser still knows the line, so
 * each error reads "file:line: what is wrong".
 */
#include <confuse.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <weft/addr.h>

#include "config.h"

/* A listen address or route id claimed by a pool, while parsing. */
struct claim {
	const cfg_t *sec;   /* who claims it */
	const char *kind;   /* "listen" or "routes" */
	char what[128]; /* the address as formatted, or the route's number */
	char pool[POOL_NAME_MAX + 32]; /* as claimant() names it */
	int line;
};

struct errbuf {
	char *buf;
	size_t len;
	const char *path;
	struct claim *claims;
	unsigned nclaims;
	/* Where each section's command is: what -t's file:line points at. */
	struct { const cfg_t *sec; int line; } cmd[MAX_POOLS + 1];
	unsigned ncmd;
	/* How many addresses each section's listen has (the top level's too). */
	struct { const cfg_t *sec; unsigned n; } addrs[MAX_POOLS + 2];
	unsigned naddrs;
};

static const struct {
	const char *name;
	long min, max;
} ranges[] = {
	{ "max_connections", 1, 1000000 },
	{ "workers", 1, 1024 },
	{ "min_workers", 0, 1024 },
	{ "max_workers", 1, 1024 },
	{ "spare_workers", 0, 1024 },
	{ "spawn_rate", 1, 10000 },
	{ "queue_limit", 0, 1000000 },
	{ "max_requests", 0, 1000000000 },
	{ "max_requests_jitter", 0, 1000000000 },
	{ "max_pipeline", 1, 65536 },
	{ "pipeline", 1, 1024 },
	{ "io_threads", 1, 256 },
	{ "max_connections_per_ip", 0, 1000000 },
	{ "rlimit_nofile", 0, 1048576 },
};

static const struct {
	const char *name;
	int value;
} levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
}, facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * libconfuse's callbacks have no user pointer: the state of the load in
 * progress is file-scope. Configuration is loaded on the main thread.
 */
static struct errbuf *current;

/* A number, then a unit from the table; a bare number takes unit `bare`. */
static int
parse_units(const char *s, uint64_t *out, const char *const *units,
    const uint64_t *mult, size_t n, uint64_t bare)
{
	unsigned long long v;
	char *end;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == '\0') {
		if (v > UINT64_MAX / bare)
			return -1;
		*out = v * bare;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(end, units[i]) == 0) {
			if (v > UINT64_MAX / mult[i])
				return -1;
			*out = v * mult[i];
			return 0;
		}
	}
	return -1;
}

int
weftd_parse_size(const char *s, uint64_t *bytes)
{
	static const char *const u[] = { "k", "m", "g" };
	static const uint64_t m[] = { 1u << 10, 1u << 20, 1u << 30 };

	return parse_units(s, bytes, u, m, 3, 1);
}

int
weftd_parse_duration(const char *s, uint64_t *ms)
{
	static const char *const u[] = { "ms", "s", "m", "h" };
	static const uint64_t m[] = { 1, 1000, 60000, 3600000 };

	return parse_units(s, ms, u, m, 4, 1000);
}

static int
lookup(const char *s, int *out, int facility)
{
	size_t i, n = facility ? NITEMS(facilities) : NITEMS(levels);

	for (i = 0; i < n; i++) {
		const char *name = facility ? facilities[i].name : levels[i].name;

		if (strcmp(s, name) == 0) {
			*out = facility ? facilities[i].value : levels[i].value;
			return 0;
		}
	}
	return -1;
}

static int
check_range(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt);
	long v = cfg_opt_getnint(opt, 0);
	size_t i;

	for (i = 0; i < NITEMS(ranges); i++) {
		if (strcmp(name, ranges[i].name) == 0 &&
		    (v < ranges[i].min || v > ranges[i].max)) {
			cfg_error(cfg, "%s: %ld is out of range %ld..%ld", name, v,
			    ranges[i].min, ranges[i].max);
			return -1;
		}
	}
	return 0;
}

#define MAX_IO_THREADS 256

/* "auto" (0 here), or a number. */
static int
parse_auto(const char *s, long *n)
{
	char *end;

	if (s && strcmp(s, "auto") == 0) {
		*n = 0;
		return 0;
	}
	if (s == NULL || ((*s < '0' || *s > '9') && *s != '-'))
		return -1;
	errno = 0;
	*n = strtol(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* "auto" or a number in the setting's range. */
static int
check_auto(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	long n;
	size_t i;

	if (parse_auto(s, &n) < 0) {
		cfg_error(cfg, "%s: \"%s\" is neither auto nor a number", name,
		    s ? s : "");
		return -1;
	}
	for (i = 0; i < NITEMS(ranges); i++)
		if (strcmp(name, ranges[i].name) == 0 &&
		    strcmp(s, "auto") != 0 &&
		    (n < ranges[i].min || n > ranges[i].max)) {
			cfg_error(cfg, "%s: %ld is out of range %ld..%ld", name,
			    n, ranges[i].min, ranges[i].max);
			return -1;
		}
	return 0;
}

/*
 * auto: one IO thread per 4 CPUs weftd may run on, at least one. Measured
 * on 2 CPUs (pinned and not): a second IO thread costs 10-35 % more CPU
 * per request than one, as it only shares a core with the handlers; the
 * handlers, not the framing, are what needs the CPUs.
 */
static unsigned
auto_threads(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) < 0 ||
	    (n = CPU_COUNT(&set)) < 4)
		return 1;
	return n / 4 < MAX_IO_THREADS ? (unsigned)n / 4 : MAX_IO_THREADS;
}

static int
check_size(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	/* The budgets (0 derives them from max_frame) and rlimit_as (0: none). */
	int budget = strncmp(name, "max_buffered", 12) == 0 ||
	    strcmp(name, "rlimit_as") == 0 || strcmp(name, "max_rss") == 0;
	uint64_t v, max = budget ? UINT64_C(1) << 40 : 1u << 30;

	if (weftd_parse_size(s, &v) < 0 || (v < 64 && !(budget && v == 0)) ||
	    v > max) {
		cfg_error(cfg, "%s: \"%s\" is not a size from %s to %s (bytes, "
		    "or with k, m, g)", name, s ? s : "", budget ? "0" : "64",
		    budget ? "1024g" : "1g");
		return -1;
	}
	return 0;
}

static int
check_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	int zero_ok = strcmp(name, "request_timeout") != 0 &&
	    strcmp(name, "frame_timeout") != 0 &&
	    strcmp(name, "send_timeout") != 0;
	uint64_t v;

	if (weftd_parse_duration(s, &v) < 0 || (v == 0 && !zero_ok) ||
	    v > 86400000) {
		cfg_error(cfg, "%s: \"%s\" is not a duration %s to 1 day "
		    "(seconds, or with ms, s, m, h)", name, s ? s : "",
		    zero_ok ? "from 0" : "above 0");
		return -1;
	}
	return 0;
}

static int
check_name(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	int facility = strcmp(name, "syslog_facility") == 0, v;

	if (s == NULL || lookup(s, &v, facility) < 0) {
		cfg_error(cfg, "%s: \"%s\" is not one of %s", name, s ? s : "",
		    facility ? "daemon, user, local0..local7" :
		    "err, warning, notice, info, debug");
		return -1;
	}
	return 0;
}

/* Who claims something: a pool, or (title NULL) the top level. */
static const char *
claimant(cfg_t *cfg, char *buf, size_t len)
{
	const char *t = cfg_title(cfg), *n = cfg_name(cfg);

	if (n && strcmp(n, "handler") == 0)
		snprintf(buf, len, "the handler section");
	else if (t == NULL)
		snprintf(buf, len, "the top level");
	else
		snprintf(buf, len, "pool \"%s\"", t);
	return buf;
}

/*
 * libconfuse may validate one list more than once: a section's claims of
 * a kind are dropped before its list is looked at (again).
 */
static void
unclaim(const cfg_t *sec, const char *kind)
{
	struct errbuf *e = current;
	unsigned i = 0;

	while (e && i < e->nclaims)
		if (e->claims[i].sec == sec && e->claims[i].kind == kind)
			e->claims[i] = e->claims[--e->nclaims];
		else
			i++;
}

/*
 * what (an address or a route) for the section being parsed: an error if
 * another section has it already. Sections are parsed in file order, so
 * the second one named is the one at fault.
 */
static int
claim(cfg_t *cfg, const char *kind, const char *what)
{
	struct errbuf *e = current;
	char me[sizeof(((struct claim *)0)->pool)];
	struct claim *c;
	unsigned i;

	if (e == NULL)
		return 0;
	claimant(cfg, me, sizeof(me));
	for (i = 0; i < e->nclaims; i++) {
		c = &e->claims[i];
		if (strcmp(c->what, what) != 0)
			continue;
		if (strcmp(c->pool, me) == 0)
			cfg_error(cfg, "%s: %s is listed twice", kind, what);
		else
			cfg_error(cfg, "%s: %s is %s's already (line %d)", kind,
			    what, c->pool, c->line);
		return -1;
	}
	if (e->nclaims % 64 == 0) {
		c = realloc(e->claims, (e->nclaims + 64) * sizeof(*c));
		if (c == NULL) {
			cfg_error(cfg, "out of memory");
			return -1;
		}
		e->claims = c;
	}
	c = &e->claims[e->nclaims++];
	c->sec = cfg;
	c->kind = kind;
	snprintf(c->what, sizeof(c->what), "%s", what);
	snprintf(c->pool, sizeof(c->pool), "%s", me);
	c->line = cfg->line;
	return 0;
}

/*
 * cfg's listen has n addresses: an error, at its line, if that makes more
 * than MAX_ADDRS in all. libconfuse validates a list twice: n replaces.
 */
static int
count_addrs(cfg_t *cfg, unsigned n)
{
	struct errbuf *e = current;
	unsigned i, sum = n;

	if (e == NULL)
		return 0;
	for (i = 0; i < e->naddrs && e->addrs[i].sec != cfg; i++)
		sum += e->addrs[i].n;
	if (i == e->naddrs) {
		if (i == sizeof(e->addrs) / sizeof(e->addrs[0]))
			return 0; /* too many pools: check_pool() says so */
		e->addrs[e->naddrs++].sec = cfg;
	}
	e->addrs[i].n = n;
	for (i++; i < e->naddrs; i++)
		sum += e->addrs[i].n;
	if (sum > MAX_ADDRS) {
		cfg_error(cfg, "listen: more than %d addresses in all",
		    MAX_ADDRS);
		return -1;
	}
	return 0;
}

static int
check_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char kind[] = "listen";
	struct wf_addr a;
	char buf[128];
	unsigned i;

	unclaim(cfg, kind);
	if (cfg_opt_size(opt) == 0) {
		cfg_error(cfg, "listen: needs at least one address");
		return -1;
	}
	if (count_addrs(cfg, cfg_opt_size(opt)) < 0)
		return -1;
	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (wf_addr_parse(&a, s) < 0) {
			cfg_error(cfg, "listen: \"%s\" is not HOST:PORT, "
			    "[IPV6]:PORT or unix:/path", s);
			return -1;
		}
		/*
		 * As formatted: *:7000 and 0.0.0.0:7000 are one address. Port
		 * 0 is a new port each time: it is nobody's twice.
		 */
		wf_addr_format(&a, buf, sizeof(buf));
		if (strlen(buf) > 2 && strcmp(buf + strlen(buf) - 2, ":0") == 0)
			continue;
		if (claim(cfg, kind, buf) < 0)
			return -1;
	}
	return 0;
}

/*
 * control and metrics_listen: "" (none) or an address; the control socket
 * only unix:/absolute/path, as it is for this host's operators only.
 */
static int
check_admin(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	bool control = strcmp(name, "control") == 0;
	struct wf_addr a;

	if (s == NULL || *s == '\0')
		return 0;
	if ((control && strncmp(s, "unix:/", 6) != 0) ||
	    wf_addr_parse(&a, s) < 0) {
		cfg_error(cfg, "%s: \"%s\" is not %s (or \"\" for none)", name, s,
		    control ? "unix:/absolute/path" :
		    "HOST:PORT, [IPV6]:PORT or unix:/path");
		return -1;
	}
	return 0;
}

static int
check_routes(cfg_t *cfg, cfg_opt_t *opt)
{
	static const char kind[] = "routes";
	char buf[16];
	unsigned i;
	long r;

	unclaim(cfg, kind);
	for (i = 0; i < cfg_opt_size(opt); i++) {
		r = cfg_opt_getnint(opt, i);
		if (r < 1 || r > 65535) {
			cfg_error(cfg, "routes: %ld is not a route id 1..65535 "
			    "(0 is the listener's pool)", r);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%ld", r);
		if (claim(cfg, kind, buf) < 0)
			return -1;
	}
	return 0;
}

/* A pool's name: what logs and metrics label it with. */
static int
check_pool(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	const char *t = cfg_title(sec), *p;

	for (p = t; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' &&
		    *p != '.')
			break;
	if (*t == '\0' || *p || strlen(t) > POOL_NAME_MAX) {
		cfg_error(cfg, "pool \"%s\": a name is 1 to %d letters, digits, "
		    "'_', '-' or '.'", t, POOL_NAME_MAX);
		return -1;
	}
	if (cfg_opt_size(opt) > MAX_POOLS) {
		cfg_error(cfg, "pool \"%s\": more than %d pools", t, MAX_POOLS);
		return -1;
	}
	return 0;
}

/* Octal permission bits, as chmod(1) takes them: "0660", "660". */
static int
parse_mode(const char *s, int *mode)
{
	unsigned long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '7')
		return -1;
	v = strtoul(s, &end, 8);
	if (*end != '\0' || v == 0 || v > 0777)
		return -1;
	*mode = (int)v;
	return 0;
}

static int
check_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	int mode;

	if (parse_mode(s, &mode) < 0) {
		cfg_error(cfg, "mode: \"%s\" is not an octal mode from 0001 "
		    "to 0777 (as chmod takes it: 0660)", s ? s : "");
		return -1;
	}
	return 0;
}

/* A user or group name, or a number; "" is weftd's own: -1. */
static int
lookup_id(const char *s, int group, unsigned long *id)
{
	struct passwd *pw;
	struct group *gr;
	char *end;

	if (s == NULL || *s == '\0') {
		*id = (unsigned long)-1;
		return 0;
	}
	errno = 0;
	*id = strtoul(s, &end, 10);
	if (*s >= '0' && *s <= '9' && *end == '\0')
		return errno || *id >= (unsigned long)(uid_t)-1 ? -1 : 0;
	if (group) {
		if ((gr = getgrnam(s)) == NULL)
			return -1;
		*id = gr->gr_gid;
	} else {
		if ((pw = getpwnam(s)) == NULL)
			return -1;
		*id = pw->pw_uid;
	}
	return 0;
}

static int
check_owner(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *name = cfg_opt_name(opt), *s = cfg_opt_getnstr(opt, 0);
	int group = strcmp(name, "group") == 0;
	unsigned long id;

	if (lookup_id(s, group, &id) < 0 || (s && *s == '-')) {
		cfg_error(cfg, "%s: no such %s \"%s\"", name,
		    group ? "group" : "user", s);
		return -1;
	}
	return 0;
}

static int
check_env(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned i;

	for (i = 0; i < cfg_opt_size(opt); i++) {
		const char *s = cfg_opt_getnstr(opt, i), *eq = strchr(s, '=');

		if (eq == NULL || eq == s) {
			cfg_error(cfg, "env: \"%s\" is not NAME=value", s);
			return -1;
		}
	}
	return 0;
}

static int
check_command(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_size(opt) ? cfg_opt_getnstr(opt, 0) : NULL;

	/* execv, no shell and no PATH search: the program is a full path. */
	if (s == NULL || s[0] != '/') {
		cfg_error(cfg, "command: the first word must be an absolute "
		    "path, not \"%s\"", s ? s : "");
		return -1;
	}
	if (current && current->ncmd < NITEMS(current->cmd)) {
		current->cmd[current->ncmd].sec = cfg;
		current->cmd[current->ncmd++].line = cfg->line;
	}
	return 0;
}


static void
on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	int n = 0;

	if (current == NULL || current->buf[0])
		return; /* keep the first error: the later ones follow from it */
	if (cfg)
		n = cfg->line > 0 ?
		    snprintf(current->buf, current->len, "%s:%d: ",
		    current->path, cfg->line) :
		    snprintf(current->buf, current->len, "%s: ", current->path);
	if (n >= 0 && (size_t)n < current->len)
		vsnprintf(current->buf + n, current->len - (size_t)n, fmt, ap);
}

/*
 * libconfuse 3.3 (Debian 12) counts one or two lines too many for every
 * comment, so errors after a comment named the wrong line. Comments are
 * blanked out here instead, newlines kept, and libconfuse parses the rest:
 * '#' and '//' to the end of the line, and C comments, outside quotes.
 * Returns the line of a C comment that never ends, or 0.
 */
static int
blank_comments(char *p)
{
	char quote = 0;
	enum { CODE, LINE, BLOCK } st = CODE;
	int line = 1, opened = 0;

	for (; *p; p++) {
		if (*p == '\n')
			line++;
		if (quote) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if (st == CODE) {
			if (*p == '"' || *p == '\'')
				quote = *p;
			else if (*p == '#' || (p[0] == '/' && p[1] == '/'))
				st = LINE;
			else if (p[0] == '/' && p[1] == '*')
				st = BLOCK, opened = line, *p++ = ' ';
			if (st == CODE)
				continue;
		} else if (st == LINE && *p == '\n') {
			st = CODE;
		} else if (st == BLOCK && p[0] == '*' && p[1] == '/') {
			st = CODE;
			*p++ = ' ';
		}
		if (*p != '\n')
			*p = ' ';
	}
	/* An unterminated comment would silently drop the rest of the file. */
	return st == BLOCK ? opened : 0;
}

/* The whole file, NUL-terminated, its length in *lenp; NULL with errno set. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int e;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb;

			if (cap > (16u << 20)) {
				errno = EFBIG;
				goto fail;
			}
			if ((nb = realloc(buf, cap + 65536)) == NULL)
				goto fail;
			buf = nb;
			cap += 65536;
		}
		len += (n = fread(buf + len, 1, cap - len - 1, f));
	} while (n > 0);
	if (ferror(f)) {
		errno = EIO;
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	e = errno;
	fclose(f);
	free(buf);
	errno = e;
	return NULL;
}

static void
free_list(char **v)
{
	char **p;

	if (v == NULL)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

static char **
copy_list(cfg_t *cfg, const char *name, unsigned *n)
{
	unsigned i, size = cfg_size(cfg, name);
	char **v = calloc(size + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (i = 0; i < size; i++) {
		if ((v[i] = strdup(cfg_getnstr(cfg, name, i))) == NULL) {
			free_list(v);
			return NULL;
		}
	}
	*n = size;
	return v;
}


/*
 * The byte budgets, derived from max_frame unless set: a client may hold
 * 4 frames' worth, all of them together 64. Each must hold a whole frame,
 * and the total one client's share.
 */
static int
budgets(cfg_t *cfg, struct weftd_config *c, const char *path, char *err,
    size_t errlen)
{
	uint64_t frame = (uint64_t)c->max_frame + 8, total, client;
	char a[32], b[32];

	weftd_parse_size(cfg_getstr(cfg, "max_buffered"), &total);
	weftd_parse_size(cfg_getstr(cfg, "max_buffered_per_client"), &client);
	if (client == 0)
		client = 4 * (uint64_t)c->max_frame;
	if (total == 0)
		total = 64 * (uint64_t)c->max_frame;
	if (client < frame) {
		snprintf(err, errlen, "%s: max_buffered_per_client (%s) must "
		    "hold one frame of max_frame (%s) and its header", path,
		    cfg_getstr(cfg, "max_buffered_per_client"),
		    cfg_getstr(cfg, "max_frame"));
		return -1;
	}
	if (total < client) {
		snprintf(a, sizeof(a), "%llu", (unsigned long long)total);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)client);
		snprintf(err, errlen, "%s: max_buffered (%s bytes) is less than "
		    "max_buffered_per_client (%s bytes)", path, a, b);
		return -1;
	}
	c->max_buffered = total;
	c->max_buffered_per_client = client;
	return 0;
}

void
weftd_pool_cfg_free(struct weftd_pool_cfg *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free_list(p->argv);
	free_list(p->env);
	free_list(p->listen);
	free(p->routes);
	free(p->user);
	free(p->group);
	free(p->groups);
	free(p);
}

void
weftd_config_free(struct weftd_config *c)
{
	unsigned i;

	free_list(c->listen);
	for (i = 0; i < c->npools; i++)
		weftd_pool_cfg_free(c->pools[i]);
	free(c->pools);
	free(c->user);
	free(c->group);
	free(c->groups);
	free(c->control);
	free(c->metrics_listen);
	memset(c, 0, sizeof(*c));
}

struct weftd_pool_cfg *
weftd_config_pool(const struct weftd_config *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->npools; i++)
		if (c->pools[i] && strcmp(c->pools[i]->name, name) == 0)
			return c->pools[i];
	return NULL;
}

/*
 * user and group as written, and their ids. A user's group defaults to
 * its login group, as nginx and php-fpm do; a bare uid has none.
 */
/* The supplementary groups of uid (named in the user database): its own. */
static int
groups_of(uid_t uid, gid_t gid, gid_t **groups, int *n)
{
	struct passwd *pw = getpwuid(uid);
	int cap = 16;

	*n = 0;
	for (;;) {
		gid_t *g = realloc(*groups, (size_t)cap * sizeof(*g));

		if (g == NULL)
			return -ENOMEM;
		*groups = g;
		if (pw == NULL) {
			g[0] = gid;
			*n = 1;
			return 0;
		}
		*n = cap;
		if (getgrouplist(pw->pw_name, gid, g, n) >= 0)
			return 0;
		if (*n <= cap)
			cap *= 2;
		else
			cap = *n;
		if (cap > 65536)
			return -ENOMEM;
	}
}

static int
ids(cfg_t *sec, char **user, char **group, uid_t *uid, gid_t *gid,
    gid_t **groups, int *ngroups, char *err, size_t errlen,
    const char *path, const char *who)
{
	const char *u = cfg_getstr(sec, "user"), *g = cfg_getstr(sec, "group");
	struct passwd *pw;
	unsigned long id;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if ((*user = strdup(u ? u : "")) == NULL ||
	    (*group = strdup(g ? g : "")) == NULL)
		return -ENOMEM;
	lookup_id(u, 0, &id); /* checked while parsing */
	*uid = (uid_t)id;
	lookup_id(g, 1, &id);
	*gid = (gid_t)id;
	if (*gid == (gid_t)-1 && *uid != (uid_t)-1) {
		if ((pw = getpwuid(*uid)) == NULL) {
			snprintf(err, errlen, "%s:%d: %suser %s has no entry in "
			    "the user database: set group too", path, sec->line,
			    who, u);
			return -EINVAL;
		}
		*gid = pw->pw_gid;
	}
	if (*uid == (uid_t)-1 && *gid != (gid_t)-1) {
		snprintf(err, errlen, "%s:%d: %sgroup without user: set user "
		    "too", path, sec->line, who);
		return -EINVAL;
	}
	if (*uid != (uid_t)-1 && groups_of(*uid, *gid, groups, ngroups) < 0)
		return -ENOMEM;
	return 0;
}

static bool
modified(cfg_t *sec, const char *name)
{
	return (cfg_getopt(sec, name)->flags & CFGF_MODIFIED) != 0;
}

/*
 * workers (static), or min_workers .. max_workers (dynamic): one form. A
 * dynamic pool starts with what it keeps: min_workers, or spare_workers
 * if more (at most max_workers).
 */
static int
pool_size(cfg_t *sec, struct weftd_pool_cfg *p, const char *path,
    const char *name, char *err, size_t errlen)
{
	const char *const dyn[] = { "min_workers", "spare_workers",
	    "worker_idle_timeout", "spawn_rate" };
	size_t i;

	p->dynamic = modified(sec, "max_workers");
	p->spawn_rate = (unsigned)cfg_getint(sec, "spawn_rate");
	weftd_parse_duration(cfg_getstr(sec, "worker_idle_timeout"),
	    &p->worker_idle_timeout_ms);
	if (!p->dynamic) {
		for (i = 0; i < NITEMS(dyn); i++)
			if (modified(sec, dyn[i])) {
				snprintf(err, errlen, "%s:%d: pool \"%s\": %s needs "
				    "max_workers (a dynamic pool)", path,
				    sec->line, name, dyn[i]);
				return -1;
			}
		p->min_workers = p->max_workers = p->workers;
		return 0;
	}
	if (modified(sec, "workers")) {
		snprintf(err, errlen, "%s:%d: pool \"%s\": workers, or "
		    "min_workers and max_workers: one form, not both", path,
		    sec->line, name);
		return -1;
	}
	p->min_workers = (unsigned)cfg_getint(sec, "min_workers");
	p->max_workers = (unsigned)cfg_getint(sec, "max_workers");
	p->spare_workers = (unsigned)cfg_getint(sec, "spare_workers");
	if (p->min_workers > p->max_workers ||
	    p->spare_workers > p->max_workers) {
		snprintf(err, errlen, "%s:%d: pool \"%s\": min_workers (%u) and "
		    "spare_workers (%u) must not exceed max_workers (%u)", path,
		    sec->line, name, p->min_workers, p->spare_workers,
		    p->max_workers);
		return -1;
	}
	p->workers = p->spare_workers > p->min_workers ? p->spare_workers :
	    p->min_workers;
	return 0;
}

/* One pool section (or the handler section, as pool `default`). */
static int
load_pool(cfg_t *sec, const char *name, struct weftd_pool_cfg **out,
    const char *path, char *err, size_t errlen)
{
	struct weftd_pool_cfg *p = calloc(1, sizeof(*p));
	char who[POOL_NAME_MAX + 16];
	unsigned i;
	uint64_t v;
	long n;
	int rc;

	if ((*out = p) == NULL || (p->name = strdup(name)) == NULL)
		goto nomem;
	p->line = sec->line;
	for (i = 0; current && i < current->ncmd; i++)
		if (current->cmd[i].sec == sec)
			p->line = current->cmd[i].line;
	p->workers = (unsigned)cfg_getint(sec, "workers");
	if (pool_size(sec, p, path, name, err, errlen) < 0)
		return -1;
	p->queue_limit = (unsigned)cfg_getint(sec, "queue_limit");
	(void)parse_auto(cfg_getstr(sec, "pipeline"), &n);
	p->pipeline = (unsigned)n;
	weftd_parse_duration(cfg_getstr(sec, "request_timeout"),
	    &p->request_timeout_ms);
	p->rlimit_nofile = (uint64_t)cfg_getint(sec, "rlimit_nofile");
	weftd_parse_size(cfg_getstr(sec, "rlimit_as"), &v);
	p->rlimit_as = v;
	weftd_parse_duration(cfg_getstr(sec, "slow_request"),
	    &p->slow_request_ms);
	p->max_requests = (unsigned)cfg_getint(sec, "max_requests");
	/* gunicorn's rule: no jitter without max_requests. */
	p->max_requests_jitter = p->max_requests ?
	    (unsigned)cfg_getint(sec, "max_requests_jitter") : 0;
	weftd_parse_duration(cfg_getstr(sec, "max_lifetime"),
	    &p->max_lifetime_ms);
	weftd_parse_duration(cfg_getstr(sec, "max_lifetime_jitter"),
	    &p->max_lifetime_jitter_ms);
	if (p->max_lifetime_ms == 0)
		p->max_lifetime_jitter_ms = 0;
	weftd_parse_size(cfg_getstr(sec, "max_rss"), &p->max_rss);
	if (cfg_size(sec, "command") == 0) {
		snprintf(err, errlen, "%s:%d: pool \"%s\": command is required",
		    path, sec->line, name);
		return -1;
	}
	if ((p->argv = copy_list(sec, "command", &p->argc)) == NULL ||
	    (p->env = copy_list(sec, "env", &p->nenv)) == NULL)
		goto nomem;
	/* The handler section has no listen of its own: the top level's. */
	if (cfg_getopt(sec, "listen") == NULL)
		p->listen = calloc(1, sizeof(*p->listen));
	else
		p->listen = copy_list(sec, "listen", &p->nlisten);
	p->nroutes = cfg_size(sec, "routes");
	p->routes = calloc(p->nroutes + 1, sizeof(*p->routes));
	if (p->listen == NULL || p->routes == NULL)
		goto nomem;
	for (i = 0; i < p->nroutes; i++)
		p->routes[i] = (uint16_t)cfg_getnint(sec, "routes", i);
	snprintf(who, sizeof(who), "pool \"%s\": ", name);
	if ((rc = ids(sec, &p->user, &p->group, &p->uid, &p->gid, &p->groups,
	    &p->ngroups, err, errlen, path, who)) == -ENOMEM)
		goto nomem;
	return rc < 0 ? -1 : 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
	return -1;
}

/* Every pool: the handler section (as `default`) and the pool sections. */
static int
load_pools(cfg_t *cfg, struct weftd_config *c, const char *path, char *err,
    size_t errlen)
{
	unsigned i, n = cfg_size(cfg, "pool"), naddr = c->nlisten;
	cfg_t *h = cfg_getsec(cfg, "handler"), *sec;
	struct weftd_pool_cfg *p;

	if ((c->pools = calloc(n + 1, sizeof(*c->pools))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (h && load_pool(h, DEFAULT_POOL, &c->pools[c->npools++], path,
	    err, errlen) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		sec = cfg_getnsec(cfg, "pool", i);
		if (h && strcmp(cfg_title(sec), DEFAULT_POOL) == 0) {
			snprintf(err, errlen, "%s:%d: pool \"default\" and the "
			    "handler section are one pool: keep one", path,
			    sec->line);
			return -1;
		}
		if (load_pool(sec, cfg_title(sec), &p, path, err, errlen) < 0) {
			weftd_pool_cfg_free(p);
			return -1;
		}
		/* `default` first: it is the one a reload log names. */
		if (strcmp(p->name, DEFAULT_POOL) == 0) {
			memmove(c->pools + 1, c->pools, c->npools * sizeof(p));
			c->pools[0] = p;
		} else {
			c->pools[c->npools] = p;
		}
		c->npools++;
		naddr += p->nlisten;
		if (strcmp(p->name, DEFAULT_POOL) != 0 && p->nlisten == 0 &&
		    p->nroutes == 0) {
			snprintf(err, errlen, "%s:%d: pool \"%s\" has neither "
			    "listen nor routes: no request could reach it", path,
			    p->line, p->name);
			return -1;
		}
	}
	if (c->npools == 0) {
		snprintf(err, errlen, "%s: a handler section or a pool section "
		    "is required", path);
		return -1;
	}
	if (naddr > MAX_ADDRS) { /* check_listen() said where, when parsing */
		snprintf(err, errlen, "%s: listen: %u addresses in all; at most "
		    "%d", path, naddr, MAX_ADDRS);
		return -1;
	}
	return 0;
}

/*
 * The top-level listen goes to pool `default`. Unset, it is 127.0.0.1:7000
 * when there is a default pool, and nothing otherwise; set, it needs one.
 */
static int
top_listen(cfg_t *cfg, struct weftd_config *c, const char *path, char *err,
    size_t errlen)
{
	bool set = !(cfg_getopt(cfg, "listen")->flags & CFGF_RESET);
	bool have = weftd_config_pool(c, DEFAULT_POOL) != NULL;
	struct wf_addr a;
	char buf[128];
	unsigned k;

	if (set && !have) {
		snprintf(err, errlen, "%s: listen: the top-level addresses go to "
		    "pool \"default\" (the handler section), and there is none",
		    path);
		return -1;
	}
	if (!have || (c->listen = copy_list(cfg, "listen", &c->nlisten)) == NULL)
		c->listen = calloc(1, sizeof(*c->listen));
	if (c->listen == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (set || c->nlisten == 0)
		return 0;
	/* The default address, never validated: a pool may have it. */
	(void)wf_addr_parse(&a, c->listen[0]);
	wf_addr_format(&a, buf, sizeof(buf));
	for (k = 0; k < current->nclaims; k++) {
		if (strcmp(current->claims[k].what, buf) != 0)
			continue;
		snprintf(err, errlen, "%s:%d: listen: %s is the default "
		    "top-level address: set listen at the top level too", path,
		    current->claims[k].line, buf);
		return -1;
	}
	return 0;
}

int
weftd_config_load(const char *path, struct weftd_config *c, char *err,
    size_t errlen)
{
/* What the handler section and each pool section have (a macro: libconfuse
 * keeps pointers into the array, which must live through the parse). */
#define POOL_OPTS \
	CFG_STR_LIST("command", NULL, CFGF_NODEFAULT), \
	CFG_INT("workers", 4, CFGF_NONE), \
	CFG_INT("min_workers", 1, CFGF_NONE), \
	CFG_INT("max_workers", 0, CFGF_NONE), \
	CFG_INT("spare_workers", 1, CFGF_NONE), \
	CFG_STR("worker_idle_timeout", "10s", CFGF_NONE), \
	CFG_INT("spawn_rate", 32, CFGF_NONE), \
	CFG_STR("request_timeout", "30s", CFGF_NONE), \
	CFG_INT("queue_limit", 1024, CFGF_NONE), \
	CFG_STR("pipeline", "auto", CFGF_NONE), \
	CFG_STR_LIST("env", "{}", CFGF_NONE), \
	CFG_INT_LIST("routes", "{}", CFGF_NONE), \
	CFG_STR("user", "", CFGF_NONE), \
	CFG_STR("group", "", CFGF_NONE), \
	CFG_INT("rlimit_nofile", 0, CFGF_NONE), \
	CFG_STR("rlimit_as", "0", CFGF_NONE), \
	CFG_STR("slow_request", "0", CFGF_NONE), \
	CFG_INT("max_requests", 0, CFGF_NONE), \
	CFG_INT("max_requests_jitter", 0, CFGF_NONE), \
	CFG_STR("max_lifetime", "0", CFGF_NONE), \
	CFG_STR("max_lifetime_jitter", "0", CFGF_NONE), \
	CFG_STR("max_rss", "0", CFGF_NONE), \
	CFG_END()
	cfg_opt_t handler_opts[] = { POOL_OPTS };
	cfg_opt_t pool_opts[] = { CFG_STR_LIST("listen", "{}", CFGF_NONE),
	    POOL_OPTS };
	cfg_opt_t unix_opts[] = {
		CFG_STR("owner", "", CFGF_NONE),
		CFG_STR("group", "", CFGF_NONE),
		CFG_STR("mode", "0660", CFGF_NONE),
		CFG_END()
	};
	cfg_opt_t opts[] = {
		CFG_STR_LIST("listen", "{\"127.0.0.1:7000\"}", CFGF_NONE),
		CFG_STR("io_threads", "auto", CFGF_NONE),
		CFG_INT("max_connections", 10000, CFGF_NONE),
		CFG_INT("max_pipeline", 128, CFGF_NONE),
		CFG_STR("max_frame", "1m", CFGF_NONE),
		CFG_STR("idle_timeout", "60s", CFGF_NONE),
		CFG_STR("shutdown_timeout", "10s", CFGF_NONE),
		CFG_STR("drain_delay", "0", CFGF_NONE),
		CFG_STR("frame_timeout", "30s", CFGF_NONE),
		CFG_STR("send_timeout", "30s", CFGF_NONE),
		CFG_STR("max_buffered", "0", CFGF_NONE),
		CFG_STR("max_buffered_per_client", "0", CFGF_NONE),
		CFG_INT("max_connections_per_ip", 0, CFGF_NONE),
		CFG_STR("log_level", "info", CFGF_NONE),
		CFG_STR("syslog_facility", "daemon", CFGF_NONE),
		CFG_SEC("unix_socket", unix_opts, CFGF_NONE),
		CFG_STR("user", "", CFGF_NONE),
		CFG_STR("group", "", CFGF_NONE),
		CFG_STR("control", "unix:" DEFAULT_CONTROL, CFGF_NONE),
		CFG_STR("metrics_listen", "", CFGF_NONE),
		CFG_SEC("handler", handler_opts, CFGF_NODEFAULT),
		CFG_SEC("pool", pool_opts, CFGF_MULTI | CFGF_TITLE |
		    CFGF_NO_TITLE_DUPES),
		CFG_END()
	};
	static const struct {
		const char *name;
		cfg_validate_callback_t fn;
	} checks[] = {
		{ "listen", check_listen },
		{ "io_threads", check_auto },
		{ "max_connections", check_range },
		{ "max_pipeline", check_range },
		{ "max_frame", check_size },
		{ "idle_timeout", check_duration },
		{ "shutdown_timeout", check_duration },
		{ "drain_delay", check_duration },
		{ "frame_timeout", check_duration },
		{ "send_timeout", check_duration },
		{ "max_buffered", check_size },
		{ "max_buffered_per_client", check_size },
		{ "max_connections_per_ip", check_range },
		{ "log_level", check_name },
		{ "syslog_facility", check_name },
		{ "unix_socket|owner", check_owner },
		{ "unix_socket|group", check_owner },
		{ "unix_socket|mode", check_mode },
		{ "user", check_owner },
		{ "group", check_owner },
		{ "pool", check_pool },
		{ "control", check_admin },
		{ "metrics_listen", check_admin },
		{ "pool|listen", check_listen },
#define POOL_CHECKS(sec) \
		{ sec "|command", check_command }, \
		{ sec "|workers", check_range }, \
		{ sec "|min_workers", check_range }, \
		{ sec "|max_workers", check_range }, \
		{ sec "|spare_workers", check_range }, \
		{ sec "|spawn_rate", check_range }, \
		{ sec "|worker_idle_timeout", check_duration }, \
		{ sec "|request_timeout", check_duration }, \
		{ sec "|queue_limit", check_range }, \
		{ sec "|pipeline", check_auto }, \
		{ sec "|env", check_env }, \
		{ sec "|routes", check_routes }, \
		{ sec "|user", check_owner }, \
		{ sec "|group", check_owner }, \
		{ sec "|rlimit_nofile", check_range }, \
		{ sec "|rlimit_as", check_size }, \
		{ sec "|slow_request", check_duration }, \
		{ sec "|max_requests", check_range }, \
		{ sec "|max_requests_jitter", check_range }, \
		{ sec "|max_lifetime", check_duration }, \
		{ sec "|max_lifetime_jitter", check_duration }, \
		{ sec "|max_rss", check_size }
		POOL_CHECKS("handler"),
		POOL_CHECKS("pool"),
	};
	struct errbuf e = { .buf = err, .len = errlen, .path = path };
	char *text, *nul, *q;
	size_t len;
	int line;
	uint64_t v;
	long n;
	cfg_t *cfg, *u;
	unsigned long id;
	size_t i;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	err[0] = '\0';
	if ((text = slurp(path, &len)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	c->digest = 0xcbf29ce484222325ULL;
	for (i = 0; i < len; i++)
		c->digest = (c->digest ^ (unsigned char)text[i]) *
		    0x100000001b3ULL;
	/* libconfuse would stop at a NUL byte: the rest would be ignored. */
	if ((nul = memchr(text, '\0', len)) != NULL) {
		for (line = 1, q = text; q < nul; q++)
			line += *q == '\n';
		snprintf(err, errlen, "%s:%d: a NUL byte (is this a text file?)",
		    path, line);
		free(text);
		return -1;
	}
	if ((line = blank_comments(text)) != 0) {
		snprintf(err, errlen, "%s:%d: a /* comment is never closed",
		    path, line);
		free(text);
		return -1;
	}
	if ((cfg = cfg_init(opts, CFGF_NONE)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return -1;
	}
	current = &e;
	cfg_set_error_function(cfg, on_error);
	for (i = 0; i < NITEMS(checks); i++)
		cfg_set_validate_func(cfg, checks[i].name, checks[i].fn);
	switch (cfg_parse_buf(cfg, text)) {
	case CFG_SUCCESS:
		break;
	default:
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: syntax error", path);
		goto out;
	}
	/* libconfuse validates no element of an empty list: check it here. */
	if (cfg_size(cfg, "listen") == 0) {
		snprintf(err, errlen, "%s: listen: needs at least one address "
		    "(or socket activation)", path);
		goto out;
	}
	/* Every value was checked while parsing: these cannot fail now. */
	(void)parse_auto(cfg_getstr(cfg, "io_threads"), &n);
	c->io_threads = n ? (unsigned)n : auto_threads();
	c->max_connections = (unsigned)cfg_getint(cfg, "max_connections");
	c->max_pipeline = (unsigned)cfg_getint(cfg, "max_pipeline");
	weftd_parse_size(cfg_getstr(cfg, "max_frame"), &v);
	c->max_frame = (uint32_t)v;
	weftd_parse_duration(cfg_getstr(cfg, "idle_timeout"), &c->idle_timeout_ms);
	weftd_parse_duration(cfg_getstr(cfg, "shutdown_timeout"),
	    &c->shutdown_timeout_ms);
	weftd_parse_duration(cfg_getstr(cfg, "drain_delay"), &c->drain_delay_ms);
	weftd_parse_duration(cfg_getstr(cfg, "frame_timeout"),
	    &c->frame_timeout_ms);
	weftd_parse_duration(cfg_getstr(cfg, "send_timeout"),
	    &c->send_timeout_ms);
	c->max_connections_per_ip = (unsigned)cfg_getint(cfg,
	    "max_connections_per_ip");
	if (budgets(cfg, c, path, err, errlen) < 0)
		goto out;
	lookup(cfg_getstr(cfg, "log_level"), &c->log_level, 0);
	lookup(cfg_getstr(cfg, "syslog_facility"), &c->facility, 1);
	u = cfg_getsec(cfg, "unix_socket");
	parse_mode(cfg_getstr(u, "mode"), &c->unix_socket.mode);
	lookup_id(cfg_getstr(u, "owner"), 0, &id);
	c->unix_socket.uid = (uid_t)id;
	lookup_id(cfg_getstr(u, "group"), 1, &id);
	c->unix_socket.gid = (gid_t)id;
	/* The default, even written out (the shipped file does), may be
	 * left out where it cannot be bound; another path may not. */
	c->control_set = strcmp(cfg_getstr(cfg, "control"),
	    "unix:" DEFAULT_CONTROL) != 0;
	if ((c->control = strdup(cfg_getstr(cfg, "control") + (*cfg_getstr(cfg,
	    "control") ? 5 : 0))) == NULL ||
	    (c->metrics_listen = strdup(cfg_getstr(cfg, "metrics_listen"))) ==
	    NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		weftd_config_free(c);
		goto out;
	}
	if (ids(cfg, &c->user, &c->group, &c->uid, &c->gid, &c->groups,
	    &c->ngroups, err, errlen, path, "") < 0 || load_pools(cfg, c, path, err, errlen) < 0 ||
	    top_listen(cfg, c, path, err, errlen) < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: out of memory", path);
		weftd_config_free(c);
		goto out;
	}
	rc = 0;
out:
	current = NULL;
	free(e.claims);
	cfg_free(cfg);
	free(text);
	return rc;
}

int
weftd_config_check(const char *path, const struct weftd_config *c,
    bool spawner, char *err, size_t errlen)
{
	uid_t me = geteuid();
	const struct weftd_pool_cfg *p;
	const char *prog, *why;
	struct stat st;
	unsigned i;

	/* Only root changes user; as anyone else, the user must be oneself. */
	if (me != 0 && c->uid != (uid_t)-1 && c->uid != me) {
		snprintf(err, errlen, "%s: user %s: weftd runs as uid %u, not "
		    "root, and cannot become another user", path, c->user,
		    (unsigned)me);
		return -1;
	}
	for (i = 0; i < c->npools; i++) {
		p = c->pools[i];
		prog = p->argv[0];
		why = NULL;
		/* The spawner's pool users may run what weftd's cannot. */
		if (stat(prog, &st) < 0 || (access(prog, X_OK) < 0 &&
		    !(spawner && p->uid != (uid_t)-1 && p->uid != me)))
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			why = "not a regular file";
		if (why && strcmp(p->name, DEFAULT_POOL) == 0) {
			snprintf(err, errlen, "%s:%d: handler command %s: %s",
			    path, p->line, prog, why);
			return -1;
		}
		if (why) {
			snprintf(err, errlen, "%s:%d: pool \"%s\": command %s: %s",
			    path, p->line, p->name, prog, why);
			return -1;
		}
		if (me != 0 && !spawner && p->uid != (uid_t)-1 && p->uid != me) {
			snprintf(err, errlen, "%s:%d: pool \"%s\": user %s: "
			    "weftd runs as uid %u, not root, and cannot start "
			    "handlers as another user", path, p->line, p->name,
			    p->user, (unsigned)me);
			return -1;
		}
	}
	return 0;
}
