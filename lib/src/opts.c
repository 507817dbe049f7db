/*
 * Option structs that grow without breaking the ABI. Each public one starts
 * with `size_t size`, the sizeof the caller was compiled with, and is read
 * the way openat(2)'s struct open_how is: a smaller one (a program built
 * against older headers) leaves the newer fields zero, their default; a
 * larger one (built against newer headers, run on an older library) is
 * taken only when every byte this library does not know is zero, so a
 * setting it cannot honour is an error rather than silently dropped.
 */
#include <errno.h>
#include <string.h>

#include "loop_int.h"

int
wf__opts_copy(void *dst, size_t ours, const void *src, size_t first)
{
	const unsigned char *p = src;
	size_t size, i;

	memset(dst, 0, ours);
	if (src == NULL)
		return 0;
	memcpy(&size, src, sizeof(size));
	if (size < first)
		return -EINVAL;
	for (i = ours; i < size; i++)
		if (p[i] != 0)
			return -E2BIG;
	memcpy(dst, src, size < ours ? size : ours);
	return 0;
}
