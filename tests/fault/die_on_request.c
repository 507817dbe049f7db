/*
 * A handler that dies of its first request: it waits for bytes on its
 * socket (WEFT_FD, fd 3), then exits 1 without answering. Starts in a
 * millisecond, so a test can make weftd replace workers fast.
 */
#include <unistd.h>

int
main(void)
{
	char c;

	while (read(3, &c, 1) < 0)
		;
	return 1;
}
