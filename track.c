/*
 * One direction's frames, decided at the write position: a frame's header
 * is checked before its first byte is written, so a broken stream is cut at
 * a frame boundary, where a Close can still follow.
 */
#include <string.h>

#include "track.h"

void
track_init(struct track *t, int from_client, unsigned rsv_ok, uint64_t max)
{
	memset(t, 0, sizeof(*t));
	t->from_client = from_client;
	t->rsv_ok = rsv_ok;
	t->max = max;
}

int
track_at_boundary(const struct track *t)
{
	return t->left == 0;
}

void
track_wrote(struct track *t, size_t n)
{
	t->left -= n < t->left ? n : t->left;
}

static void
step(struct track_step *st, enum track_act act, size_t n)
{
	st->act = act;
	st->n = n;
	st->code = 0;
	st->why = NULL;
}

/* A whole control frame at buf: drop a Pong to our Ping, note a Close. */
static void
control(struct track *t, const uint8_t *buf, const struct frame_head *h,
    struct track_step *st)
{
	uint8_t p[FRAME_CONTROL_MAX];
	const uint8_t *reason;
	size_t n = (size_t)h->len, rlen;

	frame_unmask(p, buf + h->size, n, h->mask, 0);
	if (h->opcode == FRAME_PONG && t->ping_out && n == TRACK_PING_LEN &&
	    memcmp(p, t->ping, n) == 0) {
		t->ping_out = 0;
		t->pong_seen = 1;
		step(st, TRACK_DROP, h->size + n);
		return;
	}
	if (h->opcode == FRAME_CLOSE && t->close_code == 0) {
		t->close_code = frame_close_code(p, n, &reason, &rlen);
		if (t->close_code == 0) {
			st->act = TRACK_FAIL;
			st->code = FRAME_PROTOCOL_ERROR;
			st->why = "close frame of one byte";
			return;
		}
		memcpy(t->reason, reason, rlen);
		t->reason_len = rlen;
	}
	t->left = h->size + n;
	step(st, TRACK_WRITE, h->size + n);
}

void
track_next(struct track *t, const uint8_t *buf, size_t len,
    struct track_step *st)
{
	struct frame_head h;
	int r;

	if (t->left > 0) {
		step(st, TRACK_WRITE, len < t->left ? len : (size_t)t->left);
		return;
	}
	if ((r = frame_parse_head(buf, len, &h)) == 0 ||
	    (r > 0 && h.opcode >= 0x8 && h.len <= FRAME_CONTROL_MAX &&
	    len < h.size + h.len)) {
		step(st, TRACK_NEED, 0);
		return;
	}
	step(st, TRACK_FAIL, 0);
	if (r == -1) {
		st->code = FRAME_PROTOCOL_ERROR;
		st->why = "malformed frame header";
		return;
	}
	if ((st->why = frame_check(&t->msg, &h, t->from_client, t->rsv_ok,
	    t->max, &st->code)) != NULL)
		return;
	if (h.opcode >= 0x8) {
		control(t, buf, &h, st);
		return;
	}
	t->left = h.size + h.len;
	step(st, TRACK_WRITE, len < t->left ? len : (size_t)t->left);
}
