/*
 * Optional log callback: how the embedding program sees the library's
 * warnings (a failing epoll_wait, an fd that could not be read). Without a
 * callback the library stays silent.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <weft/defs.h>

WF_BEGIN_DECLS

enum wf_log_level {
	WF_LOG_ERR = 3,   /* same numbers as syslog's LOG_ERR .. LOG_DEBUG */
	WF_LOG_WARN = 4,
	WF_LOG_INFO = 6,
	WF_LOG_DEBUG = 7,
};

typedef void wf_log_fn(int level, const char *msg, void *arg);

/*
 * Install (fn != NULL) or remove the callback. Set it before starting loops:
 * the callback may be called from any loop thread, concurrently.
 */
WF_EXPORT void wf_log_set(wf_log_fn *fn, void *arg);

WF_END_DECLS

#endif
