/*
 * Frame tracking in the relay.  Each direction's bytes are written only as
 * far as track_next() allows: a frame's header is checked before its first
 * byte goes out, so that a stream that breaks RFC 6455 is cut between two
 * frames and each side can still be sent a Close.  wstunnel's own control
 * frames wait in a small slot per direction and go out between frames
 * (section 5.4 allows that between the fragments of a message too).
 */
#include <string.h>

#include <stdlib.h>

#include "conn.h"
#include "log.h"
#include "relay.h"
#include "util.h"
#include "wsrelay.h"

enum { WS_NONE, WS_STREAM, WS_INJ };

#define GOODBYE_MS	1000	/* for the Close frames at the end */

void
ws_tunnel_init(struct ws_tunnel *w, int deflate, uint64_t max, int ping_ms,
    int pong_ms)
{
	int64_t now = now_ms();

	memset(w, 0, sizeof(*w));
	track_init(&w->up.trk, 1, deflate ? FRAME_RSV1 : 0, max);
	track_init(&w->down.trk, 0, deflate ? FRAME_RSV1 : 0, max);
	w->up.heard = w->down.heard = now;
	w->up.rtt = w->down.rtt = -1;
	w->ping_ms = ping_ms;
	w->pong_ms = pong_ms;
}

/* A control frame of ours goes now: between frames, or it has begun. */
static int
inject_now(const struct ws_dir *w)
{
	if (w->injoff >= w->injlen || w->retry == WS_STREAM)
		return 0;
	return w->injoff > 0 || w->retry == WS_INJ ||
	    track_at_boundary(&w->trk);
}

int
ws_ready(const struct relay_dir *d)
{
	const struct ws_dir *w = d->ws;

	if (w->failed)
		return 0;
	return inject_now(w) || (d->len > 0 && (!w->need || d->eof));
}

static void
consume(struct relay_dir *d, size_t n)
{
	d->off += n;
	d->len -= n;
	if (d->len == 0)
		d->off = 0;
}

/* One step of the stream: bytes written, 0 when it must wait (nothing
 * written), 1 more to go round for a dropped Pong, or CONN_*. */
static ssize_t
stream_step(struct relay_dir *d, int *dropped)
{
	struct ws_dir *w = d->ws;
	const uint8_t *p = (const uint8_t *)d->buf + d->off;
	struct track_step st;
	ssize_t n;

	*dropped = 0;
	track_next(&w->trk, p, d->len, &st);
	switch (st.act) {
	case TRACK_DROP:
		consume(d, st.n);
		*dropped = 1;
		return 1;
	case TRACK_FAIL:
		w->failed = 1;
		w->code = st.code;
		w->why = st.why;
		return CONN_ERR;
	case TRACK_NEED:
		if (!d->eof) {
			w->need = 1;
			return 0;
		}
		/* a frame cut short by the end of the stream: pass it on,
		 * the peer will see it is short */
		st.n = d->len;
		break;
	case TRACK_WRITE:
		break;
	}
	if ((n = conn_write(d->dst, p, st.n)) > 0) {
		if (st.act == TRACK_WRITE)
			track_wrote(&w->trk, (size_t)n);
		consume(d, (size_t)n);
		d->bytes += (uint64_t)n;
	}
	return n;
}

int
ws_drain(struct relay_dir *d)
{
	struct ws_dir *w = d->ws;

	while (ws_ready(d)) {
		int kind = WS_STREAM, dropped = 0;
		ssize_t n;

		if (inject_now(w)) {
			kind = WS_INJ;
			n = conn_write(d->dst, w->inj + w->injoff,
			    w->injlen - w->injoff);
			if (n > 0 && (w->injoff += (size_t)n) == w->injlen)
				w->injoff = w->injlen = 0;
		} else if ((n = stream_step(d, &dropped)) == 0 && w->need)
			return 0;
		if (dropped)
			continue;
		if (n == CONN_ERR || n == 0)
			return -1;
		if (n < 0) {
			d->wwant = (int)n;
			w->retry = kind;
			return 0;
		}
		d->wwant = CONN_WANT_WRITE;
		w->retry = WS_NONE;
	}
	return w->failed ? -1 : 0;
}

void
ws_heard(struct relay_dir *d)
{
	d->ws->heard = now_ms();
	d->ws->need = 0;
}

/* A Ping to the source of d, through the slot of the other direction. */
static void
ping(struct relay_dir *d, struct relay_dir *back, int64_t now)
{
	uint8_t mask[4];
	struct ws_dir *w = d->ws;

	arc4random_buf(w->trk.ping, sizeof(w->trk.ping));
	arc4random_buf(mask, sizeof(mask));
	/* toward the backend every frame is masked, toward a client none */
	back->ws->injlen = frame_build(back->ws->inj, FRAME_PING,
	    w->trk.from_client ? NULL : mask, w->trk.ping,
	    sizeof(w->trk.ping));
	back->ws->injoff = 0;
	w->trk.ping_out = 1;
	w->pinged = now;
}

static int64_t
soonest(int64_t a, int64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

/* One side's Pings: 1 when it has not answered in time. */
static int
side_tick(struct ws_tunnel *w, struct relay_dir *d, struct relay_dir *back,
    int64_t now, int64_t *next)
{
	struct ws_dir *s = d->ws;

	if (s->trk.pong_seen) {
		s->trk.pong_seen = 0;
		s->rtt = now - s->pinged;
		s->pinged = 0;
	}
	if (s->pinged != 0) {
		if (now >= s->pinged + w->pong_ms)
			return 1;
		*next = soonest(*next, s->pinged + w->pong_ms);
		return 0;
	}
	if (w->ping_ms == 0 || d->eof || back->shut || s->trk.close_code)
		return 0;
	if (now >= s->heard + w->ping_ms && back->ws->injlen == 0)
		ping(d, back, now);
	else
		*next = soonest(*next, s->heard + w->ping_ms);
	return 0;
}

/* Whether a Close from d's source has gone all the way through. */
static int
close_passed(const struct relay_dir *d)
{
	return d->ws->trk.close_code != 0 && track_at_boundary(&d->ws->trk);
}

int
ws_tick(struct relay *r, int64_t *next)
{
	struct ws_tunnel *w = r->ws;
	int64_t now = now_ms();

	*next = 0;
	if (w->closer == NULL && (close_passed(&r->up) ||
	    close_passed(&r->down)))
		w->closer = close_passed(&r->up) ? "client" : "backend";
	/* both Closes through: the handshake is done, nothing may follow */
	if (close_passed(&r->up) && close_passed(&r->down)) {
		r->end = strcmp(w->closer, "client") == 0 ? "client-closed" :
		    "backend-closed";
		return 1;
	}
	if (side_tick(w, &r->up, &r->down, now, next))
		r->end = "client-unresponsive";
	else if (side_tick(w, &r->down, &r->up, now, next))
		r->end = "backend-unresponsive";
	return r->end != NULL;
}

/* Whether the session's end, as the relay named it, leaves dst writable. */
static int
writable(const struct relay *r, const struct relay_dir *d)
{
	const char *gone = d == &r->up ? "backend-error" : "client-error";

	return !d->shut && strcmp(r->end, gone) != 0 &&
	    strcmp(r->end, "poll-error") != 0;
}

/* A Close to d's destination, after whatever of ours it had begun. */
static void
say_goodbye(struct relay_dir *d, unsigned code, const char *why,
    int64_t deadline)
{
	struct ws_dir *w = d->ws;
	uint8_t mask[4], out[FRAME_MAX];
	size_t n;

	if (!track_at_boundary(&w->trk) || w->trk.close_code != 0)
		return;		/* inside a frame, or a Close went already */
	if (w->injoff > 0 && conn_write_all(d->dst, w->inj + w->injoff,
	    w->injlen - w->injoff, deadline) != 0)
		return;
	/* the client's frames come to the backend masked, ours too */
	arc4random_buf(mask, sizeof(mask));
	n = frame_build_close(out, w->trk.from_client ? mask : NULL, code,
	    why);
	(void)conn_write_all(d->dst, out, n, deadline);
}

void
ws_goodbye(struct relay *r)
{
	struct relay_dir *bad = r->up.ws->failed ? &r->up :
	    r->down.ws->failed ? &r->down : NULL;
	unsigned code = bad != NULL ? bad->ws->code : FRAME_GOING_AWAY;
	const char *why = bad != NULL ? bad->ws->why : r->end;
	int64_t deadline = now_ms() + GOODBYE_MS;

	if (strcmp(r->end, "client-closed") == 0 ||
	    strcmp(r->end, "backend-closed") == 0)
		return;		/* the peers closed; nothing is owed */
	if (writable(r, &r->up))
		say_goodbye(&r->up, code, why, deadline);
	if (writable(r, &r->down))
		say_goodbye(&r->down, code, why, deadline);
}

void
ws_summary(const struct ws_tunnel *w, char *buf, size_t size)
{
	const struct ws_dir *c = w->closer == NULL ? NULL :
	    strcmp(w->closer, "client") == 0 ? &w->up : &w->down;
	uint64_t largest = w->up.trk.msg.largest > w->down.trk.msg.largest ?
	    w->up.trk.msg.largest : w->down.trk.msg.largest;
	int n;

	n = snprintf(buf, size, " msgs_up=%llu msgs_down=%llu largest=%llu",
	    (unsigned long long)w->up.trk.msg.count,
	    (unsigned long long)w->down.trk.msg.count,
	    (unsigned long long)largest);
	if (n < 0 || (size_t)n >= size)
		return;
	if (c != NULL) {
		char reason[FRAME_CONTROL_MAX * 4 + 1];

		n += snprintf(buf + n, size - (size_t)n,
		    " ws_close=%s:%u ws_reason=\"%s\"", w->closer,
		    c->trk.close_code, log_safe((const char *)c->trk.reason,
		    c->trk.reason_len, reason, sizeof(reason)));
	}
	if (n < 0 || (size_t)n >= size)
		return;
	if (w->up.rtt >= 0 || w->down.rtt >= 0)
		snprintf(buf + n, size - (size_t)n, " rtt_client=%lld "
		    "rtt_backend=%lld", (long long)w->up.rtt,
		    (long long)w->down.rtt);
}
