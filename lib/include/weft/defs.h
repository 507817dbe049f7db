/*
 * Shared definitions of libweft's public headers.
 *
 * Every public function returns 0 (or a non-negative count) on success and a
 * negative errno value on failure; the library never exits, never prints and
 * never changes signal dispositions or the process signal mask.
 */
#ifndef WEFT_DEFS_H
#define WEFT_DEFS_H

#if defined(__GNUC__)
#define WF_EXPORT __attribute__((visibility("default")))
#else
#define WF_EXPORT
#endif

#endif
