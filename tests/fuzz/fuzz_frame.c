/*
 * fuzz_frame: a stream of WebSocket frames the way the relay's frame
 * tracking reads it: a header with frame_parse_head() on what has arrived,
 * frame_check() against the direction's rules, the payload skipped (control
 * payloads unmasked and, for Close, decoded).  The first input byte chooses
 * the direction (bit 0), permessage-deflate (bit 1) and a message limit
 * (bits 2-7, 0: none); the rest is what the peer sent.
 *
 * Checks:
 *   - a header's length is 2 to 14 and within the input; its fields are
 *     those of its first bytes (FIN, RSV, opcode, mask bit);
 *   - every proper prefix of a complete header is incomplete, and a header
 *     followed by other bytes parses the same;
 *   - frame_check() refuses with 1002 or 1009 only, and 1009 only with a
 *     limit; once it accepts, control frames are at most 125 bytes and
 *     final, and a message never counts past the limit;
 *   - a control frame built from the payload read parses back to the same
 *     opcode, length and payload, masked or not.
 */
#include <stdint.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

static void
check_head(const uint8_t *d, size_t n, int r, const struct frame_head *h)
{
	struct frame_head h2;
	uint8_t buf[FRAME_HEAD_MAX + 8];
	size_t k;

	CHECK("head-length", r >= 2 && r <= FRAME_HEAD_MAX && (size_t)r <= n &&
	    h->size == (size_t)r);
	CHECK("head-fields", h->fin == d[0] >> 7 && h->rsv == ((d[0] >> 4) & 7)
	    && h->opcode == (d[0] & 0xfu) && h->masked == d[1] >> 7);
	for (k = 0; k < (size_t)r; k++)
		CHECK("prefix-incomplete", frame_parse_head(d, k, &h2) == 0);
	memcpy(buf, d, (size_t)r);
	memset(buf + r, 0xff, 8);
	CHECK("appended", frame_parse_head(buf, (size_t)r + 8, &h2) == r &&
	    h2.len == h->len && memcmp(h2.mask, h->mask, 4) == 0);
}

static void
check_control(const uint8_t *p, size_t n, const struct frame_head *h)
{
	static const uint8_t mask[4] = { 9, 8, 7, 6 };
	uint8_t plain[FRAME_CONTROL_MAX], out[FRAME_MAX], back[FRAME_MAX];
	struct frame_head h2;
	const uint8_t *reason;
	size_t m, rlen;

	frame_unmask(plain, p, n, h->mask, 0);
	if (h->opcode == FRAME_CLOSE) {
		unsigned code = frame_close_code(plain, n, &reason, &rlen);
		CHECK("close-code", (n == 0 && code == 1005) ||
		    (n == 1 && code == 0) || (n >= 2 && rlen == n - 2 &&
		    reason == plain + 2));
	}
	m = frame_build(out, h->opcode, h->masked ? mask : NULL, plain, n);
	CHECK("build-parse", frame_parse_head(out, m, &h2) > 0 &&
	    h2.opcode == h->opcode && h2.len == n && h2.fin &&
	    h2.size + n == m);
	frame_unmask(back, out + h2.size, n, h2.mask, 0);
	CHECK("build-payload", memcmp(back, plain, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct frame_msg m;
	struct frame_head h;
	uint64_t max;
	unsigned code;
	int from_client, r;
	unsigned rsv_ok;

	if (n < 1)
		return 0;
	from_client = d[0] & 1;
	rsv_ok = (d[0] & 2) ? FRAME_RSV1 : 0;
	max = d[0] >> 2;
	d++;
	n--;
	memset(&m, 0, sizeof(m));
	while ((r = frame_parse_head(d, n, &h)) > 0) {
		uint64_t before = m.bytes;
		const char *why;

		check_head(d, n, r, &h);
		code = 0;
		why = frame_check(&m, &h, from_client, rsv_ok, max, &code);
		if (why != NULL) {
			CHECK("refusal-code", code == FRAME_PROTOCOL_ERROR ||
			    (code == FRAME_TOO_BIG && max > 0));
			return 0;
		}
		if (h.opcode >= 0x8)
			CHECK("control-rules", h.fin && h.len <= 125 &&
			    m.bytes == before);
		CHECK("limit", max == 0 || (m.bytes <= max &&
		    m.largest <= max));
		d += r;
		n -= (size_t)r;
		if (h.len > n)
			return 0;
		if (h.opcode >= 0x8)
			check_control(d, (size_t)h.len, &h);
		d += h.len;
		n -= (size_t)h.len;
	}
	CHECK("result", r == 0 || r == -1);
	return 0;
}
