/*
 * The plain HTTP exchange of --http (RFC 9112): one request, one backend
 * connection, the answer relayed as it comes.  Only framing that no two
 * parsers could read two ways gets this far (reqbody.c); the backend gets
 * the body re-framed by wstunnel and "Connection: close", so nothing the
 * client sent after this request's body can reach this backend connection.
 * Every wait is bounded: the client's body and the backend's answer each
 * by --handshake-timeout without progress, the next request by
 * --http-idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "httpx.h"
#include "limit.h"
#include "log.h"
#include "rewrite.h"
#include "route.h"
#include "sig.h"
#include "state.h"
#include "tls.h"
#include "util.h"

#define CHUNK_HEAD	24		/* "%zx\r\n" and the CRLF after */

int
httpx_applies(struct session *s)
{
	const struct config *cfg = s->cfg;
	int i;

	/* the head's bytes are gone when the access line is written */
	snprintf(s->method, sizeof(s->method), "%.*s",
	    (int)(s->req.method_len < sizeof(s->method) ? s->req.method_len :
	    0), s->req.method);
	if (!cfg->http || http_is_upgrade(&s->req))
		return 0;
	if (cfg->http_all)
		return 1;
	/* only a route with --http-route changes the answer; any other
	 * request is refused as the contract says */
	if (s->req.target[0] != '/' || route_normalize(s->req.target,
	    s->req.target_len, s->target, &s->target_len) != NULL)
		return 0;
	i = route_match(cfg->routes, cfg->nroutes, s->target, s->target_len);
	return i >= 0 && cfg->routes[i].http;
}

/*
 * The body bytes that came with the head are checked before any backend
 * is dialled: a malformed chunk there (a size that overflows, a hidden
 * second request behind a bad size line) never reaches a backend.  Bytes
 * that arrive later are checked as they are streamed.
 */
static int
prescan(struct session *s)
{
	struct reqbody b = s->body;
	const char *p = s->up + s->head_len, *data;
	size_t len = s->uplen - s->head_len, dlen;
	ssize_t n = 0;

	while (len > 0 && !b.done &&
	    (n = reqbody_decode(&b, p, len, &data, &dlen)) > 0) {
		p += n;
		len -= (size_t)n;
	}
	return n < 0 ? reply_error(s, 400, "malformed chunked body", NULL) : 0;
}

int
httpx_framing(struct session *s)
{
	const struct http_field *f = s->req.fields;
	size_t n = s->req.nfields;
	const char *why;
	int i;

	if (reqbody_init(&s->req, &s->body, &why) == -1)
		return reply_error(s, 400, why, NULL);
	s->expect = 0;
	if ((i = http_field_find(f, n, 0, "Expect")) >= 0) {
		/* RFC 9110 section 10.1.1: 100-continue is the only
		 * expectation there is */
		if (f[i].value_len != 12 || strncasecmp(f[i].value,
		    "100-continue", 12) != 0 ||
		    http_field_find(f, n, i + 1, "Expect") >= 0)
			return reply_error(s, 417, "unknown expectation", NULL);
		s->expect = 1;
	}
	s->keep = !http_field_has_token(f, n, "Connection", "close");
	return prescan(s);
}

static int
parse_response(const char *buf, size_t len, void *arg)
{
	struct session *s = arg;

	return http_resume_response(buf, len, HTTP_MAX_RESPONSE_HEAD, &s->res,
	    &s->res_at);
}

static int64_t
stall_deadline(const struct session *s)
{
	return now_ms() + s->cfg->handshake_ms;
}

/* The request head for the backend, in *out (large enough by
 * construction: the client's head and what is added to it). */
static ssize_t
build_head(struct session *s, char **out)
{
	struct forward fw;
	char mapped[HTTP_MAX_LINE + 1024], framing[64] = "";
	size_t size;

	if (backend_forward(s, &fw, mapped, sizeof(mapped)) == -1)
		return -1;
	if (s->body.kind == REQBODY_LENGTH)
		snprintf(framing, sizeof(framing), "Content-Length: %llu\r\n",
		    (unsigned long long)s->body.length);
	else if (s->body.kind == REQBODY_CHUNKED)
		snprintf(framing, sizeof(framing),
		    "Transfer-Encoding: chunked\r\n");
	size = s->head_len + fw.target_len + fw.host_len +
	    fw.client_host_len + strlen(fw.client_addr) +
	    2 * s->req.nfields + 320;
	if ((*out = malloc(size)) == NULL)
		return -1;
	return rewrite_plain_request(&s->req, &fw, framing, *out, size);
}

/* One piece of body data to the backend, chunked again if it came so. */
static int
send_data(struct session *s, const char *data, size_t len)
{
	char head[CHUNK_HEAD];
	int n;

	s->upbytes += len;
	if (s->body.kind != REQBODY_CHUNKED)
		return conn_write_all(&s->backend, data, len,
		    stall_deadline(s));
	n = snprintf(head, sizeof(head), "%zx\r\n", len);
	if (conn_write_all(&s->backend, head, (size_t)n,
	    stall_deadline(s)) != 0 || conn_write_all(&s->backend, data, len,
	    stall_deadline(s)) != 0)
		return -1;
	return conn_write_all(&s->backend, "\r\n", 2, stall_deadline(s));
}

/*
 * The request body, decoded from s->up as it arrives and sent on.  What
 * follows the body (a pipelined next request) is left at the start of
 * s->up.  0; -1 on the client's fault (answered); 1 when the backend
 * stopped taking it.
 */
static int
send_body(struct session *s)
{
	struct reqbody *b = &s->body;
	char *base = s->up + s->head_len, *p = base;
	size_t len = s->uplen - s->head_len, dlen;
	const char *data;
	ssize_t n;

	while (!b->done) {
		while (len > 0 && !b->done) {
			if ((n = reqbody_decode(b, p, len, &data, &dlen)) < 0)
				return reply_error(s, 400,
				    "malformed chunked body", NULL);
			if (dlen > 0 && send_data(s, data, dlen) != 0)
				return 1;
			p += n;
			len -= (size_t)n;
		}
		if (b->done)
			break;
		/* the head stays where it is: the answer needs it */
		p = base;
		while ((n = conn_read(&s->client, base, s->bufsize -
		    s->head_len)) < 0 && n != CONN_ERR &&
		    conn_wait(&s->client, (int)n, stall_deadline(s)) > 0)
			;
		if (n <= 0 && sig_caught())
			return session_stopped(s);
		if (n <= 0)
			return n == 0 ? reply_error(s, 400, "request body cut "
			    "short", NULL) : session_fail(s, 0, "client-error",
			    "request body not received");
		len = (size_t)n;
	}
	if (b->kind == REQBODY_CHUNKED && conn_write_all(&s->backend,
	    "0\r\n\r\n", 5, stall_deadline(s)) != 0)
		return 1;
	/* what follows is the next request, moved up by httpx_next() */
	s->head_len = (size_t)(p - s->up);
	s->uplen = s->head_len + len;
	return 0;
}

/* The backend's final answer head: interim 1xx answers are dropped (the
 * client got its 100 from wstunnel), a 101 to a plain request is bad. */
static int
read_head(struct session *s)
{
	int64_t deadline = stall_deadline(s);	/* for all of them */
	int r, interim = 0;

	s->downlen = 0;
	for (;;) {
		memset(&s->res_at, 0, sizeof(s->res_at));
		r = conn_read_head(&s->backend, s->down, s->bufsize,
		    &s->downlen, deadline, -1, parse_response, s);
		if (r == CONN_STOPPED)
			return session_stopped(s);
		if (r == CONN_TIMEOUT)
			return reply_error(s, 504, "backend response timed out",
			    NULL);
		if (r < 0) {
			log_msg(LOG_WARNING, "backend %s: %s", s->bend->url,
			    r == HTTP_BAD ? s->res.err.why :
			    "closed before answering");
			return reply_error(s, 502, r == HTTP_BAD ?
			    s->res.err.why : "backend closed", NULL);
		}
		if (s->res.status >= 200)
			break;
		if (s->res.status == 101)
			return reply_error(s, 502, "101 to a plain request",
			    NULL);
		if (++interim > HTTP_MAX_INTERIM)
			return reply_error(s, 502, "too many interim responses",
			    NULL);
		memmove(s->down, s->down + r, s->downlen - (size_t)r);
		s->downlen -= (size_t)r;
	}
	s->res_len = (size_t)r;
	return 0;
}

/* The answer's head for the client, Location and the like mapped back. */
static int
send_head(struct session *s)
{
	struct reverse rv;
	size_t size;
	char *out;
	ssize_t n;
	int r;

	backend_reverse(s, &rv);
	size = s->res_len + s->res.nfields * (rv.prefix_len +
	    rv.front_host_len + 32) + 128;
	if ((out = malloc(size)) == NULL ||
	    (n = rewrite_plain_response(&s->res, &rv, s->keep, out,
	    size)) <= 0) {
		free(out);
		return reply_error(s, 502, "cannot relay the answer", NULL);
	}
	s->status = s->res.status;
	r = conn_write_all(&s->client, out, (size_t)n, stall_deadline(s));
	free(out);
	if (r != 0 && sig_caught())
		return session_stopped(s);
	return r == 0 ? 0 : session_fail(s, s->status, "client-error",
	    s->client.why);
}

/* The answer's body as it comes, a buffer at a time: the backend is read
 * only once the client has taken the last piece (flow control). */
static int
relay_body(struct session *s, struct http_body *body)
{
	const char *data = s->down + s->res_len;
	size_t len = s->downlen - s->res_len;

	while (!body->done) {
		ssize_t n = http_body_scan(body, data, len);

		if (n < 0) {
			log_msg(LOG_WARNING, "backend %s: malformed chunked "
			    "body: cut", s->bend->url);
			return session_fail(s, s->status, "backend-error",
			    "malformed chunked body");
		}
		if (n > 0 && conn_write_all(&s->client, data, (size_t)n,
		    stall_deadline(s)) != 0)
			return sig_caught() ? session_stopped(s) :
			    session_fail(s, s->status, "client-error",
			    "answer not taken");
		s->downbytes += (uint64_t)n;
		if (body->done)
			break;
		while ((n = conn_read(&s->backend, s->down, s->bufsize)) < 0 &&
		    n != CONN_ERR && conn_wait(&s->backend, (int)n,
		    stall_deadline(s)) > 0)
			;
		if (n == 0 && body->kind == HTTP_BODY_EOF)
			return 0;
		if (n < 0 && sig_caught())
			return session_stopped(s);
		if (n <= 0)
			return session_fail(s, s->status, n == 0 ?
			    "backend-closed" : "timeout",
			    "answer cut short");
		data = s->down;
		len = (size_t)n;
	}
	return 0;
}

static void
backend_close(struct session *s)
{
	if (s->backend.tls != NULL)
		tls->free(&s->backend);
	if (s->backend.rfd > STDERR_FILENO)
		close(s->backend.rfd);
	s->backend.rfd = s->backend.wfd = -1;
	state_release();
}

void
httpx_log(struct session *s)
{
	session_log(s);
	s->logged = 1;
}

static int
exchange(struct session *s)
{
	struct http_body body;
	char *out = NULL;
	ssize_t n;
	int r;

	if ((n = build_head(s, &out)) <= 0) {
		free(out);
		return reply_error(s, 500, "cannot build the request", NULL);
	}
	r = conn_write_all(&s->backend, out, (size_t)n, stall_deadline(s));
	free(out);
	if (r != 0)
		return reply_error(s, 502, "backend did not take the request",
		    NULL);
	if (s->expect && !s->body.done && conn_write_all(&s->client,
	    "HTTP/1.1 100 Continue\r\n\r\n", 25, stall_deadline(s)) != 0)
		return session_fail(s, 0, "client-error", s->client.why);
	if ((r = send_body(s)) == -1)
		return -1;
	if (r == 1)	/* its answer may still say why; no next request */
		s->keep = 0;
	if (read_head(s) == -1)
		return -1;
	/* a response whose framing two readers could disagree on is cut,
	 * never relayed */
	if (http_body_init(&s->res, &body) == -1) {
		log_msg(LOG_WARNING, "backend %s: contradictory body framing",
		    s->bend->url);
		return reply_error(s, 502, "bad body framing", NULL);
	}
	if (strcmp(s->method, "HEAD") == 0) {
		body.kind = HTTP_BODY_NONE;
		body.done = 1;
	}
	if (body.kind == HTTP_BODY_EOF || ++s->nplain >= s->cfg->http_requests)
		s->keep = 0;
	if (send_head(s) == -1)
		return -1;
	return relay_body(s, &body);
}

int
httpx_exchange(struct session *s)
{
	int r = exchange(s);

	backend_close(s);
	if (r == -1)		/* its line comes with the session's end */
		return -1;
	limit_release();	/* answered: no longer one of the client's */
	httpx_log(s);
	if (s->keep)
		return 0;
	s->end = "client-closed";
	session_linger(s);
	return -1;
}

/* The state of one request, cleared for the next. */
static void
request_reset(struct session *s)
{
	s->start = now_ms();
	s->head_deadline = s->start + s->cfg->handshake_ms;
	s->status = 0;
	s->end = s->why = NULL;
	s->logged = 0;
	s->path_len = 0;
	s->downlen = s->res_len = 0;
	s->upbytes = s->downbytes = 0;
	s->baddr[0] = '\0';
	s->route = NULL;
	s->bend = NULL;
	s->req.target = NULL;
	s->denied = NULL;
	s->wsinfo[0] = '\0';
	memset(&s->req_at, 0, sizeof(s->req_at));	/* a new head */
	s->method[0] = '\0';
}

int
httpx_next(struct session *s)
{
	int64_t deadline = now_ms() + s->cfg->http_idle_ms;

	memmove(s->up, s->up + s->head_len, s->uplen - s->head_len);
	s->uplen -= s->head_len;
	s->head_len = 0;
	while (s->uplen == 0) {
		ssize_t n = conn_read(&s->client, s->up, s->bufsize);
		if (n > 0) {
			s->uplen = (size_t)n;
			break;
		}
		if (n == 0 || n == CONN_ERR)
			s->end = n == 0 ? "client-closed" : "client-error";
		else if (conn_wait(&s->client, (int)n, deadline) <= 0)
			s->end = "keep-alive-timeout";
		else
			continue;
		session_linger(s);
		return -1;
	}
	request_reset(s);
	return 0;
}
