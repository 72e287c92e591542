/*
 * The exchange with the backend: the rewritten request goes out, and only a
 * valid 101 becomes a tunnel.  Any other answer is relayed to the client as
 * the HTTP response it is, and the connection ends: the lesson of
 * CVE-2019-17567, where mod_proxy_wstunnel tunnelled whatever came back.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "negotiate.h"
#include "rewrite.h"
#include "route.h"
#include "session.h"
#include "sig.h"
#include "util.h"

/* Interim answers taken before the final one: a backend that sends them
 * without end is cut off by the count, long before the handshake timeout. */

/* The head is read into the down buffer, with room to spare. */
_Static_assert(RELAY_BUFSIZE > HTTP_MAX_RESPONSE_HEAD,
    "the relay buffer holds a response head");

/* --max-header-bytes is the client's: the backend's head has its own bound */
static int
parse_response(const char *buf, size_t len, void *arg)
{
	struct session *s = arg;

	return http_resume_response(buf, len, HTTP_MAX_RESPONSE_HEAD, &s->res,
	    &s->res_at);
}

static int
write_client(struct session *s, const char *buf, size_t len)
{
	return conn_write_all(&s->client, buf, len,
	    now_ms() + s->cfg->handshake_ms);
}

int
backend_forward(const struct session *s, struct forward *fw, char *mapped,
    size_t msize)
{
	const struct backend *b = s->bend;
	ssize_t n = route_map(s->route->path, s->route->path_len, b->path,
	    strlen(b->path), s->target, s->target_len, mapped, msize);

	fw->target = mapped;
	fw->target_len = n > 0 ? (size_t)n : 0;
	fw->host = s->cfg->preserve_host ? s->ws.host : b->authority;
	fw->host_len = s->cfg->preserve_host ? s->ws.host_len :
	    strlen(b->authority);
	fw->client_host = s->ws.host;
	fw->client_host_len = s->ws.host_len;
	/* behind a trusted proxy, the hop wstunnel saw (admit.c) */
	fw->client_addr = s->via[0] != '\0' ? s->via :
	    s->addr.family != 0 ? s->ip : "unknown";
	fw->proto = s->client.tls != NULL ? "https" : "http";
	return n > 0 ? 0 : -1;
}

/* The backend request head, built in out (large enough by construction). */
static ssize_t
build_request(struct session *s, char **out)
{
	struct forward fw;
	size_t msize = strlen(s->bend->path) + s->target_len + 2, osize;
	char *mapped;
	ssize_t n;

	if ((mapped = malloc(msize)) == NULL)
		return -1;
	if (backend_forward(s, &fw, mapped, msize) == -1) {
		free(mapped);
		return -1;
	}
	/* the client's head, plus what is added: the path, Host,
	 * X-Forwarded-*, and ", " between repeated X-Forwarded-For values */
	osize = s->head_len + fw.target_len + fw.host_len +
	    fw.client_host_len + strlen(fw.client_addr) +
	    2 * s->req.nfields + 256;
	if ((*out = malloc(osize)) == NULL) {
		free(mapped);
		return -1;
	}
	n = rewrite_request(&s->req, &fw, *out, osize);
	free(mapped);
	return n;
}

static int
send_request(struct session *s)
{
	char *out = NULL;
	ssize_t n;
	int r;

	if ((n = build_request(s, &out)) <= 0) {
		free(out);
		log_msg(LOG_ERR, "cannot build the backend request");
		return reply_error(s, 500, "cannot build the request", NULL);
	}
	r = conn_write_all(&s->backend, out, (size_t)n,
	    now_ms() + s->cfg->handshake_ms);
	free(out);
	if (r == CONN_STOPPED)
		return session_stopped(s);
	if (r == CONN_TIMEOUT)
		return reply_error(s, 504, "backend did not take the request",
		    NULL);
	if (r != 0)
		return reply_error(s, 502, s->backend.why, NULL);
	return 0;
}

static int
open_tunnel(struct session *s)
{
	const char *why;
	char *out;
	/* "Name:value" comes back as "Name: value" */
	size_t size = s->res_len + s->res.nfields + 64;
	ssize_t n;
	int r;

	why = http_check_switch(&s->res, s->ws.key, s->ws.key_len);
	if (why == NULL)
		why = negotiate_check(s->req.fields, s->req.nfields,
		    s->res.fields, s->res.nfields);
	if (why != NULL) {
		log_msg(LOG_WARNING, "backend %s: %s: no tunnel", s->bend->url,
		    why);
		return reply_error(s, 502, why, NULL);
	}
	if ((out = malloc(size)) == NULL ||
	    (n = rewrite_switch(&s->res, out, size)) <= 0) {
		free(out);
		return reply_error(s, 500, "cannot build the 101", NULL);
	}
	if ((r = write_client(s, out, (size_t)n)) != 0) {
		free(out);
		if (r == CONN_STOPPED)
			return session_stopped(s);
		return session_fail(s, 0, "client-error", s->client.why);
	}
	free(out);
	s->status = 101;
	log_msg(LOG_DEBUG, "backend %s: 101, tunnel open", s->bend->url);
	return 0;
}

void
backend_reverse(const struct session *s, struct reverse *rv)
{
	const struct backend *b = s->bend;

	rv->prefix = s->route->prefix;
	rv->prefix_len = s->route->prefix_len;
	rv->bpath = b->path;
	rv->bpath_len = strlen(b->path);
	rv->bhost = b->is_unix ? "localhost" : b->host;
	rv->bport = b->port;
	rv->front_host = s->ws.host;
	rv->front_host_len = s->ws.host_len;
	rv->front_tls = (s->client.tls != NULL);
	rv->btls = b->tls;
}

/* The rest of a non-101 answer's body, as far as its framing says. */
static void
relay_body(struct session *s, struct http_body *body)
{
	const char *data = s->down + s->res_len;
	size_t len = s->downlen - s->res_len;

	for (;;) {
		ssize_t n = http_body_scan(body, data, len);

		if (n < 0) {
			log_msg(LOG_WARNING, "backend %s: malformed chunked "
			    "body", s->bend->url);
			return;
		}
		if (n > 0 && write_client(s, data, (size_t)n) != 0)
			return;
		s->downbytes += (uint64_t)n;
		if (body->done)
			return;
		/* an idle backend gets as long as a head would */
		while ((n = conn_read(&s->backend, s->down, s->bufsize)) < 0 &&
		    n != CONN_ERR && conn_wait(&s->backend, (int)n,
		    now_ms() + s->cfg->handshake_ms) > 0)
			;
		if (n <= 0)
			return;
		data = s->down;
		len = (size_t)n;
	}
}

static int
relay_answer(struct session *s)
{
	const struct backend *b = s->bend;
	struct reverse rv;
	struct http_body body;
	size_t size;
	char *out;
	ssize_t n;

	if (http_body_init(&s->res, &body) == -1) {
		log_msg(LOG_WARNING, "backend %s: contradictory body framing",
		    b->url);
		return reply_error(s, 502, "bad body framing", NULL);
	}
	backend_reverse(s, &rv);
	size = s->res_len + s->res.nfields * (rv.prefix_len +
	    rv.front_host_len + 17) + 64;
	if ((out = malloc(size)) == NULL ||
	    (n = rewrite_response(&s->res, &rv, out, size)) <= 0) {
		free(out);
		return reply_error(s, 502, "cannot relay the answer", NULL);
	}
	s->status = s->res.status;
	log_msg(LOG_DEBUG, "backend %s: answered %d: relayed, no tunnel",
	    b->url, s->res.status);
	if (write_client(s, out, (size_t)n) == 0)
		relay_body(s, &body);
	free(out);
	session_linger(s);
	if (sig_caught())	/* the body was cut short */
		return session_stopped(s);
	return session_fail(s, s->res.status, "not-upgraded", NULL);
}

/*
 * An interim answer (100, 102, 103 Early Hints) is dropped from the front of
 * the buffer, and what follows it is read as the answer.  It is not relayed:
 * a WebSocket client takes the first status it reads as the answer to its
 * upgrade (Chromium skips 1xx for every request but a WebSocket handshake),
 * and none of them means anything to it: its request has no body to
 * continue, and hints are for loading a page.
 */
static int
skip_interim(struct session *s, size_t len, int *n)
{
	if (++*n > HTTP_MAX_INTERIM) {
		s->res.err.status = 502;
		s->res.err.why = "too many interim responses";
		return HTTP_BAD;
	}
	log_msg(LOG_DEBUG, "backend %s: interim %d skipped", s->bend->url,
	    s->res.status);
	memmove(s->down, s->down + len, s->downlen - len);
	s->downlen -= len;
	memset(&s->res_at, 0, sizeof(s->res_at));
	return 0;
}

/*
 * The backend's answer head, after any interim ones, all within one
 * --handshake-timeout.  The client is watched meanwhile, as in the
 * tunnel: once it has ended its stream (or reset), the backend gets at most
 * --close-timeout more, so that no backend is held long for a client that
 * has gone, while one that only half-closed (printf ... | wstunnel) still
 * gets its answer.
 */
static int
read_answer(struct session *s)
{
	int64_t deadline = now_ms() + s->cfg->handshake_ms, closing;
	int watch = s->client.rfd, ninterim = 0;

	memset(&s->res_at, 0, sizeof(s->res_at));	/* a new head */
	for (;;) {
		int r = conn_read_head(&s->backend, s->down, s->bufsize,
		    &s->downlen, deadline, watch, parse_response, s);

		if (r == CONN_GONE) {
			log_msg(LOG_DEBUG, "client %s: gone while backend %s "
			    "answers", s->peer, s->bend->url);
			closing = now_ms() + s->cfg->close_ms;
			if (closing < deadline)
				deadline = closing;
			watch = -1;
			continue;
		}
		if (r < 0 || !http_is_interim(&s->res))
			return r;
		if (skip_interim(s, (size_t)r, &ninterim) == HTTP_BAD)
			return HTTP_BAD;
	}
}

int
backend_exchange(struct session *s)
{
	int r;

	if (send_request(s) == -1)
		return -1;
	r = read_answer(s);
	if (r == CONN_STOPPED)
		return session_stopped(s);
	if (r == CONN_TIMEOUT)
		return reply_error(s, 504, "backend response timed out", NULL);
	if (r == CONN_EOF || r == CONN_ERR) {
		/* with TLS 1.3 a refused client certificate shows only here */
		const char *why = (r == CONN_ERR && s->backend.why != NULL) ?
		    s->backend.why : "backend closed before answering";
		log_msg(LOG_WARNING, "backend %s: %s", s->bend->url, why);
		return reply_error(s, 502, why, NULL);
	}
	if (r == HTTP_BAD) {
		log_msg(LOG_WARNING, "backend %s: %s", s->bend->url,
		    s->res.err.why);
		return reply_error(s, 502, s->res.err.why, NULL);
	}
	s->res_len = (size_t)r;
	if (s->res.status == 101)
		return open_tunnel(s);
	return relay_answer(s);
}
