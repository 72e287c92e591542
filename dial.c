#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dial.h"
#include "log.h"
#include "sig.h"
#include "state.h"
#include "tls.h"
#include "util.h"

#define DIAL_FAILED	(-1)
#define DIAL_TIMEOUT	(-2)

/* One non-blocking connect within deadline: the socket, or -1 with *why. */
static int
connect_addr(const struct sockaddr *sa, socklen_t salen, int64_t deadline,
    const char **why)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0, n;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		/* a unix socket with a full backlog says EAGAIN */
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	n = sig_poll(&pfd, 1, ms_until(deadline));
	if (n == 0)
		*why = NULL;	/* timed out */
	else if (n == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &elen) == -1)
		*why = strerror(errno);
	else if (err != 0)
		*why = strerror(err);
	else
		return fd;
	close(fd);
	return -1;
}

static void
format_addr(const struct sockaddr *sa, char *addr, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
		snprintf(addr, size, "%s:%u", host, ntohs(sin->sin_port));
	else if (sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
		snprintf(addr, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
	else
		snprintf(addr, size, "?");
}

/* A connected socket to b, trying each of its addresses, or -1. */
static int
connect_backend(const struct backend *b, int connect_ms, char *addr,
    size_t size, int *timedout)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_un sun;
	const char *why = NULL;
	int fd = -1, gai;

	*timedout = 0;
	if (b->is_unix) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, b->host, strlen(b->host));
		snprintf(addr, size, "unix:%s", b->host);
		fd = connect_addr((struct sockaddr *)&sun, sizeof(sun),
		    now_ms() + connect_ms, &why);
		if (fd == -1 && !sig_caught())
			goto failed;
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* an address literal needs no resolver: no NSS, no files read */
	hints.ai_flags = AI_NUMERICSERV | (b->numeric ? AI_NUMERICHOST : 0);
	if ((gai = getaddrinfo(b->host, b->port, &hints, &res)) != 0) {
		log_msg(LOG_WARNING, "backend %s: cannot resolve %s: %s",
		    b->url, b->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		format_addr(ai->ai_addr, addr, size);
		fd = connect_addr(ai->ai_addr, ai->ai_addrlen,
		    now_ms() + connect_ms, &why);
		if (fd != -1 || sig_caught())
			break;
		log_msg(LOG_WARNING, "backend %s: connect to %s: %s", b->url,
		    addr, why != NULL ? why : "timed out");
		*timedout = (why == NULL);
	}
	freeaddrinfo(res);
	return fd;
failed:
	*timedout = (why == NULL);
	log_msg(LOG_WARNING, "backend %s: connect to %s: %s", b->url, addr,
	    why != NULL ? why : "timed out");
	return -1;
}

static int
dial_backend(const struct backend *b, const struct dial_opts *o,
    struct conn *c, char *addr, size_t size)
{
	const char *name;
	int fd, timedout, r;

	if ((fd = connect_backend(b, o->connect_ms, addr, size,
	    &timedout)) == -1)
		return sig_caught() ? DIAL_STOPPED : timedout ? DIAL_TIMEOUT :
		    DIAL_FAILED;
	log_msg(LOG_DEBUG, "backend %s: connected to %s", b->url, addr);
	conn_tune_socket(fd);
	memset(c, 0, sizeof(*c));
	c->rfd = c->wfd = fd;
	c->name = "backend";
	if (o->preface_len > 0 && conn_write_all(c, o->preface,
	    o->preface_len, now_ms() + o->connect_ms) != 0) {
		log_msg(LOG_WARNING, "backend %s: PROXY header to %s: %s",
		    b->url, addr, c->why != NULL ? c->why : "not sent");
		close(fd);
		c->rfd = c->wfd = -1;
		/* a stop signal is not the backend's failure */
		return sig_caught() ? DIAL_STOPPED : DIAL_FAILED;
	}
	if (!b->tls)
		return 0;
	/* the name sent and verified: --backend-sni, else the URL's host */
	name = o->sni != NULL ? o->sni : b->is_unix ? "localhost" : b->host;
	r = tls->start(c, o->tls_ctx, 0, name);
	if (r == 0 && (r = tls_handshake(c, now_ms() + o->connect_ms)) == 0) {
		if (o->insecure)
			log_msg(LOG_WARNING, "backend %s: certificate not "
			    "verified (--backend-insecure)", b->url);
		return 0;
	}
	if (r != CONN_STOPPED)
		log_msg(LOG_WARNING, "backend %s: TLS with %s: %s", b->url,
		    addr, c->why != NULL ? c->why : "failed");
	if (c->tls != NULL)
		tls->free(c);
	close(fd);
	c->rfd = c->wfd = -1;
	return r == CONN_STOPPED ? DIAL_STOPPED : r == CONN_TIMEOUT ?
	    DIAL_TIMEOUT : DIAL_FAILED;
}

int
dial_route(const struct route *r, const size_t *order, size_t n,
    const struct dial_opts *o, struct conn *c, size_t *chosen, char *addr,
    size_t addrsize)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < n; i++) {
		int res = dial_backend(&r->backends[order[i]], o, c, addr,
		    addrsize);
		if (res == 0) {
			*chosen = order[i];
			state_use(r, order[i]);
			return 0;
		}
		if (res == DIAL_STOPPED)
			return DIAL_STOPPED;
		/* every process skips it for --retry-after */
		state_failed(r, order[i]);
		if (res == DIAL_FAILED)
			failed = 1;
	}
	return failed ? 502 : 504;
}
