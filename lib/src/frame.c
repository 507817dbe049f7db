/* The weft frame codec: see weft/frame.h for the format. */
#include <errno.h>
#include <string.h>

#include "weft/frame.h"

static int
decode(const wf_buf *in, uint32_t max, struct wf_frame *f, int tagged)
{
	const unsigned char *p = (const unsigned char *)wf_buf_peek(in);
	uint32_t len;

	if (wf_buf_len(in) < WF_FRAME_HDR)
		return 0;
	len = wf_frame_length(p);
	/* Judge the header before waiting for (or buffering) any payload. */
	if (len > max)
		return -EMSGSIZE;
	if (!tagged && (p[6] || p[7]))
		return -EPROTO;
	f->len = len;
	f->status = (uint16_t)(p[4] << 8 | p[5]);
	f->flags = (uint16_t)(p[6] << 8 | p[7]);
	if (wf_buf_len(in) - WF_FRAME_HDR < len) {
		f->payload = NULL;
		return 0;
	}
	f->payload = (const char *)p + WF_FRAME_HDR;
	return 1;
}

int
wf_frame_decode(const wf_buf *in, uint32_t max, struct wf_frame *f)
{
	return decode(in, max, f, 0);
}

int
wf_frame_decode_tagged(const wf_buf *in, uint32_t max, struct wf_frame *f)
{
	return decode(in, max, f, 1);
}

void
wf_frame_header(unsigned char hdr[WF_FRAME_HDR], uint32_t len,
    uint16_t status, uint16_t flags)
{
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	hdr[4] = (unsigned char)(status >> 8);
	hdr[5] = (unsigned char)status;
	hdr[6] = (unsigned char)(flags >> 8);
	hdr[7] = (unsigned char)flags;
}

uint32_t
wf_frame_length(const void *hdr)
{
	const unsigned char *p = hdr;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}
