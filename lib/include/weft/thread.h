/*
 * Loops running in threads of their own: one loop thread, or a group of N
 * (the IO threads of a server) with round-robin selection.
 *
 * Library threads are created with every signal blocked, so process-directed
 * signals reach the thread that reads them through signalfd.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include <weft/loop.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

typedef struct wf_loop_thread wf_loop_thread;
typedef struct wf_loop_group wf_loop_group;

/* Create a loop and a thread running it; name (may be NULL) names the thread. */
WF_EXPORT int wf_loop_thread_start(wf_loop_thread **tp, const char *name);
WF_EXPORT wf_loop *wf_loop_thread_loop(const wf_loop_thread *t);

/* Ask the loop to stop. Any thread, including the loop's own. */
WF_EXPORT void wf_loop_thread_stop(wf_loop_thread *t);

/*
 * Wait until the thread has exited; its loop stays allocated, and posts to it
 * fail with -ESHUTDOWN. Not from the loop's own thread (-EDEADLK).
 */
WF_EXPORT int wf_loop_thread_join(wf_loop_thread *t);

/* Stop, join and release thread and loop. Not from the loop's own thread. */
WF_EXPORT void wf_loop_thread_free(wf_loop_thread *t);

/* n loop threads named "<name>-<i>". */
WF_EXPORT int wf_loop_group_start(wf_loop_group **gp, unsigned n,
    const char *name);
WF_EXPORT unsigned wf_loop_group_size(const wf_loop_group *g);
WF_EXPORT wf_loop *wf_loop_group_get(const wf_loop_group *g, unsigned i);

/* The next loop in round-robin order. Any thread. */
WF_EXPORT wf_loop *wf_loop_group_next(wf_loop_group *g);

WF_EXPORT void wf_loop_group_stop(wf_loop_group *g);
WF_EXPORT int wf_loop_group_join(wf_loop_group *g);

/*
 * Stop, join and release every thread and loop of the group. Not from one
 * of the group's threads.
 */
WF_EXPORT void wf_loop_group_free(wf_loop_group *g);

WF_END_DECLS

#endif
