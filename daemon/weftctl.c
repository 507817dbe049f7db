/*
 * weftctl: ask a running weftd over its control socket (weftctl(1)). One
 * request line out; weftd's "CODE LENGTH message" line and a body back. The exit
 * status is weftd's CODE (0 done, 1 not done, 2 not a request it knows),
 * or weftctl's own: 2 usage, 3 weftd not reachable, 4 no proper answer.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define EXIT_ANSWER 4
/* A reload may wait 30 s on the spawner's reading of the file. */
#define ANSWER_MS 60000
#define MAX_ANSWER (64u << 20)

static void
usage(FILE *f)
{
	fprintf(f, "usage: weftctl [-c CONFIG | -s SOCKET] COMMAND\n"
	    "commands:\n"
	    "  status [--json]           pools, workers, listeners, counters\n"
	    "  reload                    reload the configuration file\n"
	    "  restart-workers [POOL]    replace every worker, one at a time\n"
	    "  pool POOL workers N       resize a pool until the next reload\n"
	    "The socket is CONFIG's control setting (default %s),\n"
	    "else %s.\n", WEFTD_CONF, DEFAULT_CONTROL);
}

/* The control path of the configuration at path; NULL: said why. */
static char *
from_config(const char *path)
{
	struct weftd_config c;
	char err[512], *s;

	if (weftd_config_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "weftctl: %s\n", err);
		return NULL;
	}
	if (c.control[0] == '\0') {
		fprintf(stderr, "weftctl: %s: control is \"\": this weftd has no "
		    "control socket\n", path);
		weftd_config_free(&c);
		return NULL;
	}
	s = strdup(c.control);
	weftd_config_free(&c);
	return s;
}

static int
dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "weftctl: %s: path too long for a socket\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "weftctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "weftctl: %s: %s%s\n", path, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ?
		    " (is weftd running?)" : errno == EACCES ?
		    " (the socket is its owner's and root's only)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Everything weftd answers, up to its close; NULL: said why. */
static char *
ask(int fd, const char *req, size_t *lenp)
{
	uint64_t end = now_ms() + ANSWER_MS, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t n;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "weftctl: write: %s\n", strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			size_t want = cap ? cap * 2 : 65536;

			if (cap >= MAX_ANSWER ||
			    (p = realloc(buf, want + 1)) == NULL) {
				fprintf(stderr, "weftctl: answer too large\n");
				free(buf);
				return NULL;
			}
			buf = p;
			cap = want;
		}
		if ((now = now_ms()) >= end ||
		    poll(&pfd, 1, (int)(end - now)) == 0) {
			fprintf(stderr, "weftctl: no answer within %d s\n",
			    ANSWER_MS / 1000);
			free(buf);
			return NULL;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "weftctl: read: %s\n", strerror(errno));
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int
main(int argc, char **argv)
{
	const char *config = NULL, *sock = NULL;
	char req[1024], *path, *ans, *nl, *msg;
	size_t off = 0, len;
	unsigned long long body;
	int opt, i, fd, code;

	/* weftd may close before reading (all its slots busy): an error. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc || (config && sock)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = optind; i < argc; i++) {
		if (strpbrk(argv[i], " \t\r\n") || off + strlen(argv[i]) + 2 >
		    sizeof(req)) {
			fprintf(stderr, "weftctl: %s: not a word weftd takes\n",
			    argv[i]);
			return EXIT_USAGE;
		}
		off += (size_t)snprintf(req + off, sizeof(req) - off, "%s%s",
		    i > optind ? " " : "", argv[i]);
	}
	snprintf(req + off, sizeof(req) - off, "\n");
	if (sock)
		path = strdup(sock);
	else if (config || access(WEFTD_CONF, R_OK) == 0)
		path = from_config(config ? config : WEFTD_CONF);
	else
		path = strdup(DEFAULT_CONTROL);
	if (path == NULL)
		return EXIT_UNREACHABLE;
	fd = dial(path);
	free(path);
	if (fd < 0)
		return EXIT_UNREACHABLE;
	ans = ask(fd, req, &len);
	close(fd);
	if (ans == NULL)
		return EXIT_ANSWER;
	if ((nl = memchr(ans, '\n', len)) == NULL || ans[0] < '0' ||
	    ans[0] > '2' || ans[1] != ' ' || ans[2] < '0' || ans[2] > '9') {
		fprintf(stderr, "weftctl: not an answer weftd gives (is this "
		    "weftd's control socket?)\n");
		free(ans);
		return EXIT_ANSWER;
	}
	*nl = '\0';
	code = ans[0] - '0';
	body = strtoull(ans + 2, &msg, 10);
	if (*msg == ' ')
		msg++;
	if (body != len - (size_t)(nl + 1 - ans)) {
		fprintf(stderr, "weftctl: the answer was cut short (%zu of %llu "
		    "bytes)\n", len - (size_t)(nl + 1 - ans), body);
		free(ans);
		return EXIT_ANSWER;
	}
	if (code != 0)
		fprintf(stderr, "weftctl: %s\n", msg);
	else if (nl + 1 == ans + len)
		printf("%s\n", msg); /* no body: the message is the answer */
	fwrite(nl + 1, 1, len - (size_t)(nl + 1 - ans), stdout);
	free(ans);
	return fflush(stdout) == 0 ? code : EXIT_ANSWER;
}
