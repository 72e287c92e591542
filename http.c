/*
 * HTTP/1.1 head parsing (RFC 9110, RFC 9112) for the WebSocket opening
 * handshake (RFC 6455).  Strict on purpose: whatever this parser accepts is
 * re-serialised for the backend, so anything two parsers could read two ways
 * (obs-fold, bare CR or LF, whitespace before a colon) is refused.
 */
#include <resolv.h>
#include <sha1.h>
#include <string.h>
#include <strings.h>

#include "host.h"
#include "http.h"
#include "util.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int
fail(struct http_error *e, int status, const char *why, const char *extra)
{
	e->status = status;
	e->why = why;
	e->extra = extra;
	return HTTP_BAD;
}

int
http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP and HTAB; obs-text is allowed and passed on unchanged */
static int
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
bad_value_char(struct http_error *e, unsigned char c)
{
	if (c == '\r')
		return fail(e, 400, "bare CR in header", NULL);
	if (c == '\0')
		return fail(e, 400, "NUL in header", NULL);
	return fail(e, 400, "control character in header", NULL);
}

/* One field line [p, cr): name ":" OWS value OWS. */
static int
parse_field(const char *p, const char *cr, struct http_field *f,
    struct http_error *e)
{
	const char *q = p, *v, *end;

	if (is_ows(*p))
		return fail(e, 400, "obsolete line folding", NULL);
	while (q < cr && http_is_tchar(*q))
		q++;
	if (q == cr)
		return fail(e, 400, "header line without colon", NULL);
	if (*q != ':') {
		if (is_ows(*q))
			return fail(e, 400, "whitespace before colon", NULL);
		return fail(e, 400, "invalid header name", NULL);
	}
	if (q == p)
		return fail(e, 400, "empty header name", NULL);
	f->name = p;
	f->name_len = q - p;
	for (q++; q < cr && is_ows(*q); q++)
		;
	for (v = q; q < cr; q++)
		if (!is_value_char(*q))
			return bad_value_char(e, *q);
	for (end = cr; end > v && is_ows(end[-1]); end--)
		;
	f->value = v;
	f->value_len = end - v;
	return 0;
}

/* Whether the unfinished line [p, end) already holds a byte no line may: a
 * NUL, or a CR that is not its last byte. */
static int
partial_line_bad(const char *p, const char *end, struct http_error *e)
{
	const char *cr = memchr(p, '\r', end - p);

	if (memchr(p, '\0', end - p) != NULL)
		fail(e, 400, "NUL in header", NULL);
	else if (cr != NULL && cr + 1 < end)
		fail(e, 400, "bare CR in header", NULL);
	else
		return 0;
	return 1;
}

/*
 * The field lines from rs->line up to and including the empty line.  Returns
 * the length of the whole head counted from buf.  Only the bytes after
 * rs->seen are looked at for the end of the unfinished line: those before
 * were, in the call that returned HTTP_INCOMPLETE.
 */
static int
parse_fields(const char *buf, size_t len, size_t max_head,
    struct http_field *f, size_t *nf, struct http_error *e,
    struct http_resume *rs, const char *too_large)
{
	for (;;) {
		const char *p = buf + rs->line, *from = buf +
		    (rs->seen > rs->line ? rs->seen : rs->line);
		const char *lf = memchr(from, '\n', buf + len - from);

		if (lf == NULL) {
			if (len > max_head)
				return fail(e, 431, too_large, NULL);
			/* a CR that ended the bytes seen may now have company */
			if (partial_line_bad(from > p ? from - 1 : p, buf + len,
			    e))
				return HTTP_BAD;
			rs->seen = len;
			return HTTP_INCOMPLETE;
		}
		if ((size_t)(lf + 1 - buf) > max_head)
			return fail(e, 431, too_large, NULL);
		if (lf == p || lf[-1] != '\r')
			return fail(e, 400, "bare LF in header", NULL);
		if (lf - 1 == p)
			return lf + 1 - buf;
		if (*nf == HTTP_MAX_FIELDS)
			return fail(e, 431, "too many header fields", NULL);
		if (parse_field(p, lf - 1, &f[*nf], e) == -1)
			return HTTP_BAD;
		(*nf)++;
		rs->line = rs->seen = (size_t)(lf + 1 - buf);
	}
}

/* "HTTP/" DIGIT "." DIGIT, exactly. */
static int
parse_version(const char *p, size_t len, int *major, int *minor)
{
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return -1;
	*major = p[5] - '0';
	*minor = p[7] - '0';
	return 0;
}

/* method SP request-target SP HTTP-version, in [p, cr) */
static int
parse_request_line(const char *p, const char *cr, struct http_request *req)
{
	const char *q = p;

	while (q < cr && http_is_tchar(*q))
		q++;
	if (q == p || q == cr || *q != ' ')
		return fail(&req->err, 400, "malformed request line", NULL);
	req->method = p;
	req->method_len = q - p;
	for (p = ++q; q < cr && *q > 0x20 && *q < 0x7f; q++)
		;
	if (q == p || q == cr || *q != ' ')
		return fail(&req->err, 400, "malformed request line", NULL);
	req->target = p;
	req->target_len = q - p;
	q++;
	if (parse_version(q, cr - q, &req->major, &req->minor) == -1)
		return fail(&req->err, 400, "malformed HTTP version", NULL);
	return 0;
}

/*
 * The request line, re-read from the start until it is complete: it is at
 * most HTTP_MAX_LINE long.  Returns its length with its CRLF.
 */
static int
request_line(const char *buf, size_t len, size_t max_head,
    struct http_request *req)
{
	const char *lf;
	size_t line;

	lf = memchr(buf, '\n', len);
	line = (lf != NULL ? (size_t)(lf - buf) : len);
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	/* what no request line may hold is refused whatever its length, so
	 * the answer does not depend on how the bytes arrived */
	if (memchr(buf, '\0', line) != NULL)
		return fail(&req->err, 400, "NUL in request line", NULL);
	if (line > HTTP_MAX_LINE)
		return fail(&req->err, 414, "request line too long", NULL);
	if (lf == NULL) {
		if (len > max_head)
			return fail(&req->err, 431, "request head too large",
			    NULL);
		if (partial_line_bad(buf, buf + len, &req->err))
			return HTTP_BAD;
		return HTTP_INCOMPLETE;
	}
	if (lf == buf || lf[-1] != '\r')
		return fail(&req->err, 400, "bare LF in request line", NULL);
	if (memchr(buf, '\r', line) != NULL)
		return fail(&req->err, 400, "bare CR in request line", NULL);
	if (parse_request_line(buf, lf - 1, req) == -1)
		return HTTP_BAD;
	return lf + 1 - buf;
}

int
http_resume_request(const char *buf, size_t len, size_t max_head,
    struct http_request *req, struct http_resume *rs)
{
	if (rs->line == 0) {
		int r;

		req->nfields = 0;
		if ((r = request_line(buf, len, max_head, req)) < 0)
			return r;
		rs->line = rs->seen = (size_t)r;
	}
	return parse_fields(buf, len, max_head, req->fields, &req->nfields,
	    &req->err, rs, "request head too large");
}

int
http_parse_request(const char *buf, size_t len, size_t max_head,
    struct http_request *req)
{
	struct http_resume rs = { 0, 0 };

	return http_resume_request(buf, len, max_head, req, &rs);
}

/* HTTP-version SP 3DIGIT SP reason-phrase; the SP before an empty reason is
 * often left out, so it is optional. */
static int
parse_status_line(const char *p, const char *cr, struct http_response *res)
{
	const char *q;

	if (cr - p < 12 || p[8] != ' ' ||
	    parse_version(p, 8, &res->major, &res->minor) == -1)
		return fail(&res->err, 502, "malformed status line", NULL);
	q = p + 9;
	if (q[0] < '1' || q[0] > '5' || q[1] < '0' || q[1] > '9' ||
	    q[2] < '0' || q[2] > '9')
		return fail(&res->err, 502, "malformed status code", NULL);
	res->status = (q[0] - '0') * 100 + (q[1] - '0') * 10 + (q[2] - '0');
	q += 3;
	if (q < cr && *q++ != ' ')
		return fail(&res->err, 502, "malformed status line", NULL);
	res->reason = q;
	res->reason_len = cr - q;
	for (; q < cr; q++)
		if (!is_value_char(*q))
			return fail(&res->err, 502, "control character in "
			    "status line", NULL);
	return 0;
}

int
http_resume_response(const char *buf, size_t len, size_t max_head,
    struct http_response *res, struct http_resume *rs)
{
	int r;

	if (rs->line == 0) {
		const char *lf = memchr(buf + rs->seen, '\n', len - rs->seen);

		res->nfields = 0;
		if (lf == NULL) {
			if (len > max_head)
				return fail(&res->err, 502,
				    "response head too large", NULL);
			rs->seen = len;
			return HTTP_INCOMPLETE;
		}
		if (lf == buf || lf[-1] != '\r')
			return fail(&res->err, 502, "bare LF in status line",
			    NULL);
		if (parse_status_line(buf, lf - 1, res) == -1)
			return HTTP_BAD;
		rs->line = rs->seen = (size_t)(lf + 1 - buf);
	}
	r = parse_fields(buf, len, max_head, res->fields, &res->nfields,
	    &res->err, rs, "response head too large");
	if (r == HTTP_BAD)	/* a backend's bad head is the gateway's 502 */
		res->err.status = 502;
	return r;
}

int
http_parse_response(const char *buf, size_t len, size_t max_head,
    struct http_response *res)
{
	struct http_resume rs = { 0, 0 };

	return http_resume_response(buf, len, max_head, res, &rs);
}

int
http_is_interim(const struct http_response *res)
{
	return res->status >= 100 && res->status <= 199 && res->status != 101;
}

static int
name_is(const struct http_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

int
http_field_find(const struct http_field *f, size_t n, size_t from,
    const char *name)
{
	size_t i;

	for (i = from; i < n; i++)
		if (name_is(&f[i], name))
			return (int)i;
	return -1;
}

int
http_list_has_token(const char *v, size_t len, const char *token, size_t tlen)
{
	const char *end = v + len, *e, *t;

	while (v < end) {
		while (v < end && (is_ows(*v) || *v == ','))
			v++;
		for (t = v; t < end && *t != ','; t++)
			;
		for (e = t; e > v && is_ows(e[-1]); e--)
			;
		if ((size_t)(e - v) == tlen && strncasecmp(v, token, tlen) == 0)
			return 1;
		v = t;
	}
	return 0;
}

int
http_field_has_token(const struct http_field *f, size_t n, const char *name,
    const char *token)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (name_is(&f[i], name) &&
		    http_list_has_token(f[i].value, f[i].value_len, token,
		    strlen(token)))
			return 1;
	return 0;
}

/* The only field called name; -1 when absent, -2 when repeated. */
static int
field_single(const struct http_field *f, size_t n, const char *name)
{
	int i = http_field_find(f, n, 0, name);

	if (i >= 0 && http_field_find(f, n, i + 1, name) >= 0)
		return -2;
	return i;
}

/* base64 of exactly 16 bytes: 22 characters, then "==" (RFC 6455 4.1) */
static int
valid_key(const char *p, size_t len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char s[25];
	unsigned char raw[18];
	size_t i;

	if (len != 24 || p[22] != '=' || p[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (p[i] == '\0' || strchr(b64, p[i]) == NULL)
			return 0;
	memcpy(s, p, 24);
	s[24] = '\0';
	/* b64_pton also refuses stray bits in the last character */
	return b64_pton(s, raw, sizeof(raw)) == 16;
}

static int
check_headers(struct http_request *req, struct ws_request *ws)
{
	const struct http_field *f = req->fields;
	size_t n = req->nfields;
	struct http_error *e = &req->err;
	int i;

	if ((i = field_single(f, n, "Host")) < 0)
		return fail(e, 400, i == -1 ? "missing Host" :
		    "duplicate Host", NULL);
	if (!host_valid(f[i].value, f[i].value_len))
		return fail(e, 400, "invalid Host", NULL);
	ws->host = f[i].value;
	ws->host_len = f[i].value_len;
	if ((i = field_single(f, n, "Content-Length")) == -2 || (i >= 0 &&
	    (f[i].value_len != 1 || f[i].value[0] != '0')))
		return fail(e, 400, "request with a body", NULL);
	if (http_field_find(f, n, 0, "Transfer-Encoding") >= 0)
		return fail(e, 400, "request with a body", NULL);
	if (!http_field_has_token(f, n, "Upgrade", "websocket"))
		return fail(e, 426, "not a WebSocket upgrade",
		    "Upgrade: websocket\r\n");
	if (!http_field_has_token(f, n, "Connection", "upgrade"))
		return fail(e, 400, "Connection without upgrade", NULL);
	if ((i = field_single(f, n, "Sec-WebSocket-Version")) < 0 ||
	    f[i].value_len != 2 || memcmp(f[i].value, "13", 2) != 0)
		return fail(e, 426, "unsupported WebSocket version",
		    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
	if ((i = field_single(f, n, "Sec-WebSocket-Key")) < 0 ||
	    !valid_key(f[i].value, f[i].value_len))
		return fail(e, 400, "invalid Sec-WebSocket-Key", NULL);
	ws->key = f[i].value;
	ws->key_len = f[i].value_len;
	return 0;
}

static int
plain_method(const char *m, size_t len)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"
	};
	size_t i;

	for (i = 0; i < nitems(methods); i++)
		if (len == strlen(methods[i]) && memcmp(m, methods[i], len) == 0)
			return 1;
	return 0;
}

/* The request line: HTTP/1.1, a method this kind of request may have, a
 * target in origin-form. */
static int
check_start(struct http_request *req, struct ws_request *ws, int plain)
{
	memset(ws, 0, sizeof(*ws));
	if (req->major != 1)
		return fail(&req->err, 505, "HTTP version not supported",
		    NULL);
	if (req->minor != 1)
		return fail(&req->err, 400, "HTTP/1.1 required", NULL);
	if (plain ? !plain_method(req->method, req->method_len) :
	    (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0))
		return fail(&req->err, 405, "method not allowed", plain ?
		    "Allow: " HTTP_PLAIN_METHODS "\r\n" : "Allow: GET\r\n");
	if (req->target[0] != '/')
		return fail(&req->err, 400, "target not in origin-form", NULL);
	return 0;
}

/* Every Origin counted, the first kept (access.c refuses more than one). */
static void
collect_origin(const struct http_request *req, struct ws_request *ws)
{
	const struct http_field *f = req->fields;
	int i;

	for (i = 0; (i = http_field_find(f, req->nfields, i, "Origin")) >= 0;
	    i++) {
		if (ws->norigin++ == 0) {
			ws->origin = f[i].value;
			ws->origin_len = f[i].value_len;
		}
	}
}

int
http_check_upgrade(struct http_request *req, struct ws_request *ws)
{
	if (check_start(req, ws, 0) == HTTP_BAD ||
	    check_headers(req, ws) == HTTP_BAD)
		return HTTP_BAD;
	collect_origin(req, ws);
	return 0;
}

void
http_ws_accept(const char *key, size_t key_len, char out[29])
{
	SHA1_CTX ctx;
	unsigned char digest[SHA1_DIGEST_LENGTH];

	SHA1Init(&ctx);
	SHA1Update(&ctx, (const unsigned char *)key, key_len);
	SHA1Update(&ctx, (const unsigned char *)WS_GUID, sizeof(WS_GUID) - 1);
	SHA1Final(digest, &ctx);
	if (b64_ntop(digest, sizeof(digest), out, 29) != 28)
		out[0] = '\0';	/* cannot happen: 20 bytes are 28 chars */
}

const char *
http_check_switch(const struct http_response *res, const char *key,
    size_t key_len)
{
	const struct http_field *f = res->fields;
	char want[29];
	int i;

	if (res->status != 101)
		return "not a 101";
	if (res->major != 1 || res->minor != 1)
		return "101 not in HTTP/1.1";
	if (!http_field_has_token(f, res->nfields, "Upgrade", "websocket"))
		return "101 without Upgrade: websocket";
	if ((i = field_single(f, res->nfields, "Sec-WebSocket-Accept")) < 0)
		return i == -1 ? "101 without Sec-WebSocket-Accept" :
		    "101 with duplicate Sec-WebSocket-Accept";
	http_ws_accept(key, key_len, want);
	if (f[i].value_len != 28 || memcmp(f[i].value, want, 28) != 0)
		return "101 with wrong Sec-WebSocket-Accept";
	return NULL;
}

/*
 * Plain HTTP requests, passed on only under --http.  Kept apart from the
 * upgrade checks above, which stay exactly as the contract says for every
 * route without --http.
 */

int
http_is_upgrade(const struct http_request *req)
{
	return http_field_has_token(req->fields, req->nfields, "Upgrade",
	    "websocket");
}

int
http_check_plain(struct http_request *req, struct ws_request *ws)
{
	const struct http_field *f = req->fields;
	int i;

	if (check_start(req, ws, 1) == HTTP_BAD)
		return HTTP_BAD;
	if ((i = field_single(f, req->nfields, "Host")) < 0)
		return fail(&req->err, 400, i == -1 ? "missing Host" :
		    "duplicate Host", NULL);
	if (!host_valid(f[i].value, f[i].value_len))
		return fail(&req->err, 400, "invalid Host", NULL);
	ws->host = f[i].value;
	ws->host_len = f[i].value_len;
	collect_origin(req, ws);
	return 0;
}

int
http_parse_length(const char *p, size_t len, uint64_t *n)
{
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	for (*n = 0, i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*n = *n * 10 + (uint64_t)(p[i] - '0');
	}
	return 0;
}
