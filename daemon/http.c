/*
 * The metrics listener: as much HTTP/1.1 as Prometheus and load balancers
 * need. One request per connection (every answer says Connection: close);
 * GET or HEAD of /metrics, /healthz, /readyz; any other request 404, one
 * that is not HTTP 400, headers over HTTP_HEAD bytes 431.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "pool.h"

#define HTTP_HEAD 8192

static void
answer(struct out *o, int code, const char *reason, const char *type,
    const char *body, size_t len, bool head)
{
	out_printf(o, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
	    "%zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", code,
	    reason, type, len);
	if (!head && len)
		out_printf(o, "%.*s", (int)len, body);
}

static void
plain(struct out *o, int code, const char *reason, const char *text,
    bool head)
{
	answer(o, code, reason, "text/plain; charset=utf-8", text, strlen(text),
	    head);
}

static void
metrics(struct weftd *d, struct out *o, bool head)
{
	struct snapshot s;
	struct out body = { 0 };

	if (stats_take(d, &s) < 0) {
		stats_free(&s);
		plain(o, 500, "Internal Server Error", "out of memory\n", head);
		return;
	}
	report_prometheus(&s, &body);
	stats_free(&s);
	if (body.failed)
		plain(o, 500, "Internal Server Error", "out of memory\n", head);
	else
		answer(o, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
		    body.p, body.len, head);
	out_free(&body);
}

/* A token (RFC 9110): the method. */
static bool
token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}",
		    s[i]))
			return false;
	return n > 0;
}

static int
handle(struct weftd *d, const char *req, size_t len, bool full,
    struct out *o)
{
	const char *end = memmem(req, len, "\r\n\r\n", 4), *sp1, *sp2, *eol, *vend;
	char path[256], why[128];
	size_t plen;
	bool head;

	if (end == NULL)
		end = memmem(req, len, "\n\n", 2); /* bare LF: tolerated */
	if (end == NULL && !full)
		return 0;
	if (end == NULL) {
		plain(o, 431, "Request Header Fields Too Large",
		    "request header over 8 KiB\n", false);
		return 1;
	}
	/* METHOD SP TARGET SP HTTP/1.x */
	/* The terminator has one: the request line's is never past it. */
	eol = memchr(req, '\n', len);
	vend = eol > req && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(req, ' ', (size_t)(vend - req));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(vend - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || !token(req, (size_t)(sp1 - req)) ||
	    sp1[1] != '/' || vend - sp2 - 1 != 8 ||
	    (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	    strncmp(sp2 + 1, "HTTP/1.0", 8) != 0)) {
		plain(o, 400, "Bad Request", "not an HTTP/1 request\n", false);
		return 1;
	}
	plen = strcspn(sp1 + 1, "? ");
	if (plen > (size_t)(sp2 - sp1 - 1))
		plen = (size_t)(sp2 - sp1 - 1);
	if (plen >= sizeof(path))
		plen = sizeof(path) - 1;
	memcpy(path, sp1 + 1, plen);
	path[plen] = '\0';
	head = sp1 - req == 4 && strncmp(req, "HEAD", 4) == 0;
	if (!head && !(sp1 - req == 3 && strncmp(req, "GET", 3) == 0))
		plain(o, 404, "Not Found", "not found\n", false);
	else if (strcmp(path, "/metrics") == 0)
		metrics(d, o, head);
	else if (strcmp(path, "/healthz") == 0)
		plain(o, 200, "OK", "ok\n", head);
	else if (strcmp(path, "/readyz") == 0) {
		bool ready = stats_ready(d, why, sizeof(why));

		strncat(why, "\n", sizeof(why) - strlen(why) - 1);
		plain(o, ready ? 200 : 503, ready ? "OK" :
		    "Service Unavailable", why, head);
	} else
		plain(o, 404, "Not Found", "not found\n", head);
	return 1;
}

const struct admin_proto http_proto = {
	.name = "metrics listener",
	.max_request = HTTP_HEAD,
	.handle = handle,
};
