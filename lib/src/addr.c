/*
 * Socket addresses in the notation of weft/addr.h.
 *
 * Hosts go through inet_pton() only: a name would need DNS, and a daemon
 * reading its configuration must not block on a resolver.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "weft/addr.h"

#define UNIX_PREFIX "unix:"

/* Decimal digits only: strtoul would take signs, spaces and "0x". */
static int
parse_port(const char *s, in_port_t *port)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*port = htons((in_port_t)v);
	return 0;
}

static int
parse_unix(struct wf_addr *a, const char *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
	size_t n = strlen(path);

	/* sun_path keeps its NUL: bind() and format expect a C string. */
	if (n == 0 || n >= sizeof(sun->sun_path))
		return -EINVAL;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
wf_addr_parse(struct wf_addr *a, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *end, *port;
	in_port_t p;
	size_t n;
	int v6;

	memset(a, 0, sizeof(*a));
	if (s == NULL)
		return -EINVAL;
	if (strncmp(s, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
		return parse_unix(a, s + strlen(UNIX_PREFIX));

	if (*s == '[') {
		/* The brackets keep the address's colons apart from the port's. */
		h = s + 1;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		port = end + 2;
		v6 = 1;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return -EINVAL;
		h = s;
		port = end + 1;
		v6 = 0;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (parse_port(port, &p) < 0)
		return -EINVAL;

	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = p;
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = p;
		a->len = sizeof(*sin);
	}
	return 0;
}

static void
format_unix(const struct wf_addr *a, char *buf, size_t size)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
	size_t off = offsetof(struct sockaddr_un, sun_path), n;

	/* An unbound peer (a client that never called bind) has no path. */
	if (a->len <= off) {
		snprintf(buf, size, UNIX_PREFIX);
		return;
	}
	n = a->len - off;
	if (n > sizeof(sun->sun_path))
		n = sizeof(sun->sun_path);
	/* Linux abstract names start with a NUL; "@" is how ss(8) shows them. */
	if (sun->sun_path[0] == '\0')
		snprintf(buf, size, UNIX_PREFIX "@%.*s", (int)(n - 1),
		    sun->sun_path + 1);
	else
		snprintf(buf, size, UNIX_PREFIX "%.*s",
		    (int)strnlen(sun->sun_path, n), sun->sun_path);
}

const char *
wf_addr_format(const struct wf_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (size == 0)
		return buf;
	switch (a->ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const void *)&a->ss;

		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			snprintf(host, sizeof(host), "*");
		else
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const void *)&a->ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		format_unix(a, buf, size);
		break;
	default:
		snprintf(buf, size, "?family=%d", a->ss.ss_family);
		break;
	}
	return buf;
}
