/* Socket address parsing and formatting: pure functions, no loop. */
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "testutil.h"
#include "weft/addr.h"

/* s parses, and formats back to want (to s itself when want is NULL). */
static void
round_trip(const char *s, const char *want, int family)
{
	struct wf_addr a, b;
	char buf[128];

	assert_int_equal(wf_addr_parse(&a, s), 0);
	assert_int_equal(a.ss.ss_family, family);
	assert_string_equal(wf_addr_format(&a, buf, sizeof(buf)),
	    want ? want : s);
	/* The formatted form is the same address again. */
	assert_int_equal(wf_addr_parse(&b, buf), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(&a.ss, &b.ss, a.len);
}

static void
round_trips(void **state)
{

	(void)state;
	round_trip("127.0.0.1:7000", NULL, AF_INET);
	round_trip("1.2.3.4:0", NULL, AF_INET);
	round_trip("255.255.255.255:65535", NULL, AF_INET);
	round_trip("*:7000", NULL, AF_INET);
	round_trip("0.0.0.0:80", "*:80", AF_INET);
	round_trip("127.0.0.1:007", "127.0.0.1:7", AF_INET);
	round_trip("[::1]:7000", NULL, AF_INET6);
	round_trip("[::]:7000", NULL, AF_INET6);
	round_trip("[2001:DB8::0:1]:443", "[2001:db8::1]:443", AF_INET6);
	round_trip("[::ffff:10.0.0.1]:1", NULL, AF_INET6);
	round_trip("unix:/p", NULL, AF_UNIX);
	round_trip("unix:/run/weft/weft.sock", NULL, AF_UNIX);
	round_trip("unix:relative.sock", NULL, AF_UNIX);
}

static void
fields_are_set(void **state)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_un *sun;
	struct wf_addr a;

	(void)state;
	assert_int_equal(wf_addr_parse(&a, "10.1.2.3:8080"), 0);
	sin = (const struct sockaddr_in *)&a.ss;
	assert_int_equal(a.len, sizeof(*sin));
	assert_int_equal(ntohs(sin->sin_port), 8080);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0a010203);

	assert_int_equal(wf_addr_parse(&a, "*:1"), 0);
	assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));

	assert_int_equal(wf_addr_parse(&a, "[::]:65535"), 0);
	sin6 = (const struct sockaddr_in6 *)&a.ss;
	assert_int_equal(a.len, sizeof(*sin6));
	assert_int_equal(ntohs(sin6->sin6_port), 65535);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));

	assert_int_equal(wf_addr_parse(&a, "unix:/a/b"), 0);
	sun = (const struct sockaddr_un *)&a.ss;
	assert_string_equal(sun->sun_path, "/a/b");
	assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + 5);
}

static void
unix_path_length_limit(void **state)
{
	struct sockaddr_un sun;
	char s[sizeof(sun.sun_path) + 16], buf[256];
	struct wf_addr a;
	size_t max = sizeof(sun.sun_path) - 1; /* the NUL needs its byte */

	(void)state;
	memcpy(s, "unix:/", 6);
	memset(s + 6, 'x', max - 1);
	s[5 + max] = '\0';
	assert_int_equal(wf_addr_parse(&a, s), 0);
	assert_string_equal(wf_addr_format(&a, buf, sizeof(buf)), s);

	s[5 + max] = 'x';
	s[5 + max + 1] = '\0';
	assert_int_equal(wf_addr_parse(&a, s), -EINVAL);
}

static void
rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		":",
		":7000",              /* no host */
		"127.0.0.1",          /* no port */
		"127.0.0.1:",         /* empty port */
		"127.0.0.1:65536",    /* out of range */
		"127.0.0.1:99999999999999999999",
		"127.0.0.1:-1",
		"127.0.0.1:+80",
		"127.0.0.1: 80",
		"127.0.0.1:0x50",     /* decimal only */
		"127.0.0.1:80x",      /* trailing junk */
		"127.0.0.1:80 ",
		"127.0.0.1:80:80",
		"127.0.0.1.5:80",
		"256.0.0.1:80",
		"localhost:80",       /* no DNS */
		"example.com:80",
		"**:80",
		"::1:80",             /* IPv6 needs brackets */
		"[::1]",
		"[::1]:",
		"[::1]80",
		"[::1]:80x",
		"[::1:80",
		"[127.0.0.1]:80",
		"[*]:80",
		"[]:80",
		"[fe80::1%lo]:80",
		"[::1]]:80",
		"unix:",              /* empty path */
		"UNIX:/p",
		"tcp://127.0.0.1:80",
	};
	struct wf_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0xa5, sizeof(a));
		if (wf_addr_parse(&a, bad[i]) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(a.len, 0);
	}
	assert_int_equal(wf_addr_parse(&a, NULL), -EINVAL);
}

static void
format_truncates_and_shows_odd_unix_peers(void **state)
{
	struct sockaddr_un *sun;
	struct wf_addr a;
	char buf[8], big[64];

	(void)state;
	assert_int_equal(wf_addr_parse(&a, "[::1]:7000"), 0);
	assert_string_equal(wf_addr_format(&a, buf, sizeof(buf)), "[::1]:7");
	buf[0] = 'z';
	assert_ptr_equal(wf_addr_format(&a, buf, 0), buf);
	assert_int_equal(buf[0], 'z');

	/* A client that never bound: accept() reports just the family. */
	memset(&a, 0, sizeof(a));
	sun = (struct sockaddr_un *)&a.ss;
	sun->sun_family = AF_UNIX;
	a.len = sizeof(sa_family_t);
	assert_string_equal(wf_addr_format(&a, big, sizeof(big)), "unix:");

	/* A Linux abstract name. */
	memcpy(sun->sun_path, "\0ab", 3);
	a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 3);
	assert_string_equal(wf_addr_format(&a, big, sizeof(big)), "unix:@ab");
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(round_trips),
		CASE(fields_are_set),
		CASE(unix_path_length_limit),
		CASE(rejects_malformed),
		CASE(format_truncates_and_shows_odd_unix_peers),
	};

	RUN("addr", cases);
}
