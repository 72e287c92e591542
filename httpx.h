/*
 * Plain HTTP through the same routes (--http, --http-route): a request that
 * does not ask for a WebSocket goes to the route's backend (ws:// as
 * http://, wss:// as https://) with its body re-framed, and the answer
 * comes back as it arrives.  Several requests may follow one another on one
 * client connection (keep-alive), each over a backend connection of its
 * own, and a WebSocket upgrade may come after them.
 */
#ifndef HTTPX_H
#define HTTPX_H

#include "session.h"

/* Whether the request just read is a plain one that --http passes; its
 * method is kept for the access line. */
int	httpx_applies(struct session *s);
/* The body framing and Expect of a plain request: 0, or the refusal sent
 * (400, 417) and -1. */
int	httpx_framing(struct session *s);
/* The exchange with the backend just dialled, and the request's access
 * line: 0 when the connection may carry another request, else -1. */
int	httpx_exchange(struct session *s);
/* Waits for the next request (at most --http-idle seconds): 0 when its
 * first bytes are in, -1 when the connection ends here. */
int	httpx_next(struct session *s);

/* The access line of a plain request: method, path, status, bytes. */
void	httpx_log(struct session *s);

#endif
