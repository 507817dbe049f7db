/*
 * Shared definitions of libweft's public headers.
 *
 * Every public function returns 0 (or a non-negative count) on success and a
 * negative errno value on failure; the library never exits, never prints and
 * never changes signal dispositions or the process signal mask.
 */
#ifndef WEFT_DEFS_H
#define WEFT_DEFS_H

/* The library's version: these macros at build time, wf_version() at run. */
#define WF_VERSION_MAJOR 0
#define WF_VERSION_MINOR 1
#define WF_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, as wf_version() returns it. */
#define WF_VERSION (WF_VERSION_MAJOR * 10000 + WF_VERSION_MINOR * 100 + \
	WF_VERSION_PATCH)

/* C++ programs see C linkage. */
#ifdef __cplusplus
#define WF_BEGIN_DECLS extern "C" {
#define WF_END_DECLS }
#else
#define WF_BEGIN_DECLS
#define WF_END_DECLS
#endif

#if defined(__GNUC__)
#define WF_EXPORT __attribute__((visibility("default")))
#else
#define WF_EXPORT
#endif

WF_BEGIN_DECLS
/*
 * The version of the library the program runs with (WF_VERSION's form),
 * which may be newer than the headers it was built with.
 */
WF_EXPORT int wf_version(void);
WF_END_DECLS

#endif
