/*
 * A byte buffer: one contiguous region with room kept in front (so a header
 * can be prepended without moving the payload) and growth bounded by the
 * caller. A buffer that becomes empty can give its memory back: idle
 * connections cost no buffer memory.
 *
 *   [ prepend room | readable bytes | writable room ]
 *   data           data+off         data+off+len    data+cap
 */
#ifndef WEFT_BUFFER_H
#define WEFT_BUFFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

#define WF_BUF_PREPEND 16 /* room kept in front after compaction */

/* 32-bit offsets keep an idle connection small; a buffer holds < 4 GiB. */
typedef struct wf_buf {
	char *data;
	uint32_t cap, off, len;
	uint32_t flags; /* internal to libweft: do not use */
} wf_buf;

#define WF_BUF_INIT { 0, 0, 0, 0, 0 }

/* The readable bytes (NULL for a buffer that never held any). */
static inline const char *
wf_buf_peek(const wf_buf *b)
{
	return b->data ? b->data + b->off : NULL;
}
static inline size_t wf_buf_len(const wf_buf *b) { return b->len; }

/* Drop n readable bytes from the front (n <= len). */
WF_EXPORT void wf_buf_consume(wf_buf *b, size_t n);

/* Make room for n more bytes (compacting first); 0 or -ENOMEM (also past
 * 4 GiB). */
WF_EXPORT int wf_buf_reserve(wf_buf *b, size_t n);
WF_EXPORT int wf_buf_append(wf_buf *b, const void *p, size_t n);

/*
 * Put n bytes in front of the readable ones; 0 or -ENOMEM. Up to
 * WF_BUF_PREPEND bytes fit in the room kept in front without moving
 * anything (the room is there after an append to an empty buffer, after
 * compaction, and once consume has emptied it); more, or a second prepend
 * into room already used, moves the readable bytes once.
 */
WF_EXPORT int wf_buf_prepend(wf_buf *b, const void *p, size_t n);

/*
 * Read from fd once with readv: into the writable room, then into a 64 KiB
 * spill area on the stack that is appended afterwards, so one syscall takes a
 * large burst without every buffer being grown first. Never grows the
 * buffer past limit bytes. Returns bytes read, 0 at end of file, -EAGAIN,
 * -ENOBUFS (the buffer holds limit bytes already), or another -errno.
 */
WF_EXPORT ssize_t wf_buf_read_fd(wf_buf *b, int fd, size_t limit);

/*
 * Write the readable bytes once (sendmsg with MSG_NOSIGNAL on a socket;
 * writev otherwise, where a reader that has gone raises SIGPIPE); consumes
 * what was written. Bytes or -errno.
 */
WF_EXPORT ssize_t wf_buf_write_fd(wf_buf *b, int fd);

/* Empty the buffer; release its memory if release is set. */
WF_EXPORT void wf_buf_reset(wf_buf *b, int release);

WF_END_DECLS

#endif
