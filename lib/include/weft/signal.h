/*
 * Signals read through signalfd.
 *
 * The caller must block the signals in every thread first (pthread_sigmask
 * before starting threads): a signal that is not blocked is delivered the
 * ordinary way and never reaches the signalfd. The library never changes the
 * signal mask or dispositions itself. Each signal should be watched by one
 * watcher only; with two, either may receive it.
 */
#ifndef WEFT_SIGNAL_H
#define WEFT_SIGNAL_H

#include <signal.h>
#include <sys/signalfd.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_signal wf_signal;
typedef void wf_signal_cb(wf_signal *s, const struct signalfd_siginfo *si,
    void *arg);

/*
 * Watch the signals of set. Returns 0; -EINVAL for an empty set, no cb, or
 * a signal of set that the calling thread has not blocked (it would be
 * delivered the ordinary way, likely killing the process, and never reach
 * the watcher); the errno of signalfd(); -ENOMEM.
 */
WF_EXPORT int wf_signal_start(wf_loop *loop, wf_signal **sp,
    const sigset_t *set, wf_signal_cb *cb, void *arg);

/* The arg passed to the callback; setting it takes effect from the next call. */
WF_EXPORT void *wf_signal_arg(const wf_signal *s);
WF_EXPORT void wf_signal_set_arg(wf_signal *s, void *arg);

/* Stop and release. Safe in any callback, including its own. */
WF_EXPORT void wf_signal_stop(wf_signal *s);

WF_END_DECLS

#endif
