/*
 * The weft frame: an 8-byte header in network byte order, then the payload.
 *
 *   u32 length   payload bytes, header excluded
 *   u16 status   0 in requests; a status code in responses
 *   u16 flags    reserved, must be 0
 */
#ifndef WEFT_FRAME_H
#define WEFT_FRAME_H

#include <stdint.h>
#include <weft/buffer.h>
#include <weft/defs.h>

WF_BEGIN_DECLS

#define WF_FRAME_HDR 8

struct wf_frame {
	uint32_t len;
	uint16_t status;
	uint16_t flags;
	const char *payload; /* points into the input buffer: no copy */
};

/*
 * Decode the frame at the front of in. Returns 1 with *f filled (the caller
 * consumes WF_FRAME_HDR + f->len bytes when done with the payload), 0 when
 * more bytes are needed (once the header is in, *f has its fields and a
 * NULL payload: a large body can be read in place, wf_conn_read_into),
 * -EMSGSIZE when length exceeds max, -EPROTO when flags are not 0. The
 * length is checked from the header alone, before any byte of the payload
 * is waited for or buffered.
 */
WF_EXPORT int wf_frame_decode(const wf_buf *in, uint32_t max,
    struct wf_frame *f);

WF_EXPORT void wf_frame_header(unsigned char hdr[WF_FRAME_HDR], uint32_t len,
    uint16_t status, uint16_t flags);

/* The length field of a header (WF_FRAME_HDR bytes at hdr). */
WF_EXPORT uint32_t wf_frame_length(const void *hdr);

/*
 * Tags, between weftd and a handler only (clients never see them): a
 * handler that sends the hello frame (length 0, status 0, flags
 * WF_TAGS_HELLO) before any answer gets a tag in the flags of every later
 * request, and answers each with the flags it came with. weftd then
 * delivers no answer whose tag is not the one it expects (weft-protocol(7)).
 */
#define WF_TAGS_HELLO 0x5754 /* "WT" */

/* wf_frame_decode, with flags taken as they are (a tag), not refused. */
WF_EXPORT int wf_frame_decode_tagged(const wf_buf *in, uint32_t max,
    struct wf_frame *f);

WF_END_DECLS

#endif
