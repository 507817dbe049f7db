/*
 * weftd's configuration loader on any text: it must load or say why with
 * "file:...", never crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct weftd_config c;
	char err[512];

	if (fd < 0) {
		fd = memfd_create("weftd.conf", 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (weftd_config_load(path, &c, err, sizeof(err)) == 0)
		weftd_config_free(&c);
	else if (strncmp(err, path, strlen(path)) != 0)
		abort(); /* every error names the file */
	return 0;
}
