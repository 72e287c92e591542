/*
 * Frame tracking for one direction of the tunnel: which of the bytes waiting
 * in the relay's buffer may be written now, which are a Pong of wstunnel's
 * own to drop, and when the stream breaks RFC 6455.  It reads frame headers
 * and control frames only; a data frame's payload passes untouched.  Pure:
 * the relay owns the buffer and the writing, track_next() only decides.
 */
#ifndef TRACK_H
#define TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define TRACK_PING_LEN	8	/* the payload of wstunnel's own Ping */

enum track_act {
	TRACK_WRITE,		/* write n bytes as they are */
	TRACK_DROP,		/* drop n bytes: a Pong to wstunnel's Ping */
	TRACK_NEED,		/* a header or control frame is incomplete */
	TRACK_FAIL		/* the stream broke a rule: close with code */
};

struct track_step {
	enum track_act	 act;
	size_t		 n;
	unsigned	 code;
	const char	*why;
};

struct track {
	int		 from_client;	/* the source is the client */
	unsigned	 rsv_ok;	/* FRAME_RSV1 with permessage-deflate */
	uint64_t	 max;		/* largest message, 0: any */
	uint64_t	 left;		/* of the frame being written */
	struct frame_msg msg;
	uint8_t		 ping[TRACK_PING_LEN];	/* sent to the source */
	int		 ping_out;	/* a Pong to it is awaited */
	int		 pong_seen;	/* and came: the relay clears it */
	unsigned	 close_code;	/* of the source's Close, 0: none */
	uint8_t		 reason[FRAME_CONTROL_MAX];
	size_t		 reason_len;
};

void	track_init(struct track *t, int from_client, unsigned rsv_ok,
	    uint64_t max);
/* What to do with buf[0..len), the bytes waiting at the write position. */
void	track_next(struct track *t, const uint8_t *buf, size_t len,
	    struct track_step *st);
/* n bytes of a TRACK_WRITE step were written. */
void	track_wrote(struct track *t, size_t n);
/* Whether the write position is between frames, where a control frame of
 * wstunnel's own may be put (RFC 6455 section 5.4 allows it between the
 * fragments of a message too). */
int	track_at_boundary(const struct track *t);

#endif
