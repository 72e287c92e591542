/* Frame tracking of one direction (track.c): what a writer that follows
 * track_next() delivers, whatever pieces the bytes arrive in. */
#include <stdint.h>
#include <string.h>

#include "track.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
static const uint8_t ping[TRACK_PING_LEN] = "wstping!";

/* Appends one frame to out at *n. */
static void
put(uint8_t *out, size_t *n, int fin, unsigned op, int masked,
    const char *payload)
{
	size_t len = strlen(payload);

	if (len <= FRAME_CONTROL_MAX && fin) {
		*n += frame_build(out + *n, op, masked ? mask : NULL, payload,
		    len);
		return;
	}
	out[(*n)++] = (uint8_t)((fin ? 0x80 : 0) | op);
	out[(*n)++] = (uint8_t)((masked ? 0x80 : 0) | len);
	if (masked) {
		memcpy(out + *n, mask, 4);
		*n += 4;
		frame_unmask(out + *n, (const uint8_t *)payload, len, mask, 0);
	} else
		memcpy(out + *n, payload, len);
	*n += len;
}

struct run {
	uint8_t		 out[4096];
	size_t		 outlen;
	int		 failed;	/* TRACK_FAIL seen */
	unsigned	 code;
	size_t		 boundaries;	/* times the writer stood between
					   frames with bytes waiting */
};

/* Feeds in[0..len) in pieces of k bytes to a writer that does what
 * track_next() says, each step taking at most w bytes. */
static void
simulate(struct track *t, const uint8_t *in, size_t len, size_t k, size_t w,
    struct run *r)
{
	uint8_t buf[4096];
	size_t have = 0, fed = 0;
	struct track_step st;

	memset(r, 0, sizeof(*r));
	while (!r->failed && (fed < len || have > 0)) {
		size_t add = len - fed < k ? len - fed : k;

		memcpy(buf + have, in + fed, add);
		have += add;
		fed += add;
		for (;;) {
			if (have > 0 && track_at_boundary(t))
				r->boundaries++;
			track_next(t, buf, have, &st);
			if (st.act == TRACK_NEED || (st.act == TRACK_WRITE &&
			    st.n == 0))
				break;
			if (st.act == TRACK_FAIL) {
				r->failed = 1;
				r->code = st.code;
				break;
			}
			if (st.act == TRACK_WRITE) {
				if (st.n > w)
					st.n = w;
				memcpy(r->out + r->outlen, buf, st.n);
				r->outlen += st.n;
				track_wrote(t, st.n);
			}
			memmove(buf, buf + st.n, have - st.n);
			have -= st.n;
		}
		if (add == 0)
			break;		/* the input ended inside a frame */
	}
}

static void
test_passes_everything(void)
{
	uint8_t in[2048];
	size_t n = 0, k, w;
	char big[300];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(in, &n, 0, FRAME_TEXT, 1, "frag1");
	put(in, &n, 1, FRAME_PING, 1, "theirs");
	put(in, &n, 1, FRAME_CONTINUATION, 1, "frag2");
	put(in, &n, 1, FRAME_BINARY, 1, "");
	put(in, &n, 1, FRAME_PONG, 1, "notours");
	put(in, &n, 1, FRAME_CLOSE, 1, "\x03\xe8" "bye");
	for (k = 1; k <= n; k++) {
		for (w = 1; w <= 7; w += 3) {
			struct track t;
			struct run r;

			track_init(&t, 1, 0, 0);
			simulate(&t, in, n, k, w, &r);
			CHECK(!r.failed, "pieces of %zu, writes of %zu: failed",
			    k, w);
			CHECK(r.outlen == n && memcmp(r.out, in, n) == 0,
			    "pieces of %zu, writes of %zu: %zu of %zu bytes",
			    k, w, r.outlen, n);
			CHECK_INT(t.close_code, 1000, "close code, pieces "
			    "of %zu", k);
			CHECK_MEM((char *)t.reason, t.reason_len, "bye",
			    "close reason");
			CHECK(t.msg.count == 2, "two messages");
		}
	}
}

static void
test_drops_our_pong(void)
{
	uint8_t in[512], want[512];
	size_t n = 0, m = 0, k;

	put(in, &n, 1, FRAME_TEXT, 0, "a");
	put(want, &m, 1, FRAME_TEXT, 0, "a");
	put(in, &n, 1, FRAME_PONG, 0, "wstping!");
	put(in, &n, 1, FRAME_PONG, 0, "wstping!");	/* a second: passes */
	put(want, &m, 1, FRAME_PONG, 0, "wstping!");
	put(in, &n, 1, FRAME_TEXT, 0, "b");
	put(want, &m, 1, FRAME_TEXT, 0, "b");
	for (k = 1; k <= n; k++) {
		struct track t;
		struct run r;

		track_init(&t, 0, 0, 0);
		memcpy(t.ping, ping, sizeof(ping));
		t.ping_out = 1;
		simulate(&t, in, n, k, 4096, &r);
		CHECK(!r.failed && r.outlen == m &&
		    memcmp(r.out, want, m) == 0, "pieces of %zu: our pong "
		    "dropped, the rest passed", k);
		CHECK(t.pong_seen && !t.ping_out, "pieces of %zu: pong seen",
		    k);
	}
	{
		struct track t;
		struct run r;

		track_init(&t, 0, 0, 0);
		memcpy(t.ping, ping, sizeof(ping));	/* none awaited */
		simulate(&t, in, n, n, 4096, &r);
		CHECK(r.outlen == n && !t.pong_seen, "no ping out: every "
		    "pong passes");
	}
}

static const struct {
	const char	*name;
	int		 from_client;
	uint64_t	 max;
	unsigned	 code;
	size_t		 passed;	/* frames written before the cut */
} fails[] = {
	{ "unmasked from the client", 1, 0, 1002, 1 },
	{ "masked from the server", 0, 0, 1002, 1 },
	{ "message over the limit", 1, 3, 1009, 0 },
};

static void
test_cut_at_a_boundary(void)
{
	size_t i, k;

	for (i = 0; i < NITEMS(fails); i++) {
		uint8_t in[256], ok[256];
		size_t n = 0, m = 0;

		if (fails[i].passed) {
			put(in, &n, 1, FRAME_TEXT, fails[i].from_client, "ok");
			memcpy(ok, in, n);
			m = n;
		}
		put(in, &n, 1, FRAME_TEXT, !fails[i].from_client ||
		    fails[i].max > 0, "broken");
		for (k = 1; k <= n; k++) {
			struct track t;
			struct run r;

			track_init(&t, fails[i].from_client, 0, fails[i].max);
			simulate(&t, in, n, k, 4096, &r);
			CHECK(r.failed, "%s, pieces of %zu: cut", fails[i].name,
			    k);
			CHECK_INT(r.code, fails[i].code, "%s: code",
			    fails[i].name);
			CHECK(r.outlen == m && memcmp(r.out, ok, m) == 0,
			    "%s, pieces of %zu: %zu bytes before the cut",
			    fails[i].name, k, r.outlen);
			CHECK(track_at_boundary(&t), "%s: cut between frames",
			    fails[i].name);
		}
	}
}

static void
test_broken_close_and_header(void)
{
	static const uint8_t close1[] = { 0x88, 0x01, 0x03 };
	static const uint8_t longlen[] = { 0x82, 0x7e, 0x00, 0x05 };
	struct track t;
	struct track_step st;

	track_init(&t, 0, 0, 0);
	track_next(&t, close1, sizeof(close1), &st);
	CHECK(st.act == TRACK_FAIL && st.code == 1002, "one-byte close");
	track_init(&t, 0, 0, 0);
	track_next(&t, longlen, sizeof(longlen), &st);
	CHECK(st.act == TRACK_FAIL && st.code == 1002, "length not in its "
	    "shortest form");
	track_init(&t, 0, 0, 0);
	track_next(&t, longlen, 1, &st);
	CHECK(st.act == TRACK_NEED, "one byte: need more");
}

static void
test_boundaries(void)
{
	uint8_t in[512];
	size_t n = 0;
	struct track t;
	struct run r;

	/* a writer taking a byte at a time stands between frames once per
	 * frame, and not inside one */
	put(in, &n, 0, FRAME_TEXT, 0, "abc");
	put(in, &n, 1, FRAME_PING, 0, "p");
	put(in, &n, 1, FRAME_CONTINUATION, 0, "def");
	track_init(&t, 0, 0, 0);
	simulate(&t, in, n, n, 1, &r);
	CHECK_INT(r.boundaries, 3, "three frames, three boundaries");
}

int
main(void)
{
	test_passes_everything();
	test_drops_our_pong();
	test_cut_at_a_boundary();
	test_broken_close_and_header();
	test_boundaries();
	return t_done();
}
