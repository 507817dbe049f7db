/*
 * The echo server as a libevent 2.1 user writes it: a listener, one
 * bufferevent per connection, and the input buffer moved to the output
 * without a copy. Single thread.
 *
 *   echo_libevent --port N
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_add_buffer(bufferevent_get_output(bev),
	    bufferevent_get_input(bev));
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct event_base *base = arg;
	struct bufferevent *bev;
	int one = 1;

	(void)lev;
	(void)sa;
	(void)salen;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, echo_read_cb, NULL, echo_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct evconnlistener *lev;
	struct event_base *base;

	if (argc != 3 || strcmp(argv[1], "--port") != 0) {
		fprintf(stderr, "usage: echo_libevent --port N\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* libevent writes with writev(); a reset peer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "echo_libevent: event_base_new failed\n");
		return 1;
	}
	/*
	 * -1 would mean libevent's backlog of 128; every peer asks for
	 * SOMAXCONN so a burst of 1,000 connects is not a SYN-retry test.
	 */
	lev = evconnlistener_new_bind(base, accept_cb, base,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, SOMAXCONN,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (lev == NULL) {
		fprintf(stderr, "echo_libevent: listen(127.0.0.1:%s) failed\n",
		    argv[2]);
		return 1;
	}
	event_base_dispatch(base);
	evconnlistener_free(lev);
	event_base_free(base);
	return 0;
}
