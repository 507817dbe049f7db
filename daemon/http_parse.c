/*
 * The request line of an HTTP/1 request: all the metrics listener needs.
 * Headers are skipped (up to the blank line); a bare LF ends lines too.
 * The bytes are a client's: every read stays inside len.
 */
#include <string.h>

#include "http.h"

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

int
http_parse(const char *req, size_t len, bool full, struct http_req *r)
{
	const char *end = memmem(req, len, "\r\n\r\n", 4), *sp1, *sp2, *eol;
	const char *vend, *q;
	size_t n;

	if (end == NULL)
		end = memmem(req, len, "\n\n", 2);
	if (end == NULL)
		return full ? HTTP_TOO_LARGE : HTTP_MORE;
	/* The terminator has a LF: the request line's is never past it. */
	eol = memchr(req, '\n', len);
	vend = eol > req && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(req, ' ', (size_t)(vend - req));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(vend - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || !token(req, (size_t)(sp1 - req)) ||
	    sp1[1] != '/' || vend - sp2 - 1 != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	    memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return HTTP_BAD;
	n = (size_t)(sp1 - req);
	if (n >= sizeof(r->method))
		n = 0;
	memcpy(r->method, req, n);
	r->method[n] = '\0';
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	n = (size_t)((q ? q : sp2) - sp1 - 1);
	if (n >= sizeof(r->path))
		n = sizeof(r->path) - 1;
	memcpy(r->path, sp1 + 1, n);
	r->path[n] = '\0';
	return HTTP_OK;
}
