/*
 * wf_buf under a random sequence of append, prepend, reserve and consume,
 * checked after every step against a plain copy; and the frame codec on
 * whatever the buffer holds, against a decoder written out here.
 * Each op is two bytes of input: what (low 2 bits) and how many.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <weft/buffer.h>
#include <weft/frame.h>

#define SHADOW (256 * 1024)

static void
check(const wf_buf *b, const unsigned char *shadow, size_t len)
{
	if (wf_buf_len(b) != len ||
	    (len && memcmp(wf_buf_peek(b), shadow, len) != 0))
		abort();
	if (b->off + b->len > b->cap)
		abort();
}

/* The frame at the front of shadow, decoded by hand: 1, 0 or -errno. */
static int
shadow_decode(const unsigned char *p, size_t len, uint32_t max, uint32_t *n)
{
	if (len < WF_FRAME_HDR)
		return 0;
	*n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	if (*n > max)
		return -1;
	if (p[6] || p[7])
		return -2;
	return len - WF_FRAME_HDR >= *n ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char shadow[SHADOW], tmp[SHADOW];
	wf_buf b = WF_BUF_INIT;
	size_t len = 0, i, n;
	struct wf_frame f;
	uint32_t want;
	int rc, ref;

	for (i = 0; i + 1 < size; i += 2) {
		n = data[i + 1] * (size_t)(data[i] >> 2 & 7 ? 1 : 97);
		switch (data[i] & 3) {
		case 0: /* append bytes taken from the input itself */
			if (len + n > SHADOW)
				break;
			for (size_t k = 0; k < n; k++)
				tmp[k] = data[(i + k) % size];
			if (wf_buf_append(&b, tmp, n) < 0)
				abort();
			memcpy(shadow + len, tmp, n);
			len += n;
			break;
		case 1:
			n %= 64;
			if (len + n > SHADOW)
				break;
			memset(tmp, (int)data[i], n);
			if (wf_buf_prepend(&b, tmp, n) < 0)
				abort();
			memmove(shadow + n, shadow, len);
			memcpy(shadow, tmp, n);
			len += n;
			break;
		case 2:
			if (wf_buf_reserve(&b, n) < 0)
				abort();
			break;
		case 3:
			if (n > len)
				n = len;
			wf_buf_consume(&b, n);
			memmove(shadow, shadow + n, len - n);
			len -= n;
			break;
		}
		check(&b, shadow, len);
		rc = wf_frame_decode(&b, 4096, &f);
		ref = shadow_decode(shadow, len, 4096, &want);
		if ((rc > 0) != (ref > 0) || (rc == 0) != (ref == 0) ||
		    (rc == -EMSGSIZE) != (ref == -1) || (rc == -EPROTO) != (ref == -2))
			abort();
		if (rc == 1 && (f.len != want ||
		    memcmp(f.payload, shadow + WF_FRAME_HDR, want) != 0))
			abort();
	}
	wf_buf_reset(&b, 1);
	return 0;
}
