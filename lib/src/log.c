/* The optional log callback: the library's only way to say anything. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "loop_int.h"
#include "weft/log.h"

static _Atomic(wf_log_fn *) log_fn;
static _Atomic(void *) log_arg;

void
wf_log_set(wf_log_fn *fn, void *arg)
{
	atomic_store(&log_arg, arg);
	atomic_store(&log_fn, fn);
}

void
wf__log(int level, const char *fmt, ...)
{
	wf_log_fn *fn = atomic_load(&log_fn);
	char msg[512];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(level, msg, atomic_load(&log_arg));
}
