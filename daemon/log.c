/*
 * Logging that never blocks the caller. Any thread formats its message and
 * copies it into a ring of LOG_RING bytes under a mutex held for a memcpy;
 * one log thread takes messages out and writes them to syslog(3), or to
 * stderr with -f. If the sink stops reading (a syslog socket nobody
 * drains, a terminal paused with ^S), only the log thread waits: the ring
 * fills, later messages are dropped and counted, and once there is room
 * again a line says how many were lost, in its place in the order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <weft/log.h>

#include "log.h"

#define LOG_RING (256 * 1024) /* bytes of messages waiting for the sink */
#define LOG_MSG 1024          /* longest message; longer ones are cut */
#define CLOSE_WAIT_MS 2000    /* at exit, for the sink to take the rest */

static const char *const names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* A record in the ring: 2 bytes of length, 1 of level, the text. */
#define REC_HDR 3

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stop;
	int use_stderr;
	size_t head, used;      /* oldest byte, bytes held */
	unsigned long dropped;  /* since the last record that got in */
	atomic_ulong lost;      /* all dropped, for the status line */
	char ring[LOG_RING];
} L = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.use_stderr = 1,
};

static atomic_int max_level = LOG_INFO; /* a reload changes it */

static void
sink(int level, const char *msg)
{
	if (L.use_stderr)
		fprintf(stderr, "weftd: %s: %s\n", names[level & 7], msg);
	else
		syslog(level, "%s", msg);
}

/* Copy n bytes in at the tail, or out at the head, across the wrap. */
static void
ring_put(const void *p, size_t n)
{
	size_t at = (L.head + L.used) % LOG_RING, first = LOG_RING - at;

	if (first > n)
		first = n;
	memcpy(L.ring + at, p, first);
	memcpy(L.ring, (const char *)p + first, n - first);
	L.used += n;
}

static void
ring_get(void *p, size_t n)
{
	size_t first = LOG_RING - L.head;

	if (first > n)
		first = n;
	memcpy(p, L.ring + L.head, first);
	memcpy((char *)p + first, L.ring, n - first);
	L.head = (L.head + n) % LOG_RING;
	L.used -= n;
}

static void
put_record(int level, const char *msg, size_t n)
{
	unsigned char hdr[REC_HDR] = { (unsigned char)(n >> 8),
	    (unsigned char)n, (unsigned char)level };

	ring_put(hdr, sizeof(hdr));
	ring_put(msg, n);
}

/* Under the lock: queue msg, after the count of what was lost before it. */
static void
enqueue(int level, const char *msg, size_t n)
{
	char note[96];
	int m = 0;

	if (L.dropped)
		m = snprintf(note, sizeof(note), "log: %lu messages dropped: "
		    "the log sink did not keep up", L.dropped);
	if (L.used + (m ? REC_HDR + (size_t)m : 0) + REC_HDR + n > LOG_RING) {
		L.dropped++;
		atomic_fetch_add_explicit(&L.lost, 1, memory_order_relaxed);
		return;
	}
	if (m) {
		put_record(LOG_WARNING, note, (size_t)m);
		L.dropped = 0;
	}
	put_record(level, msg, n);
	pthread_cond_signal(&L.wake);
}

static void *
log_thread(void *arg)
{
	unsigned char hdr[REC_HDR];
	char msg[LOG_MSG + 1];
	size_t n;
	int level;

	(void)arg;
	pthread_mutex_lock(&L.lock);
	for (;;) {
		while (L.used == 0 && !L.stop)
			pthread_cond_wait(&L.wake, &L.lock);
		if (L.used == 0)
			break;
		ring_get(hdr, sizeof(hdr));
		n = (size_t)hdr[0] << 8 | hdr[1];
		level = hdr[2];
		ring_get(msg, n);
		msg[n] = '\0';
		/* The sink may block: never with the lock held. */
		pthread_mutex_unlock(&L.lock);
		sink(level, msg);
		pthread_mutex_lock(&L.lock);
	}
	if (L.dropped) {
		snprintf(msg, sizeof(msg), "log: %lu messages dropped: the log "
		    "sink did not keep up", L.dropped);
		sink(LOG_WARNING, msg);
	}
	pthread_mutex_unlock(&L.lock);
	return NULL;
}

static void
from_lib(int level, const char *msg, void *arg)
{
	(void)arg;
	weftd_log(level, "%s", msg);
}

int
weftd_log_open(int to_stderr, int facility, int level)
{
	int rc;

	L.use_stderr = to_stderr;
	weftd_log_level(level);
	if (!to_stderr)
		openlog("weftd", LOG_PID | LOG_NDELAY, facility);
	if ((rc = pthread_create(&L.thread, NULL, log_thread, NULL)) != 0)
		return -rc;
	pthread_setname_np(L.thread, "weft-log");
	L.running = true;
	wf_log_set(from_lib, NULL);
	return 0;
}

void
weftd_log_level(int level)
{
	atomic_store_explicit(&max_level, level, memory_order_relaxed);
}

int
weftd_log_close(void)
{
	struct timespec ts;
	int rc;

	wf_log_set(NULL, NULL);
	if (!L.running)
		return 0;
	pthread_mutex_lock(&L.lock);
	L.stop = true;
	pthread_cond_signal(&L.wake);
	pthread_mutex_unlock(&L.lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CLOSE_WAIT_MS / 1000;
	ts.tv_nsec += CLOSE_WAIT_MS % 1000 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if ((rc = pthread_timedjoin_np(L.thread, NULL, &ts)) != 0)
		return -rc; /* stuck in the sink: the caller must not wait */
	pthread_mutex_lock(&L.lock);
	L.running = false;
	pthread_mutex_unlock(&L.lock);
	if (!L.use_stderr)
		closelog();
	return 0;
}

unsigned long
weftd_log_lost(void)
{
	return atomic_load_explicit(&L.lost, memory_order_relaxed);
}

void
weftd_log(int level, const char *fmt, ...)
{
	char buf[LOG_MSG + 1];
	va_list ap;
	int n;

	if (level > atomic_load_explicit(&max_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > LOG_MSG)
		n = LOG_MSG;
	pthread_mutex_lock(&L.lock);
	if (!L.running) {
		/* Before the log thread starts: nothing serves yet. */
		pthread_mutex_unlock(&L.lock);
		sink(level, buf);
		return;
	}
	if (L.stop) {
		L.dropped++; /* closing, maybe stuck in the sink: never wait */
		atomic_fetch_add_explicit(&L.lost, 1, memory_order_relaxed);
	} else {
		enqueue(level, buf, (size_t)n);
	}
	pthread_mutex_unlock(&L.lock);
}

bool
weftd_rl_allow(struct weftd_rl *rl, uint64_t now_ms)
{
	weftd_rl_flush(rl, now_ms, false);
	if (rl->n < rl->burst) {
		rl->n++;
		return true;
	}
	rl->suppressed++;
	return false;
}

void
weftd_rl_flush(struct weftd_rl *rl, uint64_t now_ms, bool force)
{
	if (!force && now_ms - rl->start < rl->interval_ms)
		return;
	if (rl->suppressed)
		weftd_log(LOG_NOTICE, "%s: %lu more lines suppressed in %llu ms",
		    rl->what, rl->suppressed,
		    (unsigned long long)(now_ms - rl->start));
	rl->start = now_ms;
	rl->n = 0;
	rl->suppressed = 0;
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
