/*
 * Timers on the loop's CLOCK_MONOTONIC time (wall-clock jumps do not move
 * them), kept in a binary heap: start and stop cost O(log n).
 *
 * A timer handle lives from wf_timer_new() to wf_timer_free() and can be
 * started and stopped any number of times in between. Loop thread only; from
 * other threads, go through wf_loop_post()/wf_loop_call().
 */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_timer wf_timer;
typedef void wf_timer_cb(wf_timer *t, void *arg);

WF_EXPORT int wf_timer_new(wf_loop *loop, wf_timer **tp, wf_timer_cb *cb,
    void *arg);

/*
 * Fire after after_ms, then every repeat_ms if it is not 0. Restarts an
 * active timer. Timers due in the same iteration fire in deadline order,
 * equal deadlines in start order; a timer never fires early, counted from
 * the loop time (inside a callback, the iteration's cached time: a callback
 * that ran long has used part of the delay). Returns 0 or -ENOMEM.
 */
WF_EXPORT int wf_timer_start(wf_timer *t, uint64_t after_ms,
    uint64_t repeat_ms);

/* Disarm. Safe anywhere, including the timer's own callback. */
WF_EXPORT void wf_timer_stop(wf_timer *t);

/* Stop and release. Safe anywhere, including the timer's own callback. */
WF_EXPORT void wf_timer_free(wf_timer *t);

WF_EXPORT bool wf_timer_active(const wf_timer *t);

/* The arg passed to the callback; setting it takes effect from the next call. */
WF_EXPORT void *wf_timer_arg(const wf_timer *t);
WF_EXPORT void wf_timer_set_arg(wf_timer *t, void *arg);

WF_END_DECLS

#endif
