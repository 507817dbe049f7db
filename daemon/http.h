/* The metrics listener's HTTP/1 request line (http_parse.c). */
#ifndef WEFTD_HTTP_H
#define WEFTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD 8192 /* request line and headers, at most */

enum { HTTP_MORE, HTTP_OK, HTTP_BAD, HTTP_TOO_LARGE };

struct http_req {
	char method[16]; /* "" if longer: no method weftd knows is */
	char path[256];  /* the target up to "?", cut at 255 bytes */
};

/*
 * The request in req (len bytes, not NUL-terminated; full: no more will
 * come): HTTP_MORE until its headers end, then HTTP_OK with r filled,
 * HTTP_BAD if it is not METHOD SP /TARGET SP HTTP/1.0 or 1.1, or
 * HTTP_TOO_LARGE if full and its headers never end.
 */
int http_parse(const char *req, size_t len, bool full, struct http_req *r);

#endif
