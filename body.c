/*
 * Where a response body ends (RFC 9112 section 6.3), for relaying a non-101
 * answer without waiting on a backend that keeps its connection open: the
 * framing is decided once from the head, then the body bytes are fed to a
 * scanner as they arrive.  Pure functions, declared in http.h.
 */
#include <string.h>
#include <strings.h>

#include "http.h"
#include "util.h"

/* Where the chunked framing scanner is (RFC 9112 section 7.1). */
enum {
	CH_SIZE, CH_SIZE_WS, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF, CH_END_LF
};

/* Whether the last element of a comma-separated list is token. */
static int
list_last_is(const char *v, size_t len, const char *token)
{
	const char *end = v + len, *s;

	for (s = end; s > v && s[-1] != ','; s--)
		;
	while (s < end && is_ows(*s))
		s++;
	return (size_t)(end - s) == strlen(token) &&
	    strncasecmp(s, token, end - s) == 0;
}

int
http_body_init(const struct http_response *res, struct http_body *b)
{
	const struct http_field *f = res->fields;
	size_t n = res->nfields;
	int te, cl, i;
	uint64_t len;

	memset(b, 0, sizeof(*b));
	if (res->status < 200 || res->status == 204 || res->status == 304) {
		b->kind = HTTP_BODY_NONE;
		b->done = 1;
		return 0;
	}
	te = http_field_find(f, n, 0, "Transfer-Encoding");
	cl = http_field_find(f, n, 0, "Content-Length");
	if (te >= 0) {
		if (cl >= 0)	/* both: the classic smuggling pair */
			return -1;
		for (i = te; i >= 0; i = http_field_find(f, n, i + 1,
		    "Transfer-Encoding"))
			te = i;
		/* chunked must be the final coding, else the body ends at
		 * close (RFC 9112 section 6.3) */
		b->kind = (list_last_is(f[te].value, f[te].value_len, "chunked") ?
		    HTTP_BODY_CHUNKED : HTTP_BODY_EOF);
		return 0;
	}
	if (cl < 0) {
		b->kind = HTTP_BODY_EOF;
		return 0;
	}
	if (http_parse_length(f[cl].value, f[cl].value_len, &b->left) == -1)
		return -1;
	for (i = cl; (i = http_field_find(f, n, i + 1, "Content-Length")) >= 0;)
		if (http_parse_length(f[i].value, f[i].value_len, &len) == -1 ||
		    len != b->left)
			return -1;
	b->kind = HTTP_BODY_LENGTH;
	b->done = (b->left == 0);
	return 0;
}

/* One byte of chunked framing outside chunk data; -1 when it is malformed. */
static int
chunk_step(struct http_body *b, char c)
{
	int v;

	switch (b->state) {
	case CH_SIZE:
		if ((v = hexval(c)) >= 0 && b->digits < 15) {
			b->left = b->left * 16 + (uint64_t)v;
			b->digits++;
			return 0;
		}
		if (b->digits == 0)
			return -1;
		/* FALLTHROUGH */
	case CH_SIZE_WS:	/* BWS, then an extension or the line's end */
		if (is_ows(c))
			b->state = CH_SIZE_WS;
		else if (c == ';')
			b->state = CH_EXT;
		else if (c == '\r')
			b->state = CH_SIZE_LF;
		else
			return -1;
		return 0;
	case CH_EXT:
		if (c == '\n')
			return -1;
		if (c == '\r')
			b->state = CH_SIZE_LF;
		return 0;
	case CH_SIZE_LF:
		if (c != '\n')
			return -1;
		b->state = (b->left == 0 ? CH_TRAILER : CH_DATA);
		return 0;
	case CH_DATA_CR:
		b->state = CH_DATA_LF;
		return c == '\r' ? 0 : -1;
	case CH_DATA_LF:
		b->state = CH_SIZE;
		b->digits = 0;
		return c == '\n' ? 0 : -1;
	case CH_TRAILER:
		b->state = (c == '\r' ? CH_END_LF : CH_TRAILER_LINE);
		return c == '\n' ? -1 : 0;
	case CH_TRAILER_LINE:
		if (c == '\r')
			b->state = CH_TRAILER_LF;
		return c == '\n' ? -1 : 0;
	case CH_TRAILER_LF:
		b->state = CH_TRAILER;
		return c == '\n' ? 0 : -1;
	case CH_END_LF:
		b->done = 1;
		return c == '\n' ? 0 : -1;
	}
	return -1;
}

ssize_t
http_body_scan(struct http_body *b, const char *buf, size_t len)
{
	size_t i = 0, n;

	switch (b->kind) {
	case HTTP_BODY_NONE:
		return 0;
	case HTTP_BODY_EOF:
		return (ssize_t)len;
	case HTTP_BODY_LENGTH:
		n = (b->left < len ? (size_t)b->left : len);
		b->left -= n;
		b->done = (b->left == 0);
		return (ssize_t)n;
	case HTTP_BODY_CHUNKED:
		break;
	}
	while (i < len && !b->done) {
		if (b->state == CH_DATA) {
			n = (b->left < len - i ? (size_t)b->left : len - i);
			b->left -= n;
			i += n;
			if (b->left == 0)
				b->state = CH_DATA_CR;
			continue;
		}
		if (chunk_step(b, buf[i++]) == -1)
			return -1;
	}
	return (ssize_t)i;
}
