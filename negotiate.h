/*
 * What the backend's 101 may choose of what the client offered (RFC 6455
 * section 4.1): a subprotocol from the client's Sec-WebSocket-Protocol
 * list, extensions from its Sec-WebSocket-Extensions.  A client must fail a
 * connection whose 101 chose anything else; wstunnel answers 502 instead, and
 * says why.  Pure functions over parsed fields.
 */
#ifndef NEGOTIATE_H
#define NEGOTIATE_H

#include <stddef.h>

#include "http.h"

/* NULL when the answer res[0..nres) keeps to the offer req[0..nreq), else
 * why not. */
const char *negotiate_check(const struct http_field *req, size_t nreq,
	    const struct http_field *res, size_t nres);

/* Whether the answer accepted permessage-deflate (RFC 7692), which lets a
 * message's first frame carry RSV1. */
int	negotiate_deflate(const struct http_field *res, size_t nres);

#endif
