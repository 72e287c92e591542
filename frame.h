/*
 * WebSocket frames (RFC 6455 section 5): the header, the rules a stream of
 * frames must keep, and the few frames wstunnel writes itself (Ping, Close).
 * Pure functions over the caller's bytes; the payload of a data frame is
 * never looked at, and never unmasked.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEAD_MAX		14	/* 2, 8-byte length, 4-byte mask */
#define FRAME_CONTROL_MAX	125	/* a control frame's payload */
#define FRAME_MAX		(FRAME_HEAD_MAX + FRAME_CONTROL_MAX)

enum {
	FRAME_CONTINUATION = 0x0, FRAME_TEXT = 0x1, FRAME_BINARY = 0x2,
	FRAME_CLOSE = 0x8, FRAME_PING = 0x9, FRAME_PONG = 0xa
};

/* Close status codes wstunnel sends (RFC 6455 section 7.4.1). */
enum {
	FRAME_GOING_AWAY = 1001, FRAME_PROTOCOL_ERROR = 1002,
	FRAME_TOO_BIG = 1009
};

#define FRAME_RSV1	4	/* permessage-deflate's bit (RFC 7692) */

struct frame_head {
	int		 fin;
	unsigned	 rsv;		/* RSV1..3 as a 3-bit number */
	unsigned	 opcode;
	int		 masked;
	uint8_t		 mask[4];
	uint64_t	 len;		/* of the payload */
	size_t		 size;		/* of the header itself */
};

/* What one direction has seen of messages so far. */
struct frame_msg {
	int		 open;		/* a fragmented message awaits its FIN */
	uint64_t	 bytes;		/* of the message being received */
	uint64_t	 count;		/* messages completed */
	uint64_t	 largest;	/* the largest of them, in bytes */
};

/* The length of the header at buf[0..len) (2 to 14), 0 while it is
 * incomplete, -1 when it is malformed (a length not in its shortest form,
 * or with the top bit set: RFC 6455 section 5.2). */
int	frame_parse_head(const uint8_t *buf, size_t len, struct frame_head *h);

/*
 * Whether frame h may come next from a client (from_client) or from a
 * server: NULL, or why not, with *code the status to close with.  rsv_ok
 * are the RSV bits a negotiated extension allows on a message's first
 * frame; max is the largest message in bytes, 0 for no limit.  Counts the
 * frame into m when it is allowed.
 */
const char *frame_check(struct frame_msg *m, const struct frame_head *h,
	    int from_client, unsigned rsv_ok, uint64_t max, unsigned *code);

/* Writes a frame of payload p[0..n) (n <= FRAME_CONTROL_MAX) into out (at
 * least FRAME_MAX bytes), masked with mask, or unmasked when mask is NULL;
 * returns its length. */
size_t	frame_build(uint8_t *out, unsigned opcode, const uint8_t *mask,
	    const void *p, size_t n);

/* A Close frame with code and reason (cut to fit), as frame_build(). */
size_t	frame_build_close(uint8_t *out, const uint8_t *mask, unsigned code,
	    const char *reason);

/* Copies n payload bytes from src to dst unmasked; off is src's offset in
 * the payload, which decides the mask byte each starts with. */
void	frame_unmask(uint8_t *dst, const uint8_t *src, size_t n,
	    const uint8_t mask[4], uint64_t off);

/* The code of an unmasked Close payload p[0..n): 1005 (none given) for an
 * empty one, 0 for a malformed one (one byte long); *reason and *rlen get
 * the reason's bytes. */
unsigned frame_close_code(const uint8_t *p, size_t n, const uint8_t **reason,
	    size_t *rlen);

#endif
