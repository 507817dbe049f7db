/* weftd's log: syslog, or stderr with -f. Any thread. */
#ifndef WEFTD_LOG_H
#define WEFTD_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Before threads start. level: messages above it are dropped. */
void weftd_log_open(int to_stderr, int facility, int level);
void weftd_log_level(int level);
void weftd_log_close(void);
void weftd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copy n bytes of untrusted text into dst (NUL-terminated), control bytes
 * and backslashes as \xHH escapes, so a handler cannot forge log lines or
 * drive a terminal. Returns dst.
 */
char *weftd_log_escape(char *dst, size_t dstlen, const char *src, size_t n);

#endif
