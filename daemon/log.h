/*
 * weftd's log: syslog, or stderr with -f, written by a log thread of its
 * own, so that no loop ever waits on the sink. Any thread.
 */
#ifndef WEFTD_LOG_H
#define WEFTD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/*
 * Before other threads start (with the signals blocked that they must not
 * take). level: messages above it are dropped. 0 or -errno.
 */
int weftd_log_open(int to_stderr, int facility, int level);
void weftd_log_level(int level);
/*
 * Write what is queued, within 2 s. -ETIMEDOUT if the sink would not take
 * it: the log thread is stuck, so exit without waiting on anything it holds.
 */
int weftd_log_close(void);
void weftd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Messages dropped because the sink did not keep up, since the start. */
unsigned long weftd_log_lost(void);

/*
 * Rate limiting for lines a client or a handler can cause: at most burst
 * lines per interval_ms; the rest are counted, and one line says how many
 * were suppressed when the next interval starts (at the next line, or at
 * weftd_rl_flush() from a timer; force: now, as when its source goes away).
 * One per thread or per object: no locking.
 */
struct weftd_rl {
	char what[96];        /* names the lines in the summary */
	unsigned burst;
	uint64_t interval_ms;
	uint64_t start;       /* ms: the current interval */
	unsigned n;
	unsigned long suppressed;
};

bool weftd_rl_allow(struct weftd_rl *rl, uint64_t now_ms);
void weftd_rl_flush(struct weftd_rl *rl, uint64_t now_ms, bool force);

/*
 * Copy n bytes of untrusted text into dst (NUL-terminated), control bytes
 * and backslashes as \xHH escapes, so a handler cannot forge log lines or
 * drive a terminal. Returns dst.
 */
char *weftd_log_escape(char *dst, size_t dstlen, const char *src, size_t n);

#endif
