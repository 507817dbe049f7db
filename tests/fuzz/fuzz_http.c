/*
 * The metrics listener's request parser, fed a client's bytes: it never
 * reads outside them, and what it accepts is a well-formed request line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees a read past them. */
	char *req = malloc(size ? size : 1);
	struct http_req r;
	int rc, full;

	if (req == NULL)
		return 0;
	memcpy(req, data, size);
	for (full = 0; full < 2; full++) {
		rc = http_parse(req, size, full, &r);
		if (rc == HTTP_TOO_LARGE && !full)
			abort();
		if (rc == HTTP_OK && (r.path[0] != '/' ||
		    strlen(r.path) >= sizeof(r.path) ||
		    strlen(r.method) >= sizeof(r.method) ||
		    strchr(r.path, '?') || strchr(r.method, ' ')))
			abort();
	}
	free(req);
	return 0;
}
