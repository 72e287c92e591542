/*
 * WebSocket frame headers and the rules of RFC 6455 section 5 that a proxy
 * can hold both peers to without reading their payload.
 */
#include <string.h>

#include "frame.h"

int
frame_parse_head(const uint8_t *buf, size_t len, struct frame_head *h)
{
	size_t need = 2, i;
	uint64_t n;

	if (len < 2)
		return 0;
	h->fin = buf[0] >> 7;
	h->rsv = (buf[0] >> 4) & 7;
	h->opcode = buf[0] & 0x0f;
	h->masked = buf[1] >> 7;
	n = buf[1] & 0x7f;
	if (n == 126)
		need += 2;
	else if (n == 127)
		need += 8;
	if (h->masked)
		need += 4;
	if (len < need)
		return 0;
	/* the shortest form, and no top bit (section 5.2) */
	if (n == 126) {
		n = (uint64_t)buf[2] << 8 | buf[3];
		if (n < 126)
			return -1;
	} else if (n == 127) {
		for (n = 0, i = 2; i < 10; i++)
			n = n << 8 | buf[i];
		if (n <= 0xffff || n >> 63)
			return -1;
	}
	h->len = n;
	if (h->masked)
		memcpy(h->mask, buf + need - 4, 4);
	else
		memset(h->mask, 0, sizeof(h->mask));
	h->size = need;
	return (int)need;
}

static const char *
refuse(unsigned *code, unsigned c, const char *why)
{
	*code = c;
	return why;
}

/* Section 5.4: control frames may come between the fragments of a message,
 * data frames continue the open message or begin a new one. */
static const char *
check_sequence(const struct frame_msg *m, const struct frame_head *h,
    unsigned *code)
{
	if (h->opcode >= 0x8) {
		if (h->opcode > FRAME_PONG)
			return refuse(code, FRAME_PROTOCOL_ERROR,
			    "unknown control opcode");
		if (!h->fin)
			return refuse(code, FRAME_PROTOCOL_ERROR,
			    "fragmented control frame");
		if (h->len > FRAME_CONTROL_MAX)
			return refuse(code, FRAME_PROTOCOL_ERROR,
			    "control frame over 125 bytes");
		return NULL;
	}
	if (h->opcode > FRAME_BINARY)
		return refuse(code, FRAME_PROTOCOL_ERROR,
		    "unknown data opcode");
	if (h->opcode == FRAME_CONTINUATION && !m->open)
		return refuse(code, FRAME_PROTOCOL_ERROR,
		    "continuation without a message");
	if (h->opcode != FRAME_CONTINUATION && m->open)
		return refuse(code, FRAME_PROTOCOL_ERROR,
		    "new message inside a fragmented one");
	return NULL;
}

const char *
frame_check(struct frame_msg *m, const struct frame_head *h, int from_client,
    unsigned rsv_ok, uint64_t max, unsigned *code)
{
	const char *why;
	unsigned allowed = 0;

	/* section 5.1: every client frame is masked, no server frame is */
	if (h->masked != from_client)
		return refuse(code, FRAME_PROTOCOL_ERROR, from_client ?
		    "unmasked frame from the client" :
		    "masked frame from the server");
	if ((why = check_sequence(m, h, code)) != NULL)
		return why;
	/* RFC 7692: RSV1 marks a compressed message, on its first frame */
	if (h->opcode == FRAME_TEXT || h->opcode == FRAME_BINARY)
		allowed = rsv_ok;
	if ((h->rsv & ~allowed) != 0)
		return refuse(code, FRAME_PROTOCOL_ERROR,
		    "reserved bits set");
	if (h->opcode >= 0x8)
		return NULL;
	if (max > 0 && (h->len > max || m->bytes > max - h->len))
		return refuse(code, FRAME_TOO_BIG, "message too big");
	m->bytes += h->len;
	m->open = !h->fin;
	if (h->fin) {
		m->count++;
		if (m->bytes > m->largest)
			m->largest = m->bytes;
		m->bytes = 0;
	}
	return NULL;
}

void
frame_unmask(uint8_t *dst, const uint8_t *src, size_t n,
    const uint8_t mask[4], uint64_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i] ^ mask[(off + i) & 3];
}

size_t
frame_build(uint8_t *out, unsigned opcode, const uint8_t *mask, const void *p,
    size_t n)
{
	size_t size = 2;

	if (n > FRAME_CONTROL_MAX)
		n = FRAME_CONTROL_MAX;
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	out[1] = (uint8_t)n;
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + 2, mask, 4);
		size += 4;
		frame_unmask(out + size, p, n, mask, 0);
	} else
		memcpy(out + size, p, n);
	return size + n;
}

size_t
frame_build_close(uint8_t *out, const uint8_t *mask, unsigned code,
    const char *reason)
{
	uint8_t p[FRAME_CONTROL_MAX];
	size_t n = strlen(reason);

	if (n > sizeof(p) - 2)
		n = sizeof(p) - 2;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, n);
	return frame_build(out, FRAME_CLOSE, mask, p, n + 2);
}

unsigned
frame_close_code(const uint8_t *p, size_t n, const uint8_t **reason,
    size_t *rlen)
{
	*reason = p;
	*rlen = 0;
	if (n == 0)
		return 1005;	/* section 7.1.5: no status code present */
	if (n == 1)
		return 0;
	*reason = p + 2;
	*rlen = n - 2;
	return (unsigned)p[0] << 8 | p[1];
}
