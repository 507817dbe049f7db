/*
 * The metrics listener: as much HTTP/1.1 as Prometheus and load balancers
 * need. One request per connection (every answer says Connection: close);
 * GET or HEAD of /metrics, /healthz, /readyz; any other request 404, one
 * that is not HTTP 400, headers over HTTP_HEAD bytes 431.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "http.h"
#include "pool.h"


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

static int
handle(struct weftd *d, const char *req, size_t len, bool full,
    struct out *o)
{
	struct http_req r;
	char why[128];
	bool head;

	switch (http_parse(req, len, full, &r)) {
	case HTTP_MORE:
		return 0;
	case HTTP_TOO_LARGE:
		plain(o, 431, "Request Header Fields Too Large",
		    "request header over 8 KiB\n", false);
		return 1;
	case HTTP_BAD:
		plain(o, 400, "Bad Request", "not an HTTP/1 request\n", false);
		return 1;
	}
	head = strcmp(r.method, "HEAD") == 0;
	if (!head && strcmp(r.method, "GET") != 0)
		plain(o, 404, "Not Found", "not found\n", false);
	else if (strcmp(r.path, "/metrics") == 0)
		metrics(d, o, head);
	else if (strcmp(r.path, "/healthz") == 0)
		plain(o, 200, "OK", "ok\n", head);
	else if (strcmp(r.path, "/readyz") == 0) {
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
