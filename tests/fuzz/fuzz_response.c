/*
 * fuzz_response: the backend's answer, the way backend.c handles it.  The
 * input is what the backend sent: a response head, then body bytes.
 *
 * backend.c skips up to 8 interim answers (1xx but 101) before the final
 * one: after an interim head, the bytes that follow it are checked the same
 * way, as the next answer.
 *
 * http_parse_response() with max_head HTTP_MAX_RESPONSE_HEAD (backend.c's):
 *   - a head length is <= len and <= max_head and ends with CRLF CRLF;
 *     re-parsing exactly the head gives the same length; without a limit
 *     the answer is the same whenever it fits, and a limit one byte short
 *     of a complete head makes it BAD;
 *   - prefixes: a prefix of a complete head is INCOMPLETE, a complete
 *     prefix stays complete with the same length, a BAD prefix stays BAD;
 *   - http_resume_response(), given the input in pieces whose sizes the
 *     input picks, answers at every step what a parse of the same bytes
 *     from the start answers: result, status, reason and fields;
 *   - INCOMPLETE only while the lines complete so far are good: they and an
 *     empty line make a complete head (or one over max_head);
 *   - every field name and value lies inside the head; names are tokens,
 *     values have no control byte but HTAB and no leading or trailing
 *     SP/HTAB; nfields <= 100; a refusal is a 502.
 * http_check_switch(): what it accepts is a 101 in HTTP/1.1 with Upgrade:
 *   websocket and the one right Sec-WebSocket-Accept.
 * rewrite_switch() and rewrite_response(), into buffers of the sizes
 *   backend.c allocates (a fixed struct reverse): they fit; each head has
 *   exactly one empty line (its end) and no bare CR or LF; its status line
 *   carries the status and reason; its fields are the backend's in order,
 *   less the hop-by-hop ones and those named in Connection (RFC 9110
 *   section 7.6.1), Location rewritten under the route, then the one
 *   Connection field; the client frames the relayed body as wstunnel does.
 * http_body_init() and http_body_scan(), fed the bytes after the head at
 *   once and in pieces whose sizes the input's last bytes choose (zero
 *   included): a scan never returns more than it was given, both ways give
 *   the same total and done flag, and nothing is taken once done.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "rewrite.h"
#include "fuzz.h"

#define MAX_HEAD	HTTP_MAX_RESPONSE_HEAD
#define MAX_INTERIM	8		/* as backend.c */
#define KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* route /app=ws://backend.example:8080/ws, the client on front.example */
static const struct reverse rv = {
	"/app", 4, "/ws", 3, "backend.example", "8080", "front.example", 13, 0,
	0
};

static const char *const switch_drop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Content-Length", "Proxy-Authenticate", NULL
};
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

static void
check_fields(const struct http_response *res, const char *h, size_t len)
{
	size_t i, j;

	CHECK("nfields", res->nfields <= HTTP_MAX_FIELDS);
	CHECK("status", res->status >= 100 && res->status <= 599);
	CHECK("reason-inside", inside(res->reason, res->reason_len, h, len));
	for (j = 0; j < res->reason_len; j++)
		CHECK("reason-chars", res->reason[j] == '\t' ||
		    ((unsigned char)res->reason[j] >= 0x20 &&
		    res->reason[j] != 0x7f));
	for (i = 0; i < res->nfields; i++) {
		const struct http_field *f = &res->fields[i];

		CHECK("name-inside", inside(f->name, f->name_len, h, len) &&
		    f->name_len > 0 && f->name[-1] == '\n' &&
		    f->name[f->name_len] == ':');
		CHECK("value-inside", inside(f->value, f->value_len, h, len));
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

/* An INCOMPLETE buffer: its complete lines, then an empty line. */
static void
check_completion(const char *buf, size_t n)
{
	static struct http_response tmp;
	const char *lf = memrchr(buf, '\n', n);
	size_t k;
	char *c;
	int r;

	if (lf == NULL)		/* the status line is not complete yet */
		return;
	k = (size_t)(lf + 1 - buf);
	c = malloc(k + 2);
	memcpy(c, buf, k);
	memcpy(c + k, "\r\n", 2);
	r = http_parse_response(c, k + 2, MAX_HEAD, &tmp);
	CHECK("incomplete-completes", r == (int)(k + 2) || (r == HTTP_BAD &&
	    k + 2 > MAX_HEAD));
	free(c);
}

static void
check_prefixes(const uint8_t *d, size_t n, int r)
{
	static struct http_response tmp;
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
		rk = http_parse_response((const char *)d, ks[i], MAX_HEAD,
		    &tmp);
		if (r > 0 && ks[i] < (size_t)r)
			CHECK("prefix-incomplete", rk == HTTP_INCOMPLETE);
		if (rk > 0)
			CHECK("prefix-stable", rk == r);
		if (rk == HTTP_BAD)
			CHECK("prefix-bad-stays-bad", r == HTTP_BAD);
	}
}

/* The input a piece at a time, each call resuming the last. */
static void
check_resume(const uint8_t *d, size_t n, int r)
{
	static struct http_response a, b;
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
		ra = http_resume_response((const char *)d, k, MAX_HEAD, &a,
		    &rs);
		rb = http_parse_response((const char *)d, k, MAX_HEAD, &b);
		CHECK("resume-same", ra == rb);
		if (ra == HTTP_BAD && rb == HTTP_BAD)
			CHECK("resume-same-error", a.err.status ==
			    b.err.status && a.err.why == b.err.why);
		if (ra > 0 && ra == rb)
			CHECK("resume-same-fields", a.status == b.status &&
			    a.nfields == b.nfields && memcmp(a.fields,
			    b.fields, a.nfields * sizeof(a.fields[0])) == 0);
	}
	CHECK("resume-end", ra == r);
}

/* Whether a Connection field of res names [name, name+len). */
static int
named(const struct http_response *res, const char *name, size_t len)
{
	size_t i;
	int ref = 0, got;

	for (i = 0; i < res->nfields; i++) {
		const struct http_field *c = &res->fields[i];

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
under(const char *p, size_t plen, const char *s, size_t len)
{
	return len >= plen && memcmp(s, p, plen) == 0 &&
	    (len == plen || s[plen] == '/' || s[plen] == '?');
}

/*
 * A Location value as rewrite_response() may have rewritten it: the
 * path under the route, alone or after scheme://front.example or, for a
 * network-path reference, //front.example.
 */
static int
rewritten_location(const char *v, size_t len)
{
	static const char *const fronts[] = {
		"ws://front.example", "http://front.example", "//front.example",
		NULL
	};
	size_t i;

	if (under(rv.prefix, rv.prefix_len, v, len))
		return 1;
	for (i = 0; fronts[i] != NULL; i++) {
		size_t fl = strlen(fronts[i]);

		if (len > fl && memcmp(v, fronts[i], fl) == 0 &&
		    under(rv.prefix, rv.prefix_len, v + fl, len - fl))
			return 1;
	}
	return 0;
}

/*
 * An output head of rewrite_switch() (sw) or rewrite_response(): status
 * line, then the backend's fields that pass, in order, then conn.
 */
static void
check_head(const struct http_response *res, const char *out, size_t n,
    int sw)
{
	static struct http_response res2;
	const char *p, *end = out + n - 2, *cr, *c;
	char line[64];
	size_t i, ll, vlen;
	int drop, r;

	CHECK("out-syntax", head_syntax(out, n) == NULL);
	ll = (size_t)snprintf(line, sizeof(line), "HTTP/1.1 %03d ",
	    res->status);
	CHECK("out-status-line", n > ll + res->reason_len + 2 &&
	    memcmp(out, line, ll) == 0 &&
	    memcmp(out + ll, res->reason, res->reason_len) == 0 &&
	    memcmp(out + ll + res->reason_len, "\r\n", 2) == 0);
	p = out + ll + res->reason_len + 2;
	for (i = 0; i < res->nfields; i++) {
		const struct http_field *f = &res->fields[i];

		if (sw)
			drop = one_of(f->name, f->name_len, switch_drop) ||
			    (named(res, f->name, f->name_len) &&
			    !eq_nocase(f->name, f->name_len, "Upgrade"));
		else
			drop = one_of(f->name, f->name_len, response_drop) ||
			    (named(res, f->name, f->name_len) &&
			    !one_of(f->name, f->name_len, framing));
		if (drop)
			continue;
		cr = memchr(p, '\r', end - p);
		CHECK(sw ? "switch-fields" : "response-fields", cr != NULL &&
		    (size_t)(cr - p) > f->name_len + 2 - (f->value_len == 0) &&
		    memcmp(p, f->name, f->name_len) == 0 &&
		    memcmp(p + f->name_len, ": ", 2) == 0);
		if (cr == NULL)	/* only with the check above ignored */
			break;
		c = p + f->name_len + 2;
		vlen = cr - c;
		CHECK(sw ? "switch-fields" : "response-fields",
		    (vlen == f->value_len && memcmp(c, f->value, vlen) == 0) ||
		    (!sw && one_of(f->name, f->name_len, locations) &&
		    rewritten_location(c, vlen)));
		p = cr + 2;
	}
	CHECK(sw ? "switch-connection" : "response-connection",
	    (size_t)(end - p) == strlen(sw ? "Connection: Upgrade\r\n" :
	    "Connection: close\r\n") && memcmp(p, sw ? "Connection: Upgrade" :
	    "Connection: close", end - p - 2) == 0);

	/* what the client parses: the same status, and for an answer
	 * relayed with its body, the same body framing */
	r = http_parse_response(out, n, SIZE_MAX, &res2);
	if (r == HTTP_BAD) {	/* 100 fields and the added Connection */
		CHECK("out-reparses", res->nfields == HTTP_MAX_FIELDS);
		return;
	}
	CHECK("out-reparses", (size_t)r == n && res2.status == res->status);
	if (!sw) {
		struct http_body b1, b2;
		int i1 = http_body_init(res, &b1), i2 = http_body_init(&res2,
		    &b2);

		CHECK("out-framing", i1 == i2 && (i1 != 0 ||
		    (b1.kind == b2.kind && b1.left == b2.left)));
	}
}

/* The body after the head, at once and in pieces. */
static void
check_body(const struct http_response *res, const uint8_t *d, size_t n,
    const char *body, size_t len)
{
	struct http_body b1, b2;
	ssize_t c1;
	size_t off = 0, k = 0, total = 0;
	int err2 = 0;

	if (http_body_init(res, &b1) != 0)
		return;
	CHECK("body-init-same", http_body_init(res, &b2) == 0);
	c1 = http_body_scan(&b1, body, len);
	CHECK("body-scan-bounds", c1 >= -1 && c1 <= (ssize_t)len);
	if (b1.kind == HTTP_BODY_NONE)
		CHECK("body-none", c1 == 0 && b1.done);
	if (b1.kind == HTTP_BODY_EOF)
		CHECK("body-eof", c1 == (ssize_t)len && !b1.done);
	if (b1.kind == HTTP_BODY_LENGTH)
		CHECK("body-length", (uint64_t)c1 + b1.left == b2.left &&
		    b1.done == (b1.left == 0));
	if (c1 >= 0 && b1.done && b1.kind != HTTP_BODY_EOF)
		CHECK("body-done-stays", http_body_scan(&b1, body + c1,
		    len - (size_t)c1) == 0 && b1.done);

	while (off < len || k == 0) {
		size_t want;
		ssize_t c;

		/* piece sizes from the input's last bytes, 0..8 */
		want = n > k ? d[n - 1 - k] % 9 : 1;
		k++;
		if (want > len - off)
			want = len - off;
		c = http_body_scan(&b2, body + off, want);
		CHECK("body-scan-bounds", c >= -1 && c <= (ssize_t)want);
		if (c < 0) {
			err2 = 1;
			break;
		}
		total += (size_t)c;
		if (b2.done) {
			if (b2.kind != HTTP_BODY_EOF)
				CHECK("body-done-stays", http_body_scan(&b2,
				    body + off + c, want - (size_t)c) == 0);
			break;
		}
		CHECK("body-takes-all", (size_t)c == want);
		off += want;
		if (len == 0)
			break;
	}
	CHECK("body-pieces", (c1 < 0) == err2);
	if (!err2)
		CHECK("body-pieces", (size_t)c1 == total && b1.done == b2.done);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct http_response res;
	const char *buf = (const char *)d, *why;
	size_t size;
	char *out;
	ssize_t m;
	int full, r;

	memset(&res, 0, sizeof(res));
	full = http_parse_response(buf, n, SIZE_MAX, &res);
	if (full > 0)
		CHECK("limit-one-short", http_parse_response(buf, n,
		    (size_t)full - 1, &res) == HTTP_BAD);
	r = http_parse_response(buf, n, MAX_HEAD, &res);
	if (full > 0)
		CHECK("limit-complete", (size_t)full <= MAX_HEAD ? r == full :
		    r == HTTP_BAD);
	else
		CHECK("limit-same", r == full || (r == HTTP_BAD &&
		    n > MAX_HEAD));
	check_prefixes(d, n, r);
	check_resume(d, n, r);
	if (r == HTTP_INCOMPLETE) {
		check_completion(buf, n);
		return 0;
	}
	if (r == HTTP_BAD) {
		CHECK("bad-status", res.err.status == 502 &&
		    res.err.why != NULL);
		return 0;
	}
	CHECK("head-length", (size_t)r <= n && r <= MAX_HEAD);
	CHECK("head-end", r >= 4 && memcmp(buf + r - 4, "\r\n\r\n", 4) == 0);
	check_fields(&res, buf, (size_t)r);
	CHECK("reparse-head", http_parse_response(buf, (size_t)r, MAX_HEAD,
	    &res) == r);
	if (http_is_interim(&res)) {
		static int depth;
		int ret = 0;

		CHECK("interim", res.status >= 100 && res.status < 200 &&
		    res.status != 101 && http_check_switch(&res, KEY,
		    strlen(KEY)) != NULL);
		if (depth < MAX_INTERIM) {
			depth++;
			ret = LLVMFuzzerTestOneInput(d + r, n - (size_t)r);
			depth--;
		}
		return ret;
	}

	why = http_check_switch(&res, KEY, strlen(KEY));
	if (why == NULL) {
		int i = http_field_find(res.fields, res.nfields, 0,
		    "Sec-WebSocket-Accept");

		CHECK("switch-accepted", res.status == 101 && res.major == 1 &&
		    res.minor == 1 && i >= 0 &&
		    http_field_find(res.fields, res.nfields, i + 1,
		    "Sec-WebSocket-Accept") < 0 &&
		    res.fields[i].value_len == 28 &&
		    memcmp(res.fields[i].value, ACCEPT, 28) == 0 &&
		    http_field_has_token(res.fields, res.nfields, "Upgrade",
		    "websocket"));
	}

	size = (size_t)r + res.nfields + 64;		/* as backend.c */
	out = malloc(size);
	m = rewrite_switch(&res, out, size);
	CHECK("switch-fits", m > 0);
	if (m > 0)
		check_head(&res, out, (size_t)m, 1);
	free(out);

	size = (size_t)r + res.nfields * (rv.prefix_len + rv.front_host_len +
	    17) + 64;					/* as backend.c */
	out = malloc(size);
	m = rewrite_response(&res, &rv, out, size);
	CHECK("response-fits", m > 0);
	if (m > 0)
		check_head(&res, out, (size_t)m, 0);
	free(out);

	check_body(&res, d, n, buf + r, n - (size_t)r);
	return 0;
}
