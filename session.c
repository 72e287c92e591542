/* How a session ends: wstunnel's own answers, and the access line. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "rewrite.h"
#include "session.h"
#include "sig.h"
#include "tls.h"
#include "util.h"

#define LINGER_MS	2000		/* see reply_error() */
#define LINGER_BYTES	(1 << 20)
#define LOG_PATH_MAX	1024		/* of a path in the access line */

int
session_fail(struct session *s, int status, const char *end, const char *why)
{
	s->status = status;
	s->end = end;
	s->why = why;
	s->failed = 1;
	return -1;
}

int
session_stopped(struct session *s)
{
	return session_fail(s, s->status, "signal", sig_name());
}

/*
 * After an error answer the client may still be sending the rest of a head
 * we refused.  Closing a socket with unread bytes in it makes the kernel send
 * a reset, which can destroy the answer before the client has read it; so
 * the write side is shut first and what still comes is read and dropped for
 * a while, as httpd's lingering close does.
 */
void
session_linger(struct session *s)
{
	int64_t deadline = now_ms() + LINGER_MS;
	size_t total = 0;

	if (conn_shutdown(&s->client) == CONN_ERR)
		return;
	while (total < LINGER_BYTES) {
		ssize_t n = conn_read(&s->client, s->up, s->bufsize);

		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0 || n == CONN_ERR ||
		    conn_wait(&s->client, (int)n, deadline) <= 0)
			return;
	}
}

int
reply_error(struct session *s, int status, const char *why, const char *extra)
{
	struct http_error e = { status, why, extra };
	char buf[1024];
	ssize_t n;

	n = rewrite_error(&e, buf, sizeof(buf));
	if (n > 0 && conn_write_all(&s->client, buf, (size_t)n,
	    now_ms() + s->cfg->handshake_ms) == 0)
		session_linger(s);
	return session_fail(s, status, status == 408 ? "timeout" :
	    status < 500 ? "refused" : "backend-failed", why);
}

void
session_close(struct session *s)
{
	struct conn *c[2] = { &s->client, &s->backend };
	size_t i;

	for (i = 0; i < nitems(c); i++)
		if (c[i]->tls != NULL)
			tls->free(c[i]);
	if (s->backend.rfd > STDERR_FILENO)
		close(s->backend.rfd);
	s->backend.rfd = s->backend.wfd = -1;
	free(s->up);
	free(s->down);
	s->up = s->down = NULL;
}

void
session_log(const struct session *s)
{
	char status[8] = "-";
	double secs = (double)(now_ms() - s->start) / 1000.0;

	if (s->status != 0)
		snprintf(status, sizeof(status), "%d", s->status);
	/* a long path is cut, so that the fields after it stay on the line */
	log_msg(LOG_INFO, "client=%s%s%s path=%.*s%s backend=%s status=%s "
	    "up=%llu down=%llu secs=%.1f end=%s%s%s%s%s%s%s%s%s",
	    s->peer[0] ? s->peer : "unknown",
	    s->plain ? " method=" : "", s->plain ? s->method : "",
	    s->path_len > 0 ? (int)(s->path_len < LOG_PATH_MAX ? s->path_len :
	    LOG_PATH_MAX) : 1, s->path_len > 0 ? s->path : "-",
	    s->path_len > LOG_PATH_MAX ? "..." : "",
	    s->baddr[0] ? s->baddr : "-", status,
	    (unsigned long long)s->upbytes, (unsigned long long)s->downbytes,
	    secs, s->end != NULL ? s->end : s->plain ? "done" : "unknown",
	    s->wsinfo,
	    s->denied != NULL ? " denied=" : "",
	    s->denied != NULL ? s->denied : "",
	    s->via[0] != '\0' ? " via=" : "", s->via,
	    s->why != NULL ? " reason=\"" : "",
	    s->why != NULL ? s->why : "", s->why != NULL ? "\"" : "");
}

/* The client's port, from the "ip:port" or "[ip]:port" of the log; a
 * client read from X-Forwarded-For has none. */
static unsigned
client_port(const struct session *s)
{
	const char *colon = strrchr(s->peer, ':'), *errstr;
	unsigned port;

	if (s->via[0] != '\0' || colon == NULL || strchr(colon, ']') != NULL)
		return 0;
	port = (unsigned)strtonum(colon + 1, 0, 65535, &errstr);
	return errstr == NULL ? port : 0;
}

ssize_t
session_proxy_header(const struct session *s, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addr dst;
	unsigned dport = 0;

	memset(&dst, 0, sizeof(dst));
	if (getsockname(STDIN_FILENO, (struct sockaddr *)&ss, &len) == 0) {
		char ip[INET6_ADDRSTRLEN], peer[DIAL_ADDR_MAX];

		addr_from_sockaddr((struct sockaddr *)&ss, &dst, ip,
		    sizeof(ip), peer, sizeof(peer));
		if (ss.ss_family == AF_INET)
			dport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			dport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return proxy_build(s->cfg->send_proxy, &s->addr, client_port(s),
	    &dst, dport, out, size);
}
