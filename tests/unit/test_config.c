/* weftd.conf: values, defaults, units, and file:line errors. */
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <syslog.h>

#include "testutil.h"
#include "config.h"

static char path[64];

/* The documented rule for io_threads = auto. */
static unsigned
auto_threads(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return CPU_COUNT(&set) < 4 ? 1 : (unsigned)CPU_COUNT(&set) / 4;
}

static const char *
write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/weft-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
loads_every_option(void **state)
{
	struct weftd_config c;
	char err[256];

	(void)state;
	write_conf(
	    "# a full config\n"
	    "listen = { \"127.0.0.1:7001\", \"[::1]:7002\", \"unix:/run/w.sock\" }\n"
	    "io_threads = 4\n"
	    "max_connections = 500\n"
	    "max_pipeline = 16\n"
	    "max_frame = 64k\n"
	    "idle_timeout = 500ms\n"
	    "shutdown_timeout = 2m\n"
	    "log_level = debug\n"
	    "syslog_facility = local3\n"
	    "frame_timeout = 5s\n"
	    "send_timeout = 750ms\n"
	    "max_buffered = 1g\n"
	    "max_buffered_per_client = 256k\n"
	    "max_connections_per_ip = 16\n"
	    "unix_socket {\n"
	    "  owner = nobody\n"
	    "  group = \"0\"\n"
	    "  mode = 0606\n"
	    "}\n"
	    "handler {\n"
	    "  command = { \"/usr/libexec/weft/echo\", \"--flag\" }\n"
	    "  workers = 8\n"
	    "  request_timeout = 3\n"
	    "  queue_limit = 0\n"
	    "  pipeline = 4\n"
	    "  env = { \"LANG=C\", \"A=b=c\" }\n"
	    "}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 3);
	assert_string_equal(c.listen[2], "unix:/run/w.sock");
	assert_null(c.listen[3]);
	assert_int_equal(c.io_threads, 4);
	assert_int_equal(c.max_connections, 500);
	assert_int_equal(c.max_pipeline, 16);
	assert_int_equal(c.max_frame, 65536);
	assert_int_equal(c.idle_timeout_ms, 500);
	assert_int_equal(c.shutdown_timeout_ms, 120000);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.facility, LOG_LOCAL3);
	assert_int_equal(c.frame_timeout_ms, 5000);
	assert_int_equal(c.send_timeout_ms, 750);
	assert_int_equal(c.max_buffered, 1u << 30);
	assert_int_equal(c.max_buffered_per_client, 256 << 10);
	assert_int_equal(c.max_connections_per_ip, 16);
	assert_int_equal(c.unix_socket.uid, getpwnam("nobody")->pw_uid);
	assert_int_equal(c.unix_socket.gid, 0);
	assert_int_equal(c.unix_socket.mode, 0606);
	assert_int_equal(c.pools[0]->argc, 2);
	assert_string_equal(c.pools[0]->argv[1], "--flag");
	assert_null(c.pools[0]->argv[2]);
	assert_int_equal(c.pools[0]->workers, 8);
	assert_int_equal(c.pools[0]->request_timeout_ms, 3000); /* bare: seconds */
	assert_int_equal(c.pools[0]->queue_limit, 0);
	assert_int_equal(c.pools[0]->pipeline, 4);
	assert_int_equal(c.pools[0]->nenv, 2);
	assert_string_equal(c.pools[0]->env[1], "A=b=c");
	weftd_config_free(&c);
	unlink(path);
}

static void
defaults_fill_the_rest(void **state)
{
	struct weftd_config c;
	char err[256];

	(void)state;
	write_conf("handler {\n  command = { \"/bin/cat\" }\n}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0], "127.0.0.1:7000");
	assert_int_equal(c.io_threads, auto_threads());
	assert_int_equal(c.pools[0]->pipeline, 0); /* auto */
	assert_int_equal(c.max_frame, 1 << 20);
	assert_int_equal(c.idle_timeout_ms, 60000);
	assert_int_equal(c.pools[0]->workers, 4);
	assert_int_equal(c.pools[0]->nenv, 0);
	assert_null(c.pools[0]->env[0]);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.facility, LOG_DAEMON);
	assert_int_equal(c.max_buffered, 64 << 20);
	assert_int_equal(c.max_buffered_per_client, 4 << 20);
	assert_int_equal(c.frame_timeout_ms, 30000);
	assert_int_equal(c.send_timeout_ms, 30000);
	assert_int_equal(c.max_connections_per_ip, 0);
	assert_int_equal(c.unix_socket.mode, 0660);
	assert_int_equal(c.unix_socket.uid, (uid_t)-1);
	assert_int_equal(c.unix_socket.gid, (gid_t)-1);
	weftd_config_free(&c);
	unlink(path);
}

/* Each bad config fails with "file:line: ..." naming the problem. */
static void
bad_values_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *says;
	} bad[] = {
		{ "io_threads = 2\nio_thread = 3\n", 2, "io_thread" },
		{ "\n\nio_threads = -1\n", 3, "io_threads: -1 is out of range 1..256" },
		{ "max_connections = 0\n", 1, "out of range" },
		{ "max_pipeline = 0\n", 1, "out of range" },
		{ "listen = { \"127.0.0.1:99999\" }\n", 1, "\"127.0.0.1:99999\" is not HOST:PORT" },
		{ "max_frame = 12q\n", 1, "max_frame: \"12q\" is not a size" },
		{ "max_frame = 2g\n", 1, "not a size" },
		{ "idle_timeout = soon\n", 1, "idle_timeout: \"soon\" is not a duration" },
		{ "log_level = loud\n", 1, "log_level: \"loud\" is not one of" },
		{ "syslog_facility = local9\n", 1, "is not one of daemon" },
		{ "handler {\n command = { \"echo\" }\n}\n", 2, "absolute path" },
		{ "handler {\n command = { \"/bin/x\" }\n workers = 5000\n}\n", 3, "workers: 5000" },
		{ "handler {\n command = { \"/bin/x\" }\n env = { \"NOEQUALS\" }\n}\n", 3, "NOEQUALS" },
		{ "handler {\n command = { \"/bin/x\" }\n request_timeout = 0\n}\n", 3, "request_timeout" },
		{ "io_threads = 2 2\n", 1, "" },
		{ "io_threads = many\n", 1, "io_threads: \"many\" is neither auto nor a number" },
		{ "io_threads = 257\n", 1, "io_threads: 257 is out of range 1..256" },
		{ "handler {\n command = { \"/bin/x\" }\n pipeline = deep\n}\n", 3, "pipeline: \"deep\" is neither auto nor a number" },
		{ "handler {\n command = { \"/bin/x\" }\n pipeline = 0\n}\n", 3, "pipeline: 0 is out of range 1..1024" },
		{ "\nframe_timeout = 0\n", 2, "frame_timeout: \"0\" is not a duration above 0" },
		{ "send_timeout = 2d\n", 1, "send_timeout" },
		{ "max_buffered = 2048g\n", 1, "max_buffered: \"2048g\" is not a size from 0 to 1024g" },
		{ "max_connections_per_ip = -1\n", 1, "out of range 0..1000000" },
		{ "unix_socket {\n owner = no-such-user-x\n}\n", 2, "owner: no such user \"no-such-user-x\"" },
		{ "unix_socket {\n\n group = no-such-group-x\n}\n", 3, "group: no such group" },
		{ "unix_socket {\n mode = 0860\n}\n", 2, "mode: \"0860\" is not an octal mode" },
		{ "unix_socket {\n mode = 01777\n}\n", 2, "not an octal mode" },
		{ "unix_socket {\n mode = 0\n}\n", 2, "not an octal mode" },
		{ "unix_socket {\n owner = 4294967295\n}\n", 2, "no such user" },
		/* Comments of every kind keep the line count right. */
		{ "# one\n## two\n// three\n/* four\n five */ /* six */\n"
		  "io_threads = 0 # seven\n", 6, "io_threads: 0" },
		{ "log_level = \"a#b//c/*d\" # x\n", 1, "\"a#b//c/*d\" is not" },
		{ "log_level = 'it\\'s # x'\n", 1, "\"it's # x\" is not" },
	};
	struct weftd_config c;
	char err[256], want[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_conf(bad[i].text);
		assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:%d: ", path, bad[i].line);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: \"%s\" does not start with \"%s\"", i,
			    err, want);
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err,
			    bad[i].says);
		unlink(path);
	}
}

/* Nothing is silently cut off: an open comment, a NUL byte. */
static void
truncation_is_an_error(void **state)
{
	static const char nul[] = "handler {\n command = { \"/bin/cat\" }\n}\n"
	    "\0max_connections = 0\n";
	struct weftd_config c;
	char err[256], want[128];
	int fd;

	(void)state;
	write_conf("handler {\n command = { \"/bin/cat\" }\n}\n/* note\n"
	    "max_connections = 0\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: a /* comment is never closed", path);
	assert_string_equal(err, want);
	unlink(path);
	snprintf(path, sizeof(path), "/tmp/weft-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, nul, sizeof(nul) - 1), (ssize_t)sizeof(nul) - 1);
	close(fd);
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: a NUL byte", path);
	assert_non_null(strstr(err, want));
	unlink(path);
}

static void
missing_file_and_missing_handler(void **state)
{
	struct weftd_config c;
	char err[256];

	(void)state;
	assert_int_equal(weftd_config_load("/nonexistent/weftd.conf", &c, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/weftd.conf: No such file or directory");
	write_conf("io_threads = 2\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a handler section or a pool section is required"));
	write_conf("listen = {}\nhandler {\n command = { \"/bin/cat\" }\n}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "listen: needs at least one address"));
	unlink(path);
}

/* The budgets against each other and max_frame: no line to name. */
static void
budgets_must_hold_a_frame(void **state)
{
	struct weftd_config c;
	char err[256];

	(void)state;
	write_conf("max_frame = 1m\nmax_buffered_per_client = 1m\n"
	    "handler {\n command = { \"/bin/cat\" }\n}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_buffered_per_client (1m) must hold one "
	    "frame of max_frame (1m) and its header"));
	write_conf("max_buffered = 128k\nmax_frame = 64k\n"
	    "handler {\n command = { \"/bin/cat\" }\n}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_buffered (131072 bytes) is less than "
	    "max_buffered_per_client (262144"));
	/* Derived from a larger max_frame, both follow it. */
	write_conf("max_frame = 8m\nhandler {\n command = { \"/bin/cat\" }\n}\n");
	assert_int_equal(weftd_config_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.max_buffered_per_client, 32 << 20);
	assert_int_equal(c.max_buffered, 512 << 20);
	weftd_config_free(&c);
	unlink(path);
}

static void
units(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(weftd_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(weftd_parse_size("1g", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(weftd_parse_size("-1", &v), -1);
	assert_int_equal(weftd_parse_size("1 k", &v), -1);
	assert_int_equal(weftd_parse_size("99999999999999999999", &v), -1);
	assert_int_equal(weftd_parse_duration("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(weftd_parse_duration("1h", &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(weftd_parse_duration("5", &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(weftd_parse_duration("5x", &v), -1);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(loads_every_option),
		CASE(defaults_fill_the_rest),
		CASE(bad_values_name_file_and_line),
		CASE(missing_file_and_missing_handler),
		CASE(truncation_is_an_error),
		CASE(budgets_must_hold_a_frame),
		CASE(units),
	};

	RUN("config", cases);
}
