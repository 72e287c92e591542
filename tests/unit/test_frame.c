/* WebSocket frame headers, the stream rules, and the frames wstunnel
 * builds (frame.c), table by table. */
#include <stdint.h>
#include <string.h>

#include "frame.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define B(...)		(const uint8_t[]){ __VA_ARGS__ }

static const struct {
	const char	*name;
	const uint8_t	*in;
	size_t		 len;
	int		 want;		/* header length, 0, -1 */
	int		 fin, masked;
	unsigned	 rsv, opcode;
	uint64_t	 plen;
} heads[] = {
	{ "empty", B(0), 0, 0, 0, 0, 0, 0, 0 },
	{ "one byte", B(0x81), 1, 0, 0, 0, 0, 0, 0 },
	{ "text 5 unmasked", B(0x81, 0x05), 2, 2, 1, 0, 0, 1, 5 },
	{ "text 5 masked", B(0x81, 0x85, 1, 2, 3, 4), 6, 6, 1, 1, 0, 1, 5 },
	{ "masked, mask cut", B(0x81, 0x85, 1, 2, 3), 5, 0, 0, 0, 0, 0, 0 },
	{ "binary no fin", B(0x02, 0x00), 2, 2, 0, 0, 0, 2, 0 },
	{ "rsv1", B(0xc1, 0x01), 2, 2, 1, 0, 4, 1, 1 },
	{ "rsv3", B(0x91, 0x01), 2, 2, 1, 0, 1, 1, 1 },
	{ "126: 16-bit", B(0x82, 0x7e, 0x01, 0x00), 4, 4, 1, 0, 0, 2, 256 },
	{ "126 cut", B(0x82, 0x7e, 0x01), 3, 0, 0, 0, 0, 0, 0 },
	{ "126 not shortest", B(0x82, 0x7e, 0x00, 0x7d), 4, -1, 0, 0, 0, 0,
	    0 },
	{ "126 smallest", B(0x82, 0x7e, 0x00, 0x7e), 4, 4, 1, 0, 0, 2, 126 },
	{ "127: 64-bit", B(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), 10, 10, 1, 0,
	    0, 2, 65536 },
	{ "127 masked", B(0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 9, 9, 9, 9), 14,
	    14, 1, 1, 0, 2, 1ULL << 32 },
	{ "127 cut", B(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0), 9, 0, 0, 0, 0, 0, 0 },
	{ "127 not shortest", B(0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 10,
	    -1, 0, 0, 0, 0, 0 },
	{ "127 top bit", B(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0), 10, -1, 0,
	    0, 0, 0, 0 },
	{ "127 largest", B(0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff), 10, 10, 1, 0, 0, 2, 0x7fffffffffffffffULL },
	{ "close", B(0x88, 0x02, 0x03, 0xe8), 4, 2, 1, 0, 0, 8, 2 },
	{ "ping masked", B(0x89, 0x80, 0, 0, 0, 0), 6, 6, 1, 1, 0, 9, 0 },
};

static void
test_parse_head(void)
{
	struct frame_head h;
	size_t i;

	for (i = 0; i < NITEMS(heads); i++) {
		int r = frame_parse_head(heads[i].in, heads[i].len, &h);

		if (!CHECK_INT(r, heads[i].want, "%s", heads[i].name) || r <= 0)
			continue;
		CHECK_INT(h.size, (size_t)r, "%s: size", heads[i].name);
		CHECK_INT(h.fin, heads[i].fin, "%s: fin", heads[i].name);
		CHECK_INT(h.masked, heads[i].masked, "%s: masked",
		    heads[i].name);
		CHECK_INT(h.rsv, heads[i].rsv, "%s: rsv", heads[i].name);
		CHECK_INT(h.opcode, heads[i].opcode, "%s: opcode",
		    heads[i].name);
		CHECK(h.len == heads[i].plen, "%s: length %llu", heads[i].name,
		    (unsigned long long)h.len);
	}
	/* every proper prefix of a header is incomplete */
	for (i = 0; i < NITEMS(heads); i++) {
		size_t k;

		for (k = 0; heads[i].want > 0 && k < (size_t)heads[i].want;
		    k++)
			CHECK_INT(frame_parse_head(heads[i].in, k, &h), 0,
			    "%s cut to %zu", heads[i].name, k);
	}
}

/* A stream of frames from one side and where frame_check stops it. */
struct seq_case {
	const char	*name;
	int		 from_client;
	unsigned	 rsv_ok;
	uint64_t	 max;
	struct { int fin; unsigned rsv, op; int masked; uint64_t len; }
			 f[5];
	size_t		 n;
	int		 bad_at;	/* index refused, -1 none */
	unsigned	 code;
	uint64_t	 count, largest;
};

static const struct seq_case seqs[] = {
	{ "client text", 1, 0, 0, { { 1, 0, 1, 1, 5 } }, 1, -1, 0, 1, 5 },
	{ "client unmasked", 1, 0, 0, { { 1, 0, 1, 0, 5 } }, 1, 0, 1002, 0,
	    0 },
	{ "server masked", 0, 0, 0, { { 1, 0, 1, 1, 5 } }, 1, 0, 1002, 0, 0 },
	{ "server text", 0, 0, 0, { { 1, 0, 2, 0, 5 } }, 1, -1, 0, 1, 5 },
	{ "fragments, ping between", 0, 0, 0, { { 0, 0, 1, 0, 3 },
	    { 1, 0, 9, 0, 4 }, { 0, 0, 0, 0, 3 }, { 1, 0, 0, 0, 3 } }, 4, -1,
	    0, 1, 9 },
	{ "continuation first", 0, 0, 0, { { 1, 0, 0, 0, 3 } }, 1, 0, 1002,
	    0, 0 },
	{ "text inside a message", 0, 0, 0, { { 0, 0, 1, 0, 3 },
	    { 1, 0, 1, 0, 3 } }, 2, 1, 1002, 0, 0 },
	{ "fragmented ping", 0, 0, 0, { { 0, 0, 9, 0, 3 } }, 1, 0, 1002, 0,
	    0 },
	{ "ping of 126", 0, 0, 0, { { 1, 0, 9, 0, 126 } }, 1, 0, 1002, 0, 0 },
	{ "ping of 125", 0, 0, 0, { { 1, 0, 9, 0, 125 } }, 1, -1, 0, 0, 0 },
	{ "opcode 3", 0, 0, 0, { { 1, 0, 3, 0, 1 } }, 1, 0, 1002, 0, 0 },
	{ "opcode 0xb", 0, 0, 0, { { 1, 0, 0xb, 0, 1 } }, 1, 0, 1002, 0, 0 },
	{ "rsv1 not negotiated", 0, 0, 0, { { 1, 4, 1, 0, 1 } }, 1, 0, 1002,
	    0, 0 },
	{ "rsv1 negotiated", 0, FRAME_RSV1, 0, { { 1, 4, 1, 0, 1 } }, 1, -1,
	    0, 1, 1 },
	{ "rsv1 on a continuation", 0, FRAME_RSV1, 0, { { 0, 4, 1, 0, 1 },
	    { 1, 4, 0, 0, 1 } }, 2, 1, 1002, 0, 0 },
	{ "rsv1 on a ping", 0, FRAME_RSV1, 0, { { 1, 4, 9, 0, 1 } }, 1, 0,
	    1002, 0, 0 },
	{ "rsv2 with deflate", 0, FRAME_RSV1, 0, { { 1, 2, 1, 0, 1 } }, 1, 0,
	    1002, 0, 0 },
	{ "max exactly", 0, 0, 10, { { 0, 0, 2, 0, 4 }, { 1, 0, 0, 0, 6 } },
	    2, -1, 0, 1, 10 },
	{ "max by fragments", 0, 0, 10, { { 0, 0, 2, 0, 4 },
	    { 1, 0, 0, 0, 7 } }, 2, 1, 1009, 0, 0 },
	{ "max in one frame", 1, 0, 10, { { 1, 0, 2, 1, 11 } }, 1, 0, 1009,
	    0, 0 },
	{ "huge frame, max", 0, 0, 10, { { 0, 0, 2, 0, 5 },
	    { 1, 0, 0, 0, 0xffffffffffffffffULL } }, 2, 1, 1009, 0, 0 },
	{ "control frames not counted", 0, 0, 3, { { 1, 0, 9, 0, 100 },
	    { 1, 0, 8, 0, 2 } }, 2, -1, 0, 0, 0 },
	{ "largest of two", 0, 0, 0, { { 1, 0, 1, 0, 7 }, { 1, 0, 2, 0, 3 } },
	    2, -1, 0, 2, 7 },
};

static void
test_check(void)
{
	size_t i, k;

	for (i = 0; i < NITEMS(seqs); i++) {
		const struct seq_case *c = &seqs[i];
		struct frame_msg m;
		int bad = -1;
		unsigned code = 0;

		memset(&m, 0, sizeof(m));
		for (k = 0; k < c->n && bad == -1; k++) {
			struct frame_head h;

			memset(&h, 0, sizeof(h));
			h.fin = c->f[k].fin;
			h.rsv = c->f[k].rsv;
			h.opcode = c->f[k].op;
			h.masked = c->f[k].masked;
			h.len = c->f[k].len;
			if (frame_check(&m, &h, c->from_client, c->rsv_ok,
			    c->max, &code) != NULL)
				bad = (int)k;
		}
		CHECK_INT(bad, c->bad_at, "%s: refused at", c->name);
		if (c->bad_at >= 0)
			CHECK_INT(code, c->code, "%s: code", c->name);
		else {
			CHECK(m.count == c->count, "%s: count %llu", c->name,
			    (unsigned long long)m.count);
			CHECK(m.largest == c->largest, "%s: largest %llu",
			    c->name, (unsigned long long)m.largest);
		}
	}
}

static void
test_build(void)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t out[FRAME_MAX], big[200];
	struct frame_head h;
	const uint8_t *reason;
	size_t n, rlen;

	/* RFC 6455 5.7: a masked "Hello" */
	n = frame_build(out, FRAME_TEXT, mask, "Hello", 5);
	CHECK_MEM((char *)out, n, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51"
	    "\x58", "masked Hello");
	n = frame_build(out, FRAME_PING, NULL, "Hello", 5);
	CHECK_MEM((char *)out, n, "\x89\x05Hello", "unmasked ping");
	CHECK_INT(frame_parse_head(out, n, &h), 2, "ping reparsed");
	n = frame_build(out, FRAME_PONG, mask, "", 0);
	CHECK_MEM((char *)out, n, "\x8a\x80\x37\xfa\x21\x3d", "empty pong");

	memset(big, 'x', sizeof(big));
	n = frame_build(out, FRAME_PING, NULL, big, sizeof(big));
	CHECK_INT(n, (size_t)2 + FRAME_CONTROL_MAX, "payload cut to 125");

	n = frame_build_close(out, NULL, FRAME_GOING_AWAY, "idle");
	CHECK_MEM((char *)out, n, "\x88\x06\x03\xe9idle", "close 1001");
	n = frame_build_close(out, mask, FRAME_TOO_BIG, "message too big");
	if (CHECK_INT(frame_parse_head(out, n, &h), 6, "masked close") &&
	    CHECK(h.len == 17, "masked close length")) {
		uint8_t back[FRAME_CONTROL_MAX];

		frame_unmask(back, out + 6, (size_t)h.len, h.mask, 0);
		CHECK_INT(frame_close_code(back, (size_t)h.len, &reason,
		    &rlen), 1009, "close code back");
		CHECK_MEM((const char *)reason, rlen, "message too big",
		    "close reason back");
	}
	memset(big, 'r', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	n = frame_build_close(out, NULL, FRAME_GOING_AWAY, (char *)big);
	CHECK_INT(n, (size_t)2 + FRAME_CONTROL_MAX, "close reason cut");
}

static void
test_unmask_and_close(void)
{
	static const uint8_t mask[4] = { 1, 2, 3, 4 };
	uint8_t in[8] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
	uint8_t m[8], a[8], b[8];
	const uint8_t *reason;
	size_t rlen;

	frame_unmask(m, in, 8, mask, 0);
	/* in two pieces, the second starting at payload offset 3 */
	frame_unmask(a, m, 3, mask, 0);
	frame_unmask(b, m + 3, 5, mask, 3);
	CHECK_MEM((char *)a, 3, "abc", "unmask first piece");
	CHECK_MEM((char *)b, 5, "defgh", "unmask at an offset");

	CHECK_INT(frame_close_code(B(0), 0, &reason, &rlen), 1005,
	    "empty close");
	CHECK_INT(frame_close_code(B(3), 1, &reason, &rlen), 0,
	    "one-byte close");
	CHECK_INT(frame_close_code(B(0x03, 0xe8), 2, &reason, &rlen), 1000,
	    "close 1000");
	CHECK_INT(rlen, 0, "no reason");
	CHECK_INT(frame_close_code(B(0x0f, 0xa0, 'b', 'y'), 4, &reason,
	    &rlen), 4000, "close 4000");
	CHECK_MEM((const char *)reason, rlen, "by", "its reason");
}

int
main(void)
{
	test_parse_head();
	test_check();
	test_build();
	test_unmask_and_close();
	return t_done();
}
