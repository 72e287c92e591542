/*
 * Request body framing for --http (RFC 9112 sections 6 and 7.1), strict on
 * purpose: see reqbody.h.
 */
#include <string.h>
#include <strings.h>

#include "reqbody.h"
#include "util.h"

/* Where the chunked decoder is. */
enum {
	RB_SIZE,	/* chunk-size digits */
	RB_EXT_NAME,	/* after ";": a token */
	RB_EXT_VALSTART,	/* after "=": a token or a quoted string */
	RB_EXT_TOKEN,
	RB_EXT_QUOTED,
	RB_EXT_QPAIR,	/* after a backslash in a quoted string */
	RB_EXT_AFTERQ,	/* after the closing quote */
	RB_SIZE_LF,	/* CR seen at the end of the size line */
	RB_DATA,
	RB_DATA_CR,
	RB_DATA_LF,
	RB_TR_START,	/* start of a trailer line, or the final CRLF */
	RB_TR_NAME,
	RB_TR_VALUE,
	RB_TR_LF,
	RB_END_LF
};

/* qdtext and the second byte of a quoted-pair: HTAB, SP, VCHAR, obs-text */
static int
is_qchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
field_count(const struct http_request *req, const char *name, int *first)
{
	int i, n = 0;

	*first = -1;
	for (i = 0; (i = http_field_find(req->fields, req->nfields, i,
	    name)) >= 0; i++) {
		if (n++ == 0)
			*first = i;
	}
	return n;
}

int
reqbody_init(const struct http_request *req, struct reqbody *b,
    const char **why)
{
	const struct http_field *f = req->fields;
	int ncl, nte, cl, te;

	memset(b, 0, sizeof(*b));
	ncl = field_count(req, "Content-Length", &cl);
	nte = field_count(req, "Transfer-Encoding", &te);
	*why = NULL;
	if (ncl > 0 && nte > 0)
		*why = "both Content-Length and Transfer-Encoding";
	else if (ncl > 1)
		*why = "more than one Content-Length";
	else if (nte > 1)
		*why = "more than one Transfer-Encoding";
	else if (ncl == 1 && http_parse_length(f[cl].value, f[cl].value_len,
	    &b->length) == -1)
		*why = "malformed Content-Length";
	else if (nte == 1 && (f[te].value_len != 7 ||
	    strncasecmp(f[te].value, "chunked", 7) != 0))
		*why = "Transfer-Encoding other than chunked";
	if (*why != NULL)
		return -1;
	if (nte == 1) {
		b->kind = REQBODY_CHUNKED;
		b->state = RB_SIZE;
	} else if (ncl == 1 && b->length > 0) {
		b->kind = REQBODY_LENGTH;
		b->left = b->length;
	} else {
		b->kind = REQBODY_NONE;
		b->done = 1;
	}
	return 0;
}

/* The size line: digits, then extensions, then CRLF.  0 or -1. */
static int
size_step(struct reqbody *b, unsigned char c)
{
	int v;

	switch (b->state) {
	case RB_SIZE:
		if ((v = hexval((char)c)) >= 0) {
			if (b->digits == REQBODY_MAX_DIGITS)
				return -1;
			b->left = b->left * 16 + (uint64_t)v;
			b->digits++;
			return 0;
		}
		if (b->digits == 0)
			return -1;
		b->count = 0;
		b->tok = 0;
		if (c == ';')
			b->state = RB_EXT_NAME;
		else if (c == '\r')
			b->state = RB_SIZE_LF;
		else
			return -1;
		return 0;
	case RB_SIZE_LF:
		if (c != '\n')
			return -1;
		b->state = (b->left == 0 ? RB_TR_START : RB_DATA);
		b->count = 0;
		return 0;
	}
	return -1;
}

/* chunk-ext = *( ";" ext-name [ "=" ext-val ] ), without BWS: whitespace
 * there is where parsers have disagreed */
static int
ext_step(struct reqbody *b, unsigned char c)
{
	if (++b->count > REQBODY_MAX_EXT)
		return -1;
	switch (b->state) {
	case RB_EXT_NAME:
	case RB_EXT_TOKEN:
		if (http_is_tchar(c)) {
			b->tok++;
			return 0;
		}
		if (b->tok == 0)
			return -1;
		b->tok = 0;
		if (c == '=' && b->state == RB_EXT_NAME)
			b->state = RB_EXT_VALSTART;
		else if (c == ';')
			b->state = RB_EXT_NAME;
		else if (c == '\r')
			b->state = RB_SIZE_LF;
		else
			return -1;
		return 0;
	case RB_EXT_VALSTART:
		if (c == '"')
			b->state = RB_EXT_QUOTED;
		else if (http_is_tchar(c)) {
			b->state = RB_EXT_TOKEN;
			b->tok = 1;
		} else
			return -1;
		return 0;
	case RB_EXT_QUOTED:
		if (c == '"')
			b->state = RB_EXT_AFTERQ;
		else if (c == '\\')
			b->state = RB_EXT_QPAIR;
		else if (!is_qchar(c))
			return -1;
		return 0;
	case RB_EXT_QPAIR:
		b->state = RB_EXT_QUOTED;
		return is_qchar(c) ? 0 : -1;
	case RB_EXT_AFTERQ:
		if (c == ';')
			b->state = RB_EXT_NAME;
		else if (c == '\r')
			b->state = RB_SIZE_LF;
		else
			return -1;
		return 0;
	}
	return -1;
}

/* The CRLF after a chunk's data, and the trailer section: field lines as
 * strict as a head's, read and dropped, then the final CRLF. */
static int
tail_step(struct reqbody *b, unsigned char c)
{
	if (b->state >= RB_TR_START && ++b->count > REQBODY_MAX_TRAILER)
		return -1;
	switch (b->state) {
	case RB_DATA_CR:
		b->state = RB_DATA_LF;
		return c == '\r' ? 0 : -1;
	case RB_DATA_LF:
		b->state = RB_SIZE;
		b->digits = 0;
		b->left = 0;
		return c == '\n' ? 0 : -1;
	case RB_TR_START:
		if (c == '\r')
			b->state = RB_END_LF;
		else if (http_is_tchar(c))
			b->state = RB_TR_NAME;
		else
			return -1;
		return 0;
	case RB_TR_NAME:
		if (c == ':')
			b->state = RB_TR_VALUE;
		else if (!http_is_tchar(c))
			return -1;
		return 0;
	case RB_TR_VALUE:
		if (c == '\r')
			b->state = RB_TR_LF;
		else if (!is_qchar(c))
			return -1;
		return 0;
	case RB_TR_LF:
		b->state = RB_TR_START;
		return c == '\n' ? 0 : -1;
	case RB_END_LF:
		b->done = 1;
		return c == '\n' ? 0 : -1;
	}
	return -1;
}

static int
chunk_step(struct reqbody *b, unsigned char c)
{
	if (b->state == RB_SIZE || b->state == RB_SIZE_LF)
		return size_step(b, c);
	if (b->state >= RB_EXT_NAME && b->state <= RB_EXT_AFTERQ)
		return ext_step(b, c);
	return tail_step(b, c);
}

ssize_t
reqbody_decode(struct reqbody *b, const char *buf, size_t len,
    const char **data, size_t *dlen)
{
	size_t i = 0, n;

	*data = NULL;
	*dlen = 0;
	if (b->done || b->kind == REQBODY_NONE)
		return 0;
	if (b->kind == REQBODY_LENGTH) {
		n = (b->left < len ? (size_t)b->left : len);
		b->left -= n;
		b->done = (b->left == 0);
		*data = buf;
		*dlen = n;
		return (ssize_t)n;
	}
	while (i < len && !b->done) {
		if (b->state == RB_DATA) {
			n = (b->left < len - i ? (size_t)b->left : len - i);
			*data = buf + i;
			*dlen = n;
			b->left -= n;
			if (b->left == 0)
				b->state = RB_DATA_CR;
			return (ssize_t)(i + n);
		}
		if (chunk_step(b, (unsigned char)buf[i++]) == -1)
			return -1;
	}
	return (ssize_t)i;
}
