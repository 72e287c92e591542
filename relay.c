/*
 * The tunnel's poll() loop, after OpenBSD nc's readwrite(): per direction a
 * source, a destination and one bounded store between them; a source is
 * polled only while its store has room and a destination only while the
 * store holds something, which is all the back-pressure there is.
 *
 * The store is a user-space buffer, or, when neither side is TLS and the
 * frames are not followed (wsrelay.c), a pipe the bytes are splice()d
 * through without being copied into this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "sig.h"
#include "util.h"

enum { UP_IN, UP_OUT, DOWN_IN, DOWN_OUT };

#define SPLICE_MIN_PIPE	65536	/* the default pipe of 16 pages */
#define DRAIN_TICK_MS	10	/* looks at a kernel queue left to empty */

void
relay_dir_init(struct relay_dir *d, struct conn *src, struct conn *dst,
    char *buf, size_t size, size_t off, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->src = src;
	d->dst = dst;
	d->buf = buf;
	d->size = size;
	d->off = (len > 0 ? off : 0);
	d->len = len;
	d->rwant = CONN_WANT_READ;
	d->wwant = CONN_WANT_WRITE;
	d->pipe[0] = d->pipe[1] = -1;
	d->outq = -1;
}

/* Bytes read from src not yet written to dst. */
static size_t
dir_held(const struct relay_dir *d)
{
	return d->len + d->plen;
}

static int
dir_has_room(const struct relay_dir *d)
{
	return d->pipe[1] != -1 ? d->plen < d->pcap && !d->pfull :
	    d->len < d->size;
}

/* Whether there is something to write now: with frame tracking, not a
 * header or control frame still incomplete. */
static int
dir_ready(const struct relay_dir *d)
{
	return d->ws != NULL ? ws_ready(d) : dir_held(d) > 0;
}

static int
dir_done(const struct relay_dir *d)
{
	return d->eof && dir_held(d) == 0 && d->shut;
}

/* Where to wait for want: TLS may need the other fd of the conn. */
static void
watch(struct pollfd *p, const struct conn *c, int want)
{
	p->fd = (want == CONN_WANT_READ ? c->rfd : c->wfd);
	p->events = (want == CONN_WANT_READ ? POLLIN : POLLOUT);
}

/*
 * A source is read while the store has room, a destination written while
 * the store holds something or a shutdown is owed.  A source whose store is
 * full is still polled, for nothing (events 0), so that a reset shows at
 * once: a peer that stops reading must not hide the other one's going away.
 * Its hang-up is noted and then no longer polled, or it would wake the loop
 * again and again while nothing can be done about it.
 */
static void
dir_poll(const struct relay_dir *d, struct pollfd *in, struct pollfd *out)
{
	in->fd = out->fd = -1;
	in->events = out->events = 0;
	in->revents = out->revents = 0;
	if (!d->eof && dir_has_room(d))
		watch(in, d->src, d->rwant);
	else if (!d->eof && !d->hup)
		in->fd = d->src->rfd;
	if (dir_ready(d) || (d->eof && !d->shut))
		watch(out, d->dst, d->wwant);
}

/* What a full source's poll said: -1 for an error, else 0. */
static int
dir_full_event(struct relay_dir *d, short revents)
{
	if (revents & (POLLERR | POLLNVAL)) {
		d->src->why = "connection reset";
		return -1;
	}
	if (revents & POLLHUP)
		d->hup = 1;
	return 0;
}

static int
dir_readable_now(const struct relay_dir *d)
{
	return !d->eof && dir_has_room(d) && d->rwant == CONN_WANT_READ &&
	    conn_pending(d->src);
}

/* splice() with the relay's meaning of its result, like conn_read(). */
static ssize_t
splice_some(int from, int to, size_t len, int want)
{
	ssize_t n = splice(from, NULL, to, NULL, len,
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

	if (n >= 0)
		return n;
	return (errno == EAGAIN || errno == EINTR) ? want : CONN_ERR;
}

/*
 * The first splice() from a source it cannot take (a tty, some files) says
 * EINVAL before anything moved: that direction goes back to the buffer.
 */
static void
unsplice(struct relay_dir *d)
{
	close(d->pipe[0]);
	close(d->pipe[1]);
	d->pipe[0] = d->pipe[1] = -1;
}

/* Reads what src has into the store: 0, or -1 on an error. */
static int
dir_fill(struct relay_dir *d)
{
	ssize_t n;

	if (d->pipe[1] != -1) {
		n = splice_some(d->src->rfd, d->pipe[1], d->pcap - d->plen,
		    CONN_WANT_READ);
		if (n == CONN_ERR && errno == EINVAL && d->bytes == 0 &&
		    d->plen == 0) {
			unsplice(d);
			return dir_fill(d);
		}
		if (n > 0)
			d->plen += (size_t)n;
		/* a pipe holds 16 buffers, not 64 KiB: after a POLLIN, EAGAIN
		 * with bytes in it means it is full until a drain makes room */
		if (n == CONN_WANT_READ && d->plen > 0)
			d->pfull = 1;
	} else {
		if (d->off > 0 && d->off + d->len == d->size) {
			memmove(d->buf, d->buf + d->off, d->len);
			d->off = 0;
		}
		n = conn_read(d->src, d->buf + d->off + d->len,
		    d->size - d->off - d->len);
		if (n > 0)
			d->len += (size_t)n;
	}
	if (n > 0) {
		d->rwant = CONN_WANT_READ;
		if (d->ws != NULL)
			ws_heard(d);
	} else if (n == 0)
		d->eof = 1;
	else if (n == CONN_ERR)
		return -1;
	else
		d->rwant = (int)n;
	return 0;
}

/* Writes some of the store to dst: the buffer first, since bytes that came
 * with the heads are older than any in the pipe. */
static ssize_t
dir_write(struct relay_dir *d)
{
	ssize_t n;

	if (d->len > 0) {
		if ((n = conn_write(d->dst, d->buf + d->off, d->len)) > 0) {
			d->off += (size_t)n;
			d->len -= (size_t)n;
			if (d->len == 0)
				d->off = 0;
		}
		return n;
	}
	n = splice_some(d->pipe[0], d->dst->wfd, d->plen, CONN_WANT_WRITE);
	if (n > 0) {
		d->plen -= (size_t)n;
		d->pfull = 0;
	}
	return n;
}

/* Writes what the store holds to dst, then passes on an end of stream:
 * 0, or -1 on an error. */
static int
dir_drain(struct relay_dir *d)
{
	if (d->ws != NULL && ws_drain(d) == -1)
		return -1;
	while (d->ws == NULL && dir_held(d) > 0) {
		ssize_t n = dir_write(d);

		if (n == CONN_ERR || n == 0)
			return -1;
		if (n < 0) {
			d->wwant = (int)n;
			return 0;
		}
		d->bytes += (uint64_t)n;
		d->wwant = CONN_WANT_WRITE;
	}
	if (d->eof && !d->shut && dir_held(d) == 0) {
		int r = conn_shutdown(d->dst);

		if (r == CONN_ERR)
			return -1;
		if (r == 0)
			d->shut = 1;
		else
			d->wwant = r;
	}
	return 0;
}

/* Why a drain that failed ends the session. */
static const char *
drain_end(const struct relay_dir *d, const char *dst_error)
{
	if (d->ws != NULL && d->ws->failed)
		return d->ws->code == FRAME_TOO_BIG ? "message-too-big" :
		    "protocol-error";
	return dst_error;
}

/*
 * One direction's share of a poll round.  After a read the write is tried at
 * once rather than after another poll(): one system call less per message,
 * which is most of a small frame's latency.  Returns 1 when anything moved,
 * 0 when nothing did, -1 with r->end set on an error.
 */
static int
dir_pump(struct relay *r, struct relay_dir *d, const struct pollfd *in,
    const struct pollfd *out, const char *src_error, const char *dst_error)
{
	uint64_t before = d->bytes;
	size_t had = dir_held(d);
	int eof = d->eof, shut = d->shut;

	if (in->revents != 0 && in->events == 0) {
		if (dir_full_event(d, in->revents) == -1) {
			r->end = src_error;
			return -1;
		}
	} else if ((in->revents != 0 || dir_readable_now(d)) &&
	    dir_fill(d) == -1) {
		r->end = src_error;
		return -1;
	}
	if ((out->revents != 0 || dir_held(d) > had || d->eof != eof) &&
	    dir_drain(d) == -1) {
		r->end = drain_end(d, dst_error);
		return -1;
	}
	return d->bytes != before || dir_held(d) != had || d->eof != eof ||
	    d->shut != shut;
}

/*
 * A pipe for each direction when neither side is TLS: splice() then moves
 * the bytes inside the kernel.  A pipe smaller than the buffer would take
 * more calls than the copies it saves: once an unprivileged user's pipes
 * hold fs.pipe-user-pages-soft pages (16384: some 500 tunnels), the kernel
 * gives its new pipes 2 pages instead of 16, and the buffer does better.
 */
static void
use_splice(struct relay *r)
{
	struct relay_dir *d[2] = { &r->up, &r->down };
	int i, size;

	if (r->up.src->tls != NULL || r->down.src->tls != NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (pipe2(d[i]->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
			d[i]->pipe[0] = d[i]->pipe[1] = -1;
			continue;	/* out of fds: the buffer will do */
		}
		size = fcntl(d[i]->pipe[1], F_GETPIPE_SZ);
		if (size < SPLICE_MIN_PIPE) {
			unsplice(d[i]);
			continue;
		}
		d[i]->pcap = (size_t)size;
		r->spliced = 1;
	}
}

static int64_t
earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/*
 * --busy-poll: a tunnel that has just moved bytes polls without sleeping
 * until busy_us have passed, so that the next message finds it awake.  On a
 * virtual machine most of a small message's round trip through a proxy is
 * waking sleeping processes, two wake-ups more per round trip than without
 * one; this takes those two away for a CPU spent while the tunnel is busy.
 * A quiet tunnel sleeps as before.  The window ends by the next timer too.
 */
static int
busy_wait(struct pollfd *pfd, int64_t busy_until, int64_t deadline,
    const sigset_t *mask)
{
	static const struct timespec zero;

	if (deadline != 0 && deadline * 1000 < busy_until)
		busy_until = deadline * 1000;
	while (now_us() < busy_until) {
		int n = ppoll(pfd, 4, &zero, mask);

		if (n != 0)
			return n;
	}
	return 0;
}

static int
relay_wait(struct relay *r, struct pollfd *pfd, int64_t deadline,
    int64_t busy_until, const sigset_t *mask)
{
	struct timespec ts, *tsp = NULL;
	int ms = 0;

	if (!dir_readable_now(&r->up) && !dir_readable_now(&r->down)) {
		int n = busy_until != 0 ?
		    busy_wait(pfd, busy_until, deadline, mask) : 0;

		if (n != 0)
			return n;
		ms = ms_until(deadline);
	}
	if (ms >= 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		tsp = &ts;
	}
	return ppoll(pfd, 4, tsp, mask);
}

/*
 * The drain of a direction whose source has ended.  Its bytes are delivered
 * once out of the store, the end passed on and the kernel's queue toward the
 * reader empty: a TCP socket closed with unread bytes from its peer resets,
 * and what it still had queued is lost.
 */
static int
dir_delivered(const struct relay_dir *d)
{
	return dir_held(d) == 0 && d->shut && d->outq <= 0;
}

/* 1 when an ended direction's reader took bytes since the last look: bytes
 * written (moved), or a shorter kernel queue, which poll() does not show.
 * Delivered stays delivered: nothing more comes after the end. */
static int
dir_track(struct relay_dir *d, int moved, int64_t now)
{
	int q, took;

	if (!d->eof || (d->moved_at != 0 && dir_delivered(d)))
		return 0;
	q = conn_outq(d->dst);
	took = moved || d->moved_at == 0 || (q >= 0 && q < d->outq);
	if (took)
		d->moved_at = now;
	d->outq = q;
	return took;
}

static int
stall_ms(const struct relay *r)
{
	return r->close_ms > RELAY_STALL_MIN_MS ? r->close_ms :
	    RELAY_STALL_MIN_MS;
}

static int
dir_draining(const struct relay_dir *d, int64_t now, int stall)
{
	return d->eof && !dir_delivered(d) && now - d->moved_at < stall;
}

/*
 * When to look at a drain again; 0: no need.  Its reader's progress shows
 * in the kernel's queue, not in poll(), so that is looked at a few times in
 * each stall time, and often once the session waits for nothing else.
 */
static int64_t
dir_judge_at(const struct relay_dir *d, int64_t now, int stall, int closing)
{
	int64_t at = d->moved_at + stall, look = now + stall / 4;

	if (!dir_draining(d, now, stall))
		return 0;
	if (closing && dir_held(d) == 0 && d->shut)
		look = now + DRAIN_TICK_MS;	/* nothing else wakes poll() */
	return look < at ? look : at;
}

/*
 * Ends the session: 1, with r->end set, when a timer has run out.  The close
 * timer, set once when the first side ends, bounds the direction still
 * open.  It ends nothing while an ended side's bytes are still being taken:
 * they are delivered whole for as long as they move, and only a drain whose
 * reader took nothing for the stall time is cut.
 */
static int
timers(struct relay *r, int up, int down, int64_t *idle_at,
    int64_t *close_at)
{
	int64_t now = now_ms();
	int stall = stall_ms(r);

	up |= dir_track(&r->up, up, now);
	down |= dir_track(&r->down, down, now);
	if ((up || down) && r->idle_ms > 0)
		*idle_at = now + r->idle_ms;
	if (*close_at == 0 && (r->up.eof || r->down.eof))
		*close_at = now + r->close_ms;
	if (*idle_at != 0 && now >= *idle_at)
		r->end = "idle-timeout";
	else if (*close_at != 0 && now >= *close_at &&
	    !dir_draining(&r->up, now, stall) &&
	    !dir_draining(&r->down, now, stall))
		r->end = "close-timeout";
	return r->end != NULL;
}

/* The next timer: idle, close, or a look at a drain. */
static int64_t
next_timer(const struct relay *r, int64_t idle_at, int64_t close_at)
{
	int64_t now = now_ms(), at;
	int stall = stall_ms(r), closing = close_at != 0 && now >= close_at;

	at = earliest(idle_at, closing ? 0 : close_at);
	at = earliest(at, dir_judge_at(&r->up, now, stall, closing));
	return earliest(at, dir_judge_at(&r->down, now, stall, closing));
}

static void
relay_loop(struct relay *r, const sigset_t *mask)
{
	struct pollfd pfd[4];
	int64_t idle_at = 0, close_at = 0, busy_until = 0, ws_at = 0;
	const char *closer = NULL;
	int up, down;

	if (r->idle_ms > 0)
		idle_at = now_ms() + r->idle_ms;
	if (r->busy_us > 0)
		busy_until = now_us() + r->busy_us;
	for (;;) {
		if (closer == NULL && (r->up.eof || r->down.eof))
			closer = r->up.eof ? "client-closed" : "backend-closed";
		if (dir_done(&r->up) && dir_done(&r->down)) {
			r->end = closer;
			return;
		}
		if (r->ws != NULL && ws_tick(r, &ws_at))
			return;
		dir_poll(&r->up, &pfd[UP_IN], &pfd[UP_OUT]);
		dir_poll(&r->down, &pfd[DOWN_IN], &pfd[DOWN_OUT]);
		if (relay_wait(r, pfd, earliest(next_timer(r, idle_at,
		    close_at), ws_at), busy_until, mask) == -1) {
			if (errno != EINTR) {
				r->end = "poll-error";
				r->failed = 1;
				return;
			}
			if (sig_caught()) {
				r->end = "signal";
				return;
			}
			continue;
		}
		up = dir_pump(r, &r->up, &pfd[UP_IN], &pfd[UP_OUT],
		    "client-error", "backend-error");
		down = (up == -1 ? -1 : dir_pump(r, &r->down, &pfd[DOWN_IN],
		    &pfd[DOWN_OUT], "backend-error", "client-error"));
		if (up == -1 || down == -1) {
			r->failed = 1;
			return;
		}
		if (timers(r, up, down, &idle_at, &close_at))
			return;
		if (r->busy_us > 0 && (up || down))
			busy_until = now_us() + r->busy_us;
	}
}

/* SIGTERM and friends are let through only inside ppoll() (sig.h), so
 * none is lost between checks. */
void
relay_run(struct relay *r)
{
	r->end = NULL;
	if (r->ws != NULL) {
		r->up.ws = &r->ws->up;
		r->down.ws = &r->ws->down;
	} else if (r->splice)
		use_splice(r);
	/* bytes that came with the heads are delivered first */
	if (dir_drain(&r->up) == -1) {
		r->end = drain_end(&r->up, "backend-error");
		r->failed = 1;
	} else if (dir_drain(&r->down) == -1) {
		r->end = drain_end(&r->down, "client-error");
		r->failed = 1;
	} else
		relay_loop(r, sig_mask());
	if (r->ws != NULL && r->end != NULL)
		ws_goodbye(r);
	if (r->up.pipe[0] != -1)
		unsplice(&r->up);
	if (r->down.pipe[0] != -1)
		unsplice(&r->down);
}
