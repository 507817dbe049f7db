/*
 * Logging. syslog(3) is thread-safe and so is one fprintf per message;
 * the level is set once before any thread starts.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <weft/log.h>

#include "log.h"

static int use_stderr = 1;
static atomic_int max_level = LOG_INFO; /* a reload changes it */

static const char *const names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static void
from_lib(int level, const char *msg, void *arg)
{
	(void)arg;
	weftd_log(level, "%s", msg);
}

void
weftd_log_open(int to_stderr, int facility, int level)
{
	use_stderr = to_stderr;
	weftd_log_level(level);
	if (!to_stderr)
		openlog("weftd", LOG_PID | LOG_NDELAY, facility);
	wf_log_set(from_lib, NULL);
}

void
weftd_log_level(int level)
{
	atomic_store_explicit(&max_level, level, memory_order_relaxed);
}

void
weftd_log_close(void)
{
	wf_log_set(NULL, NULL);
	if (!use_stderr)
		closelog();
}

void
weftd_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > atomic_load_explicit(&max_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (use_stderr)
		fprintf(stderr, "weftd: %s: %s\n", names[level & 7], buf);
	else
		syslog(level, "%s", buf);
}

char *
weftd_log_escape(char *dst, size_t dstlen, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)ch;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
