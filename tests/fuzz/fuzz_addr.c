/*
 * The address parser: whatever it accepts formats back to text that parses
 * to the same address (parse, format, parse).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <weft/addr.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], text[256];
	struct wf_addr a, b;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (wf_addr_parse(&a, s) < 0)
		return 0;
	wf_addr_format(&a, text, sizeof(text));
	if (wf_addr_parse(&b, text) < 0)
		abort();
	if (a.len != b.len || memcmp(&a.ss, &b.ss, a.len) != 0)
		abort();
	return 0;
}
