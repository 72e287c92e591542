/*
 * Head rewriting, as a reverse proxy does it (RFC 9110 section 7.6.1): the
 * hop-by-hop fields and those the Connection field names go no further, and
 * the backend learns who the client was from X-Forwarded-*.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rewrite.h"
#include "route.h"
#include "util.h"

struct out {
	char	*p;
	size_t	 len, size;
	int	 full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->size - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
puts0(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_field(struct out *o, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	put(o, name, nlen);
	put(o, ": ", 2);
	put(o, v, vlen);
	put(o, "\r\n", 2);
}

static ssize_t
done(struct out *o)
{
	return o->full ? -1 : (ssize_t)o->len;
}

static int
is_one_of(const struct http_field *f, const char *const *names)
{
	for (; *names != NULL; names++)
		if (f->name_len == strlen(*names) &&
		    strncasecmp(f->name, *names, f->name_len) == 0)
			return 1;
	return 0;
}

/* Whether a Connection field of the head names f. */
static int
named_in_connection(const struct http_field *fields, size_t n,
    const struct http_field *f)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fields[i].name_len == 10 &&
		    strncasecmp(fields[i].name, "Connection", 10) == 0 &&
		    http_list_has_token(fields[i].value, fields[i].value_len,
		    f->name, f->name_len))
			return 1;
	return 0;
}

/* Hop-by-hop fields of a request (RFC 9110 section 7.6.1) and the Host
 * wstunnel writes itself. */
static const char *const request_drop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Host", NULL
};

/* What wstunnel tells the backend about the client, and what a backend may
 * take for it: the client's own word is not passed on.  X-Forwarded-For,
 * spelled so, is kept in front of the address wstunnel appends. */
static const char *const client_facts[] = {
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"Forwarded", "X-Real-IP", NULL
};

/* Whether f is one of names as a CGI or WSGI backend reads names: case
 * aside, '_' and '-' are the same (HTTP_X_FORWARDED_FOR), which is why
 * nginx drops names with '_' by default. */
static int
is_one_of_cgi(const struct http_field *f, const char *const *names)
{
	size_t i;

	for (; *names != NULL; names++) {
		if (f->name_len != strlen(*names))
			continue;
		for (i = 0; i < f->name_len; i++)
			if (tolower((unsigned char)(f->name[i] == '_' ? '-' :
			    f->name[i])) != tolower((unsigned char)(*names)[i]))
				break;
		if (i == f->name_len)
			return 1;
	}
	return 0;
}

/* A client could name these in Connection to strip them before the backend
 * sees them, and so bypass the backend's own checks: they always pass, as
 * does every Sec-WebSocket-* field. */
static const char *const end_to_end[] = {
	"Origin", "Cookie", "Authorization", NULL
};

static int
is_end_to_end(const struct http_field *f)
{
	return is_one_of(f, end_to_end) || (f->name_len >= 14 &&
	    strncasecmp(f->name, "Sec-WebSocket-", 14) == 0);
}

/* Whether the client's field f stays behind: hop-by-hop, named in
 * Connection, or what the client says of itself. */
static int
request_drops(const struct http_request *req, const struct http_field *f)
{
	return is_one_of(f, request_drop) || is_one_of_cgi(f, client_facts) ||
	    (!is_end_to_end(f) &&
	    named_in_connection(req->fields, req->nfields, f));
}

static void
put_forwarded_for(struct out *o, const struct http_request *req,
    const char *client)
{
	size_t i;
	int first = 1;

	puts0(o, "X-Forwarded-For: ");
	for (i = 0; i < req->nfields; i++) {
		if (req->fields[i].name_len != 15 || strncasecmp(
		    req->fields[i].name, "X-Forwarded-For", 15) != 0 ||
		    req->fields[i].value_len == 0)
			continue;
		if (!first)
			put(o, ", ", 2);
		put(o, req->fields[i].value, req->fields[i].value_len);
		first = 0;
	}
	if (!first)
		put(o, ", ", 2);
	puts0(o, client);
	put(o, "\r\n", 2);
}

/*
 * A request head for the backend: the method, the mapped target, Host, the
 * client's fields but those that stay behind (and also_drop), the framing
 * and hop fields of this kind of request, then what wstunnel says of the
 * client (X-Forwarded-*).
 */
static ssize_t
put_request(struct out *o, const struct http_request *req,
    const struct forward *fw, const char *const *also_drop, const char *hop)
{
	size_t i;

	put(o, req->method, req->method_len);
	put(o, " ", 1);
	put(o, fw->target, fw->target_len);
	puts0(o, " HTTP/1.1\r\n");
	put_field(o, "Host", 4, fw->host, fw->host_len);
	for (i = 0; i < req->nfields; i++) {
		const struct http_field *f = &req->fields[i];

		if (request_drops(req, f) ||
		    (also_drop != NULL && is_one_of(f, also_drop)))
			continue;
		put_field(o, f->name, f->name_len, f->value, f->value_len);
	}
	puts0(o, hop);
	put_forwarded_for(o, req, fw->client_addr);
	put_field(o, "X-Forwarded-Proto", 17, fw->proto, strlen(fw->proto));
	put_field(o, "X-Forwarded-Host", 16, fw->client_host,
	    fw->client_host_len);
	put(o, "\r\n", 2);
	return done(o);
}

ssize_t
rewrite_request(const struct http_request *req, const struct forward *fw,
    char *buf, size_t size)
{
	struct out o = { buf, 0, size, 0 };

	return put_request(&o, req, fw, NULL,
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n");
}

static void
put_status_line(struct out *o, const struct http_response *res)
{
	char line[16];

	snprintf(line, sizeof(line), "HTTP/1.1 %03d ", res->status);
	puts0(o, line);
	put(o, res->reason, res->reason_len);
	put(o, "\r\n", 2);
}

static const char *const switch_drop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Content-Length", "Proxy-Authenticate", NULL
};
static const char *const upgrade[] = { "Upgrade", NULL };

ssize_t
rewrite_switch(const struct http_response *res, char *buf, size_t size)
{
	struct out o = { buf, 0, size, 0 };
	size_t i;

	put_status_line(&o, res);
	for (i = 0; i < res->nfields; i++) {
		const struct http_field *f = &res->fields[i];

		if (is_one_of(f, switch_drop) || (!is_one_of(f, upgrade) &&
		    named_in_connection(res->fields, res->nfields, f)))
			continue;
		put_field(&o, f->name, f->name_len, f->value, f->value_len);
	}
	puts0(&o, "Connection: Upgrade\r\n\r\n");
	return done(&o);
}

/* The body is relayed as it comes, so its framing fields stay. */
static const char *const response_drop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Upgrade", "Proxy-Authenticate", NULL
};
static const char *const framing[] = {
	"Content-Length", "Transfer-Encoding", NULL
};
static const char *const locations[] = {
	"Location", "Content-Location", NULL
};

/* The default port of a Location scheme wstunnel may rewrite, or -1. */
static int
scheme_port(const char *s, size_t len, int *ws)
{
	*ws = (len == 2 || len == 3) && strncasecmp(s, "ws", 2) == 0;
	if (len == 2 && strncasecmp(s, "ws", 2) == 0)
		return 80;
	if (len == 3 && strncasecmp(s, "wss", 3) == 0)
		return 443;
	if (len == 4 && strncasecmp(s, "http", 4) == 0)
		return 80;
	if (len == 5 && strncasecmp(s, "https", 5) == 0)
		return 443;
	return -1;
}

/* Whether the authority [a, a+len) names the backend.  A port left out or
 * empty is defport (RFC 3986 section 6.2.3), and ports compare as numbers,
 * as the backend's own is kept: ":08000" is the backend's ":8000". */
static int
same_authority(const char *a, size_t len, int defport,
    const struct reverse *rv)
{
	const char *end = a + len, *h = a, *hend;
	int port = defport;

	if (len > 0 && *a == '[') {
		if ((hend = memchr(a, ']', len)) == NULL)
			return 0;
		h = a + 1;
		a = hend + 1;
	} else {
		if ((hend = memchr(a, ':', len)) == NULL)
			hend = end;
		a = hend;
	}
	if (a < end) {
		if (*a != ':')
			return 0;
		if (end - a > 1 && (port = port_number(a + 1, end - a - 1)) == -1)
			return 0;
	}
	return (size_t)(hend - h) == strlen(rv->bhost) &&
	    strncasecmp(h, rv->bhost, hend - h) == 0 &&
	    port == port_number(rv->bport, strlen(rv->bport));
}

/*
 * A URL the backend gave rewritten as ProxyPassReverse does: its length in
 * buf, 0 when it is not under the backend URL.  A network-path reference
 * ("//host:port/p", RFC 3986 section 4.2) names the backend as an absolute
 * URL does, with the backend's scheme, and stays one: the client resolves
 * it with its own.
 */
ssize_t
rewrite_url(const char *v, size_t len, const struct reverse *rv, char *buf,
    size_t size)
{
	struct out o = { buf, 0, size, 0 };
	const char *end = v + len, *a, *p, *scheme = NULL;
	char path[HTTP_MAX_LINE + 512];
	ssize_t n;
	int defport, ws;

	if (end - v >= 2 && v[0] == '/' && v[1] == '/') {
		a = v + 2;
		defport = rv->btls ? 443 : 80;
	} else if (v < end && *v == '/') {
		n = route_unmap(rv->prefix, rv->prefix_len, rv->bpath,
		    rv->bpath_len, v, end - v, path, sizeof(path));
		if (n <= 0)
			return 0;
		put(&o, path, n);
		return done(&o);
	} else {
		if ((a = memchr(v, ':', end - v)) == NULL || end - a < 3 ||
		    memcmp(a, "://", 3) != 0 ||
		    (defport = scheme_port(v, a - v, &ws)) == -1)
			return 0;
		a += 3;
		scheme = ws ? "ws" : "http";
	}
	for (p = a; p < end && *p != '/' && *p != '?'; p++)
		;
	if (!same_authority(a, p - a, defport, rv))
		return 0;
	n = route_unmap(rv->prefix, rv->prefix_len, rv->bpath, rv->bpath_len,
	    p < end ? p : "/", p < end ? (size_t)(end - p) : 1, path,
	    sizeof(path));
	if (n <= 0)
		return 0;
	if (scheme != NULL) {
		puts0(&o, scheme);
		puts0(&o, rv->front_tls ? "s:" : ":");
	}
	put(&o, "//", 2);
	put(&o, rv->front_host, rv->front_host_len);
	put(&o, path, n);
	return done(&o);
}

/* Location rewritten as ProxyPassReverse does: 1 when it was, 0 when it is
 * not under the backend URL. */
static int
put_location(struct out *o, const struct http_field *f,
    const struct reverse *rv)
{
	char url[HTTP_MAX_LINE + 1024];
	ssize_t n = rewrite_url(f->value, f->value_len, rv, url, sizeof(url));

	if (n <= 0)
		return 0;
	put_field(o, f->name, f->name_len, url, n);
	return 1;
}

/*
 * Plain HTTP under --http: the method and the body pass, re-framed by
 * wstunnel (framing is "Content-Length: N\r\n", "Transfer-Encoding:
 * chunked\r\n" or ""), and the backend connection serves this one request.
 * Expect is answered by wstunnel itself.
 */
static const char *const plain_drop[] = {
	"Content-Length", "Expect", NULL
};

ssize_t
rewrite_plain_request(const struct http_request *req,
    const struct forward *fw, const char *body_framing, char *buf, size_t size)
{
	struct out o = { buf, 0, size, 0 };
	char hop[128];

	snprintf(hop, sizeof(hop), "%sConnection: close\r\n", body_framing);
	return put_request(&o, req, fw, plain_drop, hop);
}

/* The URL of "Refresh: 5; url=http://backend/x" (a de facto field that
 * HTML's meta refresh defines); 1 when it was rewritten. */
static int
put_refresh(struct out *o, const struct http_field *f,
    const struct reverse *rv)
{
	const char *v = f->value, *end = v + f->value_len, *u, *ue;
	char url[HTTP_MAX_LINE + 1024];
	ssize_t n;

	if ((u = memchr(v, ';', end - v)) == NULL)
		return 0;
	for (u++; u < end && is_ows(*u); u++)
		;
	if (end - u > 3 && strncasecmp(u, "url", 3) == 0) {
		const char *eq = u + 3;

		while (eq < end && is_ows(*eq))
			eq++;
		if (eq < end && *eq == '=')
			for (u = eq + 1; u < end && is_ows(*u); u++)
				;
	}
	ue = end;
	if (u < end && (*u == '\'' || *u == '"')) {
		if (ue - u < 2 || ue[-1] != *u)
			return 0;
		u++;
		ue--;
	}
	n = rewrite_url(u, ue - u, rv, url, sizeof(url));
	if (n <= 0)
		return 0;
	put(o, f->name, f->name_len);
	put(o, ": ", 2);
	put(o, v, u - v);
	put(o, url, n);
	put(o, ue, end - ue);
	put(o, "\r\n", 2);
	return 1;
}

static const char *const refresh[] = { "Refresh", NULL };

/* The status line and the backend's fields for the client: hop-by-hop
 * fields dropped, Location and Content-Location (and, for a plain answer,
 * Refresh) mapped back. */
static void
put_response_head(struct out *o, const struct http_response *res,
    const struct reverse *rv, int plain)
{
	size_t i;

	put_status_line(o, res);
	for (i = 0; i < res->nfields; i++) {
		const struct http_field *f = &res->fields[i];

		if (is_one_of(f, response_drop) || (!is_one_of(f, framing) &&
		    named_in_connection(res->fields, res->nfields, f)))
			continue;
		if (is_one_of(f, locations) && put_location(o, f, rv))
			continue;
		if (plain && is_one_of(f, refresh) && put_refresh(o, f, rv))
			continue;
		put_field(o, f->name, f->name_len, f->value, f->value_len);
	}
}

ssize_t
rewrite_response(const struct http_response *res, const struct reverse *rv,
    char *buf, size_t size)
{
	struct out o = { buf, 0, size, 0 };

	put_response_head(&o, res, rv, 0);
	puts0(&o, "Connection: close\r\n\r\n");
	return done(&o);
}

ssize_t
rewrite_plain_response(const struct http_response *res,
    const struct reverse *rv, int keep, char *buf, size_t size)
{
	struct out o = { buf, 0, size, 0 };

	put_response_head(&o, res, rv, 1);
	if (!keep)
		puts0(&o, "Connection: close\r\n");
	put(&o, "\r\n", 2);
	return done(&o);
}

const char *
http_reason(int status)
{
	static const struct {
		int		 status;
		const char	*reason;
	} reasons[] = {
		{ 101, "Switching Protocols" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 429, "Too Many Requests" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 414, "URI Too Long" }, { 417, "Expectation Failed" },
		{ 426, "Upgrade Required" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < nitems(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Error";
}

ssize_t
rewrite_error(const struct http_error *e, char *buf, size_t size)
{
	char body[256], head[1024];
	int n, blen;

	/* a gateway's reasons name backends: the client learns only the
	 * status, the log has the rest */
	if (e->status >= 500 || e->why == NULL)
		blen = snprintf(body, sizeof(body), "%d %s\n", e->status,
		    http_reason(e->status));
	else
		blen = snprintf(body, sizeof(body), "%d %s: %s\n", e->status,
		    http_reason(e->status), e->why);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -1;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n"
	    "%s\r\n%s", e->status, http_reason(e->status), blen,
	    e->extra != NULL ? e->extra : "", body);
	if (n < 0 || (size_t)n >= sizeof(head) || (size_t)n > size)
		return -1;
	memcpy(buf, head, n);
	return n;
}
