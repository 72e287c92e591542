/*
 * fuzz_request: the client's request head, the way wstunnel.c and backend.c
 * handle it.  The input is what the client sent; its last byte also picks
 * max_head (see pick_max_head()).
 *
 * http_parse_request():
 *   - a head length is <= len and <= max_head and ends with CRLF CRLF;
 *     re-parsing exactly the head gives the same length;
 *   - max_head only ever turns a result into 431: the same buffer parsed
 *     without a limit gives the same answer whenever it fits;
 *   - prefixes: a prefix of a complete head is INCOMPLETE, a complete
 *     prefix stays complete with the same length, a BAD prefix stays BAD;
 *   - http_resume_request(), given the input in pieces whose sizes the
 *     input picks, answers at every step what a parse of the same bytes
 *     from the start answers: result, status, reason and fields;
 *   - INCOMPLETE only while the lines complete so far are good: they and an
 *     empty line make a complete head (or one over max_head);
 *   - method, target and every field name and value lie inside the head;
 *     names are tokens, values have no CR, LF, NUL or other control byte
 *     and no leading or trailing SP/HTAB; nfields <= 100; the request line
 *     fits HTTP_MAX_LINE (wstunnel.c copies the target into such buffers);
 *   - a refusal has a status of its class, and rewrite_error() makes a
 *     well-formed answer of it within the 1024 bytes session.c gives it.
 * http_check_upgrade(): what it accepts has exactly what SPEC.md requires
 *   (checked here independently); http_list_has_token() agrees with a
 *   reference on every Connection and Upgrade field.
 * route_normalize(): the output is no longer than the input, starts with
 *   '/', has no "." or ".." path segment, and normalising it again changes
 *   nothing.
 * route_match() and route_map() over a fixed route table: the longest
 *   matching prefix wins, and the mapped target is a valid origin-form
 *   target.
 * rewrite_request(), into a buffer of the size backend.c allocates:
 *   it fits; the head has exactly one empty line (its end) and no bare CR or
 *   LF; its fields are exactly Host, the client's end-to-end fields in
 *   order and unchanged (none that, with '_' read as '-', names
 *   X-Forwarded-*, Forwarded or X-Real-IP), Upgrade, Connection and
 *   X-Forwarded-*; and it is itself a valid upgrade request.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "rewrite.h"
#include "route.h"
#include "fuzz.h"

static const char *const route_args[] = {
	"/=ws://127.0.0.1:8000",
	"/app/ws=ws://backend.example:8080/ws/",
	"/gateone/ws=ws://127.0.0.1:8000/ws",
	"/u/=ws://unix:/run/app.sock:/sock",
	"/v6=wss://[2001:db8::1]:8443",
	"/a/b/c=ws://h/x/y/z",
};
#define NROUTES	(sizeof(route_args) / sizeof(route_args[0]))
static struct route routes[NROUTES];

/* what rewrite_request() must drop, and what it must always pass on
 * (SPEC.md: Origin, Cookie, Sec-WebSocket-*, Authorization) */
static const char *const drop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Host",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", NULL
};
static const char *const end_to_end[] = {
	"Origin", "Cookie", "Authorization", NULL
};
/* what wstunnel says of the client, never the client: also spelled with
 * '_' for '-', as a CGI backend reads names */
static const char *const client_facts[] = {
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	"Forwarded", "X-Real-IP", NULL
};

static int
client_fact(const char *name, size_t len)
{
	char n[32];
	size_t i;

	if (len >= sizeof(n))
		return 0;
	for (i = 0; i < len; i++)
		n[i] = name[i] == '_' ? '-' : name[i];
	return one_of(n, len, client_facts);
}

static int
is_end_to_end(const char *name, size_t len)
{
	return one_of(name, len, end_to_end) ||
	    (len >= 14 && eq_nocase(name, 14, "Sec-WebSocket-"));
}

static void
init(void)
{
	char msg[256];
	size_t i;

	for (i = 0; i < NROUTES; i++)
		if (route_parse(route_args[i], &routes[i], msg,
		    sizeof(msg)) != NULL) {
			fprintf(stderr, "fuzz_request: %s\n", msg);
			abort();
		}
}

/*
 * max_head, chosen by the input's last byte: the default (a '\n', the last
 * byte of most seeds), the option's bounds, and the values around the
 * head's own length.
 */
static size_t
pick_max_head(const uint8_t *d, size_t n, size_t head)
{
	if (n == 0)
		return 16384;
	switch (d[n - 1] % 8) {
	case 0:	return 256;
	case 1:	return head > 0 ? head - 1 : 0;
	case 2:	return 16384;
	case 3:	return head;
	case 4:	return head + 1;
	case 5:	return n > 1 ? (size_t)(d[n - 2] << 6) : 0;
	case 6:	return 1048576;
	default: return 8192;
	}
}

static int
is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static void
check_error(const struct http_error *e)
{
	struct http_response res;
	struct http_body b;
	char out[1024];
	ssize_t n;
	int h;

	CHECK("error-why", e->why != NULL);
	n = rewrite_error(e, out, sizeof(out));
	CHECK("error-fits", n > 0);
	if (n <= 0)
		return;
	h = http_parse_response(out, (size_t)n, SIZE_MAX, &res);
	CHECK("error-parses", h > 0 && head_syntax(out, (size_t)h) == NULL);
	CHECK("error-status", res.status == e->status);
	CHECK("error-length", http_body_init(&res, &b) == 0 &&
	    b.kind == HTTP_BODY_LENGTH && b.left == (uint64_t)(n - h));
}

/* An INCOMPLETE buffer: its complete lines, then an empty line. */
static void
check_completion(const char *buf, size_t n, size_t max)
{
	static struct http_request tmp;
	const char *lf = memrchr(buf, '\n', n);
	size_t k;
	char *c;
	int r;

	if (lf == NULL)		/* the request line is not complete yet */
		return;
	k = (size_t)(lf + 1 - buf);
	c = malloc(k + 2);
	memcpy(c, buf, k);
	memcpy(c + k, "\r\n", 2);
	r = http_parse_request(c, k + 2, max, &tmp);
	CHECK("incomplete-completes", r == (int)(k + 2) ||
	    (r == HTTP_BAD && tmp.err.status == 431));
	free(c);
}

/* The syntax of a complete head as the parser reports it. */
static void
check_fields(const struct http_request *req, const char *h, size_t len)
{
	size_t i, j;

	CHECK("nfields", req->nfields <= HTTP_MAX_FIELDS);
	CHECK("method-inside", inside(req->method, req->method_len, h, len) &&
	    req->method == h && req->method_len > 0);
	for (i = 0; i < req->method_len; i++)
		CHECK("method-token", tchar((unsigned char)req->method[i]));
	CHECK("target-inside", inside(req->target, req->target_len, h, len) &&
	    req->target_len > 0);
	for (i = 0; i < req->target_len; i++)
		CHECK("target-chars", is_target_char(req->target[i]));
	CHECK("line-length", req->method_len + req->target_len + 10 <=
	    HTTP_MAX_LINE);
	CHECK("version", req->major >= 0 && req->major <= 9 &&
	    req->minor >= 0 && req->minor <= 9);
	for (i = 0; i < req->nfields; i++) {
		const struct http_field *f = &req->fields[i];

		CHECK("name-inside", inside(f->name, f->name_len, h, len) &&
		    f->name_len > 0 && f->name[-1] == '\n' &&
		    f->name[f->name_len] == ':');
		CHECK("value-inside", inside(f->value, f->value_len, h, len));
		CHECK("fields-ordered", i == 0 || f->name > f[-1].value);
		for (j = 0; j < f->name_len; j++)
			CHECK("name-token", tchar((unsigned char)f->name[j]));
		for (j = 0; j < f->value_len; j++)
			CHECK("value-chars", f->value[j] == '\t' ||
			    ((unsigned char)f->value[j] >= 0x20 &&
			    f->value[j] != 0x7f));
		CHECK("value-trimmed", f->value_len == 0 ||
		    (f->value[0] != ' ' && f->value[0] != '\t' &&
		    f->value[f->value_len - 1] != ' ' &&
		    f->value[f->value_len - 1] != '\t'));
	}
}

/*
 * How the same buffer parses under a limit, knowing how it parses without
 * one (full, fst): a limit only adds 431s.
 */
static void
check_limit(int full, int fst, int r, int rst, size_t n, size_t max)
{
	if (full > 0)
		CHECK("limit-complete", (size_t)full <= max ? r == full :
		    r == HTTP_BAD && rst == 431);
	else if (full == HTTP_BAD)
		CHECK("limit-bad", r == HTTP_BAD && (rst == fst || rst == 431));
	else
		CHECK("limit-incomplete", n <= max ? r == HTTP_INCOMPLETE :
		    r == HTTP_BAD && rst == 431);
}

/* The input a piece at a time, each call resuming the last. */
static void
check_resume(const uint8_t *d, size_t n, size_t max, int r)
{
	static struct http_request a, b;
	struct http_resume rs = { 0, 0 };
	uint32_t s = seed_of(d, n) ^ 0x5bd1e995u;
	size_t k = 0;
	int ra = HTTP_INCOMPLETE;

	memset(&a, 0, sizeof(a));
	while (ra == HTTP_INCOMPLETE && k < n) {
		int rb;

		k += 1 + mix(&s) % (n / 32 + 8);
		if (k > n)
			k = n;
		ra = http_resume_request((const char *)d, k, max, &a, &rs);
		rb = http_parse_request((const char *)d, k, max, &b);
		CHECK("resume-same", ra == rb);
		if (ra == HTTP_BAD && rb == HTTP_BAD)
			CHECK("resume-same-error", a.err.status ==
			    b.err.status && a.err.why == b.err.why);
		if (ra > 0 && ra == rb)
			CHECK("resume-same-fields", a.nfields == b.nfields &&
			    a.target == b.target && memcmp(a.fields, b.fields,
			    a.nfields * sizeof(a.fields[0])) == 0);
	}
	CHECK("resume-end", ra == r);
}

/* Prefixes of the input: at line ends, near the head's end, and a few
 * positions picked from the input. */
static void
check_prefixes(const uint8_t *d, size_t n, size_t max, int r)
{
	static struct http_request tmp;
	size_t ks[48], nk = 0, i;
	uint32_t s = seed_of(d, n);
	int rk;

	for (i = 0; i < n && nk < 24; i++)
		if (d[i] == '\n') {
			ks[nk++] = i;
			ks[nk++] = i + 1;
		}
	for (i = 1; i <= 4; i++)
		if (r > 0 && (size_t)r >= i)
			ks[nk++] = (size_t)r - i;
	while (nk < sizeof(ks) / sizeof(ks[0]) - 8 && n > 0)
		ks[nk++] = mix(&s) % n;
	for (i = 0; i < nk; i++) {
		if (ks[i] >= n)
			continue;
		rk = http_parse_request((const char *)d, ks[i], max, &tmp);
		if (r > 0 && ks[i] < (size_t)r)
			CHECK("prefix-incomplete", rk == HTTP_INCOMPLETE);
		if (rk > 0)
			CHECK("prefix-stable", rk == r);
		if (rk == HTTP_BAD)
			CHECK("prefix-bad-stays-bad", r == HTTP_BAD);
	}
}

static size_t
count(const struct http_request *req, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < req->nfields; i++)
		c += eq_nocase(req->fields[i].name, req->fields[i].name_len,
		    name);
	return c;
}

static int
has_token(const struct http_request *req, const char *name, const char *tok)
{
	size_t i;
	int ref = 0;

	for (i = 0; i < req->nfields; i++) {
		const struct http_field *f = &req->fields[i];

		if (!eq_nocase(f->name, f->name_len, name))
			continue;
		CHECK("list-has-token", http_list_has_token(f->value,
		    f->value_len, tok, strlen(tok)) ==
		    ref_has_token(f->value, f->value_len, tok, strlen(tok)));
		ref |= ref_has_token(f->value, f->value_len, tok, strlen(tok));
	}
	return ref;
}

/* Whether a Connection field of req names [name, name+len). */
static int
named(const struct http_request *req, const char *name, size_t len)
{
	size_t i;
	int ref = 0, got;

	for (i = 0; i < req->nfields; i++) {
		const struct http_field *c = &req->fields[i];

		if (!eq_nocase(c->name, c->name_len, "Connection"))
			continue;
		got = http_list_has_token(c->value, c->value_len, name, len);
		CHECK("list-has-token", got == ref_has_token(c->value,
		    c->value_len, name, len));
		ref |= got;
	}
	return ref;
}

static int
in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* Whether an accepted Host holds only what RFC 3986 allows in a host and
 * port: unreserved, sub-delims, ":" and brackets, and "%" only before two
 * hex digits of a non-ASCII byte. */
static int
host_chars(const char *h, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '%') {
			if (len - i < 3 || !in_set(h[i + 1], "89abcdefABCDEF") ||
			    !in_set(h[i + 2], "0123456789abcdefABCDEF"))
				return 0;
			i += 2;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || in_set(c, "-._~!$&'()*+,;=:[]")))
			return 0;
	}
	return 1;
}

/* What http_check_upgrade() accepted, checked against SPEC.md. */
static void
check_upgrade(const struct http_request *req, const struct ws_request *ws,
    const char *h, size_t len)
{
	size_t i, norigin = 0;
	int cl;

	CHECK("upgrade-version", req->major == 1 && req->minor == 1);
	CHECK("upgrade-method", req->method_len == 3 &&
	    memcmp(req->method, "GET", 3) == 0);
	CHECK("upgrade-origin-form", req->target[0] == '/');
	CHECK("upgrade-host", count(req, "Host") == 1 && ws->host_len > 0 &&
	    inside(ws->host, ws->host_len, h, len));
	CHECK("upgrade-host-chars", host_chars(ws->host, ws->host_len));
	CHECK("upgrade-key", count(req, "Sec-WebSocket-Key") == 1 &&
	    ws->key_len == 24 && inside(ws->key, ws->key_len, h, len));
	CHECK("upgrade-no-te", count(req, "Transfer-Encoding") == 0);
	cl = http_field_find(req->fields, req->nfields, 0, "Content-Length");
	CHECK("upgrade-no-body", cl < 0 || (count(req, "Content-Length") == 1 &&
	    req->fields[cl].value_len == 1 && req->fields[cl].value[0] == '0'));
	CHECK("upgrade-tokens", has_token(req, "Upgrade", "websocket") &&
	    has_token(req, "Connection", "upgrade"));
	i = (size_t)http_field_find(req->fields, req->nfields, 0,
	    "Sec-WebSocket-Version");
	CHECK("upgrade-ws-version", count(req, "Sec-WebSocket-Version") == 1 &&
	    req->fields[i].value_len == 2 &&
	    memcmp(req->fields[i].value, "13", 2) == 0);
	for (i = 0; i < req->nfields; i++)
		norigin += eq_nocase(req->fields[i].name,
		    req->fields[i].name_len, "Origin");
	CHECK("upgrade-origin", (size_t)ws->norigin == norigin &&
	    (norigin == 0 || inside(ws->origin, ws->origin_len, h, len)));
}

/* Whether the segment t[s..i) is "." or "..", or one of them before
 * path parameters (";", also "%3B"). */
static int
dot_seg(const char *t, size_t s, size_t i)
{
	size_t d = (i > s && t[s] == '.') + (i > s + 1 && t[s] == '.' &&
	    t[s + 1] == '.');

	return d > 0 && (s + d == i || t[s + d] == ';' || (i - s - d >= 3 &&
	    t[s + d] == '%' && t[s + d + 1] == '3' &&
	    (t[s + d + 2] | 0x20) == 'b'));
}

/* Whether the path part of t[0..len) has a dot-segment. */
static int
dot_segment(const char *t, size_t len)
{
	size_t i, s = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && t[i] != '/' && t[i] != '?')
			continue;
		if (dot_seg(t, s, i))
			return 1;
		if (i < len && t[i] == '?')
			break;
		s = i + 1;
	}
	return 0;
}

static int
under(const char *p, size_t plen, const char *s, size_t len)
{
	return len >= plen && memcmp(s, p, plen) == 0 &&
	    (len == plen || s[plen] == '/' || s[plen] == '?');
}

/* One field line "name: value" of a head wstunnel wrote. */
struct line {
	const char	*name, *value;
	size_t		 name_len, value_len;
};

static size_t
split(const char *h, size_t n, struct line *l, size_t max)
{
	const char *p = (const char *)memchr(h, '\n', n) + 1, *end = h + n - 2;
	const char *cr, *c;
	size_t k = 0;

	for (; p < end && k < max; p = cr + 2, k++) {
		cr = memchr(p, '\r', end - p);
		c = memchr(p, ':', cr - p);
		CHECK("out-field-syntax", c != NULL && c + 1 < cr &&
		    c[1] == ' ');
		if (c == NULL)		/* only with out-field-syntax ignored */
			break;
		l[k].name = p;
		l[k].name_len = c - p;
		l[k].value = c + 2;
		l[k].value_len = cr - c - 2;
	}
	CHECK("out-field-count", p >= end);
	return k;
}

static int
line_is(const struct line *l, const char *name, const char *v, size_t vlen)
{
	return eq_nocase(l->name, l->name_len, name) && l->value_len == vlen &&
	    memcmp(l->value, v, vlen) == 0;
}

/* The rewritten request, against a model of what it must be. */
static void
check_rewrite(const struct http_request *req, const struct forward *fw,
    const char *out, size_t n)
{
	static struct http_request req2;
	struct ws_request ws2;
	struct line l[HTTP_MAX_FIELDS + 16];
	char *xff;
	size_t nl, k = 0, i, x = 0;
	int r;

	for (i = 0; i < req->nfields; i++)
		x += req->fields[i].value_len + 2;
	xff = malloc(x + strlen(fw->client_addr) + 1);
	x = 0;

	CHECK("rewrite-syntax", head_syntax(out, n) == NULL);
	CHECK("rewrite-line", n > 4 + fw->target_len + 11 &&
	    memcmp(out, "GET ", 4) == 0 &&
	    memcmp(out + 4, fw->target, fw->target_len) == 0 &&
	    memcmp(out + 4 + fw->target_len, " HTTP/1.1\r\n", 11) == 0);
	nl = split(out, n, l, sizeof(l) / sizeof(l[0]));
	CHECK("rewrite-host", nl > 0 && line_is(&l[k++], "Host", fw->host,
	    fw->host_len));
	for (i = 0; i < req->nfields; i++) {
		const struct http_field *f = &req->fields[i];

		if (eq_nocase(f->name, f->name_len, "X-Forwarded-For") &&
		    f->value_len > 0) {
			memcpy(xff + x, f->value, f->value_len);
			x += f->value_len;
			memcpy(xff + x, ", ", 2);
			x += 2;
		}
		if (one_of(f->name, f->name_len, drop) ||
		    client_fact(f->name, f->name_len) ||
		    (!is_end_to_end(f->name, f->name_len) &&
		    named(req, f->name, f->name_len)))
			continue;
		CHECK("rewrite-passes-fields", k < nl &&
		    l[k].name_len == f->name_len &&
		    memcmp(l[k].name, f->name, f->name_len) == 0 &&
		    l[k].value_len == f->value_len &&
		    memcmp(l[k].value, f->value, f->value_len) == 0);
		k++;
	}
	memcpy(xff + x, fw->client_addr, strlen(fw->client_addr));
	x += strlen(fw->client_addr);
	CHECK("rewrite-added-fields", nl == k + 5 &&
	    line_is(&l[k], "Upgrade", "websocket", 9) &&
	    line_is(&l[k + 1], "Connection", "Upgrade", 7) &&
	    line_is(&l[k + 2], "X-Forwarded-For", xff, x) &&
	    line_is(&l[k + 3], "X-Forwarded-Proto", fw->proto,
	    strlen(fw->proto)) &&
	    line_is(&l[k + 4], "X-Forwarded-Host", fw->client_host,
	    fw->client_host_len));
	free(xff);

	/* the backend may be another wstunnel: it accepts this, unless the
	 * added fields pushed it over a limit */
	r = http_parse_request(out, n, SIZE_MAX, &req2);
	if (r == HTTP_BAD)
		CHECK("rewrite-reparses", req2.err.status == 431 ||
		    req2.err.status == 414);
	else
		CHECK("rewrite-reparses", (size_t)r == n &&
		    http_check_upgrade(&req2, &ws2) == 0);
}

/* What wstunnel.c and backend.c do with an accepted request. */
static void
forward(const struct http_request *req, const struct ws_request *ws,
    size_t head_len, uint32_t s)
{
	char *norm, *norm2, *mapped, *out;
	const char *why;
	const struct route *rt;
	const struct backend *b;
	struct forward fw;
	size_t nlen, nlen2, i, msize, osize;
	ssize_t m, n;
	int idx;

	norm = malloc(req->target_len);
	norm2 = malloc(req->target_len);
	why = route_normalize(req->target, req->target_len, norm, &nlen);
	if (why != NULL)
		goto out;
	CHECK("normalize-shorter", nlen <= req->target_len && nlen > 0 &&
	    norm[0] == '/');
	CHECK("normalize-no-dots", !dot_segment(norm, nlen));
	for (i = 0; i < nlen; i++)
		CHECK("normalize-chars", is_target_char(norm[i]));
	CHECK("normalize-idempotent", route_normalize(norm, nlen, norm2,
	    &nlen2) == NULL && nlen2 == nlen && memcmp(norm, norm2, nlen) == 0);

	idx = route_match(routes, NROUTES, norm, nlen);
	CHECK("match-found", idx >= 0);	/* there is a "/" route */
	if (idx < 0)
		goto out;
	rt = &routes[idx];
	CHECK("match-under", under(rt->prefix, rt->prefix_len, norm, nlen));
	for (i = 0; i < NROUTES; i++)
		CHECK("match-longest", !under(routes[i].prefix,
		    routes[i].prefix_len, norm, nlen) ||
		    routes[i].prefix_len <= rt->prefix_len);

	b = &rt->backends[0];
	msize = strlen(b->path) + nlen + 2;	/* as backend.c */
	mapped = malloc(msize);
	m = route_map(rt->prefix, rt->prefix_len, b->path, strlen(b->path),
	    norm, nlen, mapped, msize);
	CHECK("map-fits", m > 0);
	if (m <= 0) {
		free(mapped);
		goto out;
	}
	CHECK("map-slash", mapped[0] == '/');
	for (i = 0; i < (size_t)m; i++)
		CHECK("map-chars", is_target_char(mapped[i]));

	fw.target = mapped;
	fw.target_len = (size_t)m;
	fw.host = (s & 1) ? ws->host : b->authority;	/* --preserve-host */
	fw.host_len = (s & 1) ? ws->host_len : strlen(b->authority);
	fw.client_host = ws->host;
	fw.client_host_len = ws->host_len;
	fw.client_addr = (s & 2) ? "2001:db8::7" : (s & 4) ? "unknown" :
	    "192.0.2.7";
	fw.proto = (s & 8) ? "https" : "http";
	osize = head_len + fw.target_len + fw.host_len + fw.client_host_len +
	    strlen(fw.client_addr) + 2 * req->nfields + 256;
	out = malloc(osize);
	n = rewrite_request(req, &fw, out, osize);
	CHECK("rewrite-fits", n > 0);
	if (n > 0)
		check_rewrite(req, &fw, out, (size_t)n);
	free(out);
	free(mapped);
out:
	free(norm);
	free(norm2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct http_request req;
	static int ready;
	const char *buf = (const char *)d;
	struct ws_request ws;
	size_t max;
	int full, fst, r;

	if (!ready) {
		init();
		ready = 1;
	}
	memset(&req, 0, sizeof(req));	/* as a fresh session has it */
	full = http_parse_request(buf, n, SIZE_MAX, &req);
	fst = req.err.status;
	if (full == HTTP_BAD)
		CHECK("bad-status", fst == 400 || fst == 414 || fst == 431);
	if (full > 0)			/* a limit one byte too small */
		check_limit(full, fst, http_parse_request(buf, n,
		    (size_t)full - 1, &req), req.err.status, n, full - 1);
	max = pick_max_head(d, n, full > 0 ? (size_t)full : n);
	r = http_parse_request(buf, n, max, &req);
	check_limit(full, fst, r, req.err.status, n, max);
	check_prefixes(d, n, max, r);
	check_resume(d, n, max, r);
	if (req.target != NULL)		/* wstunnel.c copies it, always */
		CHECK("target-fits", req.target_len < HTTP_MAX_LINE);
	if (r == HTTP_INCOMPLETE) {
		check_completion(buf, n, max);
		return 0;
	}
	if (r == HTTP_BAD) {
		check_error(&req.err);
		return 0;
	}
	CHECK("head-length", (size_t)r <= n && (size_t)r <= max);
	CHECK("head-end", r >= 4 && memcmp(buf + r - 4, "\r\n\r\n", 4) == 0);
	check_fields(&req, buf, (size_t)r);
	CHECK("reparse-head", http_parse_request(buf, (size_t)r, max,
	    &req) == r);

	if (http_check_upgrade(&req, &ws) != 0) {
		CHECK("upgrade-status", req.err.status == 400 ||
		    req.err.status == 405 || req.err.status == 426 ||
		    req.err.status == 505);
		check_error(&req.err);
		return 0;
	}
	check_upgrade(&req, &ws, buf, (size_t)r);
	forward(&req, &ws, (size_t)r, seed_of(d, n));
	return 0;
}
