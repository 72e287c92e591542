/*
 * Request body framing for plain HTTP (--http): which framing a request
 * head declares, and a strict chunked decoder.  Pure functions over the
 * caller's buffers, so that a body is streamed in pieces of any size with
 * a fixed amount of state, unit-tested on literals and fuzzed.
 *
 * Anything two parsers could read two ways is refused before a backend
 * is contacted (RFC 9112 sections 6.1 to 6.3 and 11.2, request smuggling):
 * Content-Length together with Transfer-Encoding, a duplicated or list-valued
 * Content-Length, a Transfer-Encoding other than exactly "chunked", malformed
 * chunk sizes, extensions and trailers.  The backend gets the body re-framed
 * by wstunnel, never the client's framing bytes.
 */
#ifndef REQBODY_H
#define REQBODY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"

#define REQBODY_MAX_DIGITS	15	/* a chunk size below 2^60 */
#define REQBODY_MAX_EXT		1024	/* extension bytes on one size line */
#define REQBODY_MAX_TRAILER	8192	/* trailer section bytes */

enum reqbody_kind {
	REQBODY_NONE,		/* no body */
	REQBODY_LENGTH,		/* Content-Length */
	REQBODY_CHUNKED		/* Transfer-Encoding: chunked */
};

struct reqbody {
	enum reqbody_kind kind;
	uint64_t	 length;	/* LENGTH: declared */
	uint64_t	 left;		/* LENGTH: to come; CHUNKED: of this chunk */
	int		 state;		/* CHUNKED: where in the framing */
	unsigned	 digits;	/* of this chunk size */
	size_t		 count;		/* extension or trailer bytes so far */
	size_t		 tok;		/* bytes of this extension token */
	int		 done;		/* the body has ended */
};

/*
 * The framing of req's body: 0, or -1 with why (for a 400) when the head is
 * ambiguous about where its body ends.
 */
int	reqbody_init(const struct http_request *req, struct reqbody *b,
	    const char **why);

/*
 * Decodes from buf[0..len): returns the bytes consumed, or -1 when the
 * framing is malformed.  At most one span of body data is found per call,
 * at *data (inside buf) for *dlen bytes (0: none).  Call again with what
 * is left until it consumes nothing or b->done is set; bytes after the
 * body's end are never consumed.
 */
ssize_t	reqbody_decode(struct reqbody *b, const char *buf, size_t len,
	    const char **data, size_t *dlen);

#endif
