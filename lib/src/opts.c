/*
 * Option structs that grow without breaking the ABI. Each public one starts
 * with `size_t size`, the sizeof the caller was compiled with, and is read
 * the way openat(2)'s struct open_how is: a smaller one (a program built
 * against older headers) leaves the newer fields zero, their default; a
 * larger one (built against newer headers, run on an older library) is
 * taken only when every byte this library does not know is zero, so a
 * setting it cannot honour is an error rather than silently dropped. A
 * size beyond a page is refused unread (an unset or garbage size), as
 * openat2 does. Each struct ends without tail padding (a _Static_assert
 * where it is read), so a later field can never hide in old padding.
 */
#include <errno.h>
#include <string.h>

#include "loop_int.h"

#define OPTS_MAX 4096

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
	if (size > OPTS_MAX)
		return -E2BIG;
	for (i = ours; i < size; i++)
		if (p[i] != 0)
			return -E2BIG;
	memcpy(dst, src, size < ours ? size : ours);
	return 0;
}
