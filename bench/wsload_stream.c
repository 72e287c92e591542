/*
 * wsload echo, download, upload, pingpong: one connection each, every
 * payload byte compared with the pattern (bench/ws.h) on whichever side
 * receives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsload.h"

static uint8_t *pat;
static int64_t deadline;

/* Checking the server's data frames against the pattern. */
struct checker {
	uint64_t	q;		/* frames complete */
	uint64_t	bytes;		/* payload bytes verified */
	size_t		size;
	int		closed;		/* the server's close frame came */
	int		control;
	uint8_t		ctl[125];
	size_t		ctllen;
	const char	*why;
};

static int
check_cb(void *arg, struct ws_parser *p, int ev, uint8_t *data, size_t len)
{
	struct checker *c = arg;

	if (ev == WS_EV_HEADER) {
		if (c->closed) {
			c->why = "a frame after the close frame";
			return -1;
		}
		if (p->masked) {
			c->why = "a masked frame from the server";
			return -1;
		}
		c->control = (p->opcode & 8) != 0;
		if (c->control) {
			if (p->opcode != OP_CLOSE || p->plen > 125) {
				c->why = "unexpected control frame";
				return -1;
			}
			c->ctllen = 0;
		} else if (p->opcode != OP_BIN || !p->fin ||
		    p->plen != c->size) {
			c->why = "a data frame of the wrong type or length";
			return -1;
		}
		return 0;
	}
	if (ev == WS_EV_DATA) {
		if (c->control) {
			memcpy(c->ctl + c->ctllen, data, len);
			c->ctllen += len;
		} else if (memcmp(data, pat + pat_off(c->q) + p->pos, len)
		    != 0) {
			c->why = "payload differs from the pattern";
			return -1;
		} else
			c->bytes += len;
		return 0;
	}
	if (c->control)
		c->closed = 1;
	else
		c->q++;
	return 0;
}

static int
feed_checker(struct ws_parser *p, struct checker *c, uint8_t *data, size_t n)
{
	int rc = ws_feed(p, data, n, check_cb, c);

	if (rc != 0)
		report_error(1, "frame %" PRIu64 ": %s", c->q,
		    c->why != NULL ? c->why : p->error != NULL ? p->error :
		    "bad frame");
	return rc;
}

static int
set_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The frame for number q into buf (masked): its length. */
static size_t
build_frame(uint8_t *buf, uint64_t q, size_t size, uint64_t *rng)
{
	uint8_t m[4];
	size_t hl;

	conn_random_mask(rng, m);
	hl = ws_header(buf, OP_BIN, size, m);
	ws_mask_copy(buf + hl, pat + pat_off(q), size, m);
	return hl;
}

int
run_echo(void)
{
	uint8_t *sbuf, *rbuf, extra[8192];
	size_t elen = sizeof(extra), soff = 0, slen = 0, rcap = 256 * 1024;
	uint64_t rng = conn_rng_seed(), sq = 0;
	struct ws_parser p;
	struct checker ck;
	struct pollfd pfd;
	struct sock s;
	int have = 0, stopping = 0, close_queued = 0, got_eof = 0;
	int64_t t0, t_last = 0, last_progress;
	ssize_t n;
	char out[512];

	if (opt.size == 0)
		opt.size = 1048576;
	if (opt.window <= 0) {
		opt.window = (long)((8u << 20) / opt.size);
		opt.window = opt.window < 1 ? 1 : opt.window > 64 ? 64 :
		    opt.window;
	}
	pat = pat_make(opt.seed, opt.size);
	sbuf = malloc(opt.size + 14);
	rbuf = malloc(rcap);
	if (pat == NULL || sbuf == NULL || rbuf == NULL) {
		report_error(0, "out of memory");
		free(sbuf);
		free(rbuf);
		return report_finish("");
	}
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	if (conn_open(&s, "/echo", &rng, extra, &elen) == -1) {
		free(sbuf);
		free(rbuf);
		return report_finish("");
	}
	t0 = last_progress = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	if (elen > 0 && feed_checker(&p, &ck, extra, elen) != 0)
		goto out;
	set_nonblock(s.fd);
	while (!got_eof) {
		int64_t now = now_ns();
		int pending;

		if (!stopping && now >= deadline)
			stopping = 1;
		if (now - last_progress > (int64_t)opt.timeout * 1000000000) {
			report_error(0, "no progress for %d s (sent %" PRIu64
			    " frames, %" PRIu64 " echoed)", opt.timeout, sq,
			    ck.q);
			goto out;
		}
		if (!have && !stopping && sq - ck.q < (uint64_t)opt.window) {
			slen = build_frame(sbuf, sq, opt.size, &rng) + opt.size;
			soff = 0;
			have = 1;
		} else if (!have && stopping && !close_queued &&
		    ck.q == sq) {
			uint8_t m[4];

			t_last = now_ns();
			conn_random_mask(&rng, m);
			slen = ws_header(sbuf, OP_CLOSE, 2, m);
			sbuf[slen] = 0x03;
			sbuf[slen + 1] = 0xe8;
			ws_mask(sbuf + slen, 2, m, 0);
			slen += 2;
			soff = 0;
			have = close_queued = 1;
		}
		pfd.fd = s.fd;
		pfd.events = POLLIN | (have ? POLLOUT : 0);
		pfd.revents = 0;
		pending = sock_pending(&s);
		if (poll(&pfd, 1, pending ? 0 : 100) < 0 && errno != EINTR) {
			report_error(0, "poll: %s", strerror(errno));
			goto out;
		}
		if (have && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = sock_write(&s, sbuf + soff, slen - soff);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				report_error(0, "write: %s",
				    sock_strerror(errno));
				goto out;
			}
			if (n > 0) {
				soff += (size_t)n;
				last_progress = now_ns();
				if (soff == slen) {
					have = 0;
					if (!close_queued ||
					    sbuf[0] != (0x80 | OP_CLOSE))
						sq++;
				}
			}
		}
		if (pending || (pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
			n = sock_read(&s, rbuf, rcap);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				report_error(0, "read: %s",
				    sock_strerror(errno));
				goto out;
			}
			if (n == 0) {
				if (!ck.closed)
					report_error(0, "end of stream without"
					    " a close frame after %" PRIu64
					    " frames", ck.q);
				got_eof = 1;
			} else if (n > 0) {
				last_progress = now_ns();
				if (feed_checker(&p, &ck, rbuf, (size_t)n)
				    != 0)
					goto out;
			}
		}
	}
	if (ck.q != sq)
		report_error(1, "sent %" PRIu64 " frames, %" PRIu64 " echoed",
		    sq, ck.q);
	if (ck.ctllen != 2 || ck.ctl[0] != 0x03 || ck.ctl[1] != 0xe8)
		report_error(1, "the close frame was not echoed");
out:
	sock_close(&s);
	free(sbuf);
	free(rbuf);
	if (t_last == 0)
		t_last = now_ns();
	snprintf(out, sizeof(out), ",\"size\":%zu,\"window\":%ld,"
	    "\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"secs\":%.3f,"
	    "\"value\":%.2f,\"unit\":\"MB/s\"", opt.size, opt.window, ck.q,
	    ck.bytes, (double)(t_last - t0) / 1e9,
	    (double)ck.bytes / ((double)(t_last - t0) / 1e9) / 1e6);
	return report_finish(out);
}

int
run_download(void)
{
	uint8_t *rbuf, extra[8192];
	size_t elen = sizeof(extra), rcap = 256 * 1024;
	uint64_t rng = conn_rng_seed();
	struct ws_parser p;
	struct checker ck;
	struct sock s;
	int close_sent = 0;
	int64_t t0, t_end = 0;
	char path[128], err[300], out[512];
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (opt.size == 0)
		opt.size = 1048576;
	pat = pat_make(opt.seed, opt.size);
	rbuf = malloc(rcap);
	if (pat == NULL || rbuf == NULL) {
		report_error(0, "out of memory");
		free(rbuf);
		return report_finish("");
	}
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	snprintf(path, sizeof(path), "/download?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if (conn_open(&s, path, &rng, extra, &elen) == -1) {
		free(rbuf);
		return report_finish("");
	}
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	if (elen > 0 && feed_checker(&p, &ck, extra, elen) != 0)
		goto out;
	for (;;) {
		ssize_t n;

		if (!close_sent && now_ns() >= deadline) {
			if (conn_send_frame(&s, OP_CLOSE, normal, 2, &rng, err,
			    sizeof(err)) == -1) {
				report_error(0, "%s", err);
				goto out;
			}
			close_sent = 1;
		}
		n = conn_read_some(&s, rbuf, rcap, err, sizeof(err));
		if (n < 0) {
			report_error(0, "%s after %" PRIu64 " frames", err,
			    ck.q);
			goto out;
		}
		if (n == 0)
			break;
		if (feed_checker(&p, &ck, rbuf, (size_t)n) != 0)
			goto out;
		if (ck.closed && t_end == 0)
			t_end = now_ns();
	}
	if (!ck.closed)
		report_error(0, "end of stream without a close frame after "
		    "%" PRIu64 " frames", ck.q);
	else if (!close_sent)
		report_error(1, "the server closed before being asked to");
out:
	sock_close(&s);
	free(rbuf);
	if (t_end == 0)
		t_end = now_ns();
	snprintf(out, sizeof(out), ",\"size\":%zu,\"frames\":%" PRIu64
	    ",\"bytes\":%" PRIu64 ",\"secs\":%.3f,\"value\":%.2f,\"unit\":"
	    "\"MB/s\"", opt.size, ck.q, ck.bytes, (double)(t_end - t0) / 1e9,
	    (double)ck.bytes / ((double)(t_end - t0) / 1e9) / 1e6);
	return report_finish(out);
}

int
run_upload(void)
{
	uint8_t *sbuf, extra[4096];
	size_t elen = sizeof(extra);
	uint64_t rng = conn_rng_seed(), q = 0;
	unsigned long long f = 0, b = 0, bad = 0;
	struct reader *r;
	struct sock s;
	int verify, rc;
	int64_t t0, t_end = 0;
	char path[128], err[300], out[512], ack[200];
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (opt.size == 0)
		opt.size = 1048576;
	pat = pat_make(opt.seed, opt.size);
	sbuf = malloc(opt.size + 14);
	r = malloc(sizeof(*r));
	if (pat == NULL || sbuf == NULL || r == NULL) {
		report_error(0, "out of memory");
		free(sbuf);
		free(r);
		return report_finish("");
	}
	snprintf(path, sizeof(path), "/upload?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if (conn_open(&s, path, &rng, extra, &elen) == -1) {
		free(sbuf);
		free(r);
		return report_finish("");
	}
	conn_reader_init(r, &s, extra, elen);
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	while (now_ns() < deadline) {
		size_t hl = build_frame(sbuf, q, opt.size, &rng);

		if (conn_write_all(&s, sbuf, hl + opt.size, err, sizeof(err))
		    == -1) {
			report_error(0, "%s after %" PRIu64 " frames", err, q);
			goto out;
		}
		q++;
	}
	if (conn_send_frame(&s, OP_CLOSE, normal, 2, &rng, err, sizeof(err))
	    == -1) {
		report_error(0, "%s", err);
		goto out;
	}
	if ((rc = conn_read_frame(r, &verify, err, sizeof(err))) <= 0) {
		report_error(verify, "%s", rc == 0 ? "closed without the "
		    "acknowledgement" : err);
		goto out;
	}
	t_end = now_ns();
	if (r->opcode != OP_TEXT || r->flen >= sizeof(ack)) {
		report_error(1, "not the acknowledgement (opcode %d)",
		    r->opcode);
		goto out;
	}
	memcpy(ack, r->frame, r->flen);
	ack[r->flen] = '\0';
	if (sscanf(ack, "frames=%llu bytes=%llu bad=%llu", &f, &b, &bad)
	    != 3 || f != q || b != q * opt.size || bad != 0) {
		report_error(1, "backend counted \"%s\", sent frames=%" PRIu64
		    " bytes=%" PRIu64, ack, q, q * opt.size);
		goto out;
	}
	if ((rc = conn_read_frame(r, &verify, err, sizeof(err))) <= 0 ||
	    r->opcode != OP_CLOSE) {
		report_error(rc < 0 ? verify : 1, "%s", rc < 0 ? err :
		    "no close frame after the acknowledgement");
		goto out;
	}
	if ((rc = conn_read_frame(r, &verify, err, sizeof(err))) != 0)
		report_error(rc < 0 ? verify : 1, "%s", rc < 0 ? err :
		    "a frame after the close frame");
out:
	sock_close(&r->s);
	free(sbuf);
	free(r);
	if (t_end == 0)
		t_end = now_ns();
	snprintf(out, sizeof(out), ",\"size\":%zu,\"frames\":%" PRIu64
	    ",\"bytes\":%llu,\"secs\":%.3f,\"value\":%.2f,\"unit\":\"MB/s\"",
	    opt.size, q, b, (double)(t_end - t0) / 1e9,
	    (double)b / ((double)(t_end - t0) / 1e9) / 1e6);
	return report_finish(out);
}

int
run_pingpong(void)
{
	uint8_t extra[4096];
	size_t elen = sizeof(extra), n = 0, cap;
	uint64_t rng = conn_rng_seed(), q = 0;
	struct reader *r;
	struct sock s;
	double *lat, sum = 0;
	int verify, warm = 200;
	char err[300], out[512];

	if (opt.size == 0)
		opt.size = 16;
	if (opt.size > 256)
		opt.size = 256;
	cap = opt.n > 0 ? (size_t)opt.n : 2000000;
	lat = malloc(cap * sizeof(double));
	pat = pat_make(opt.seed, 4096);
	r = malloc(sizeof(*r));
	if (lat == NULL || pat == NULL || r == NULL) {
		report_error(0, "out of memory");
		free(lat);
		free(r);
		return report_finish("");
	}
	if (conn_open(&s, "/echo", &rng, extra, &elen) == -1) {
		free(lat);
		free(r);
		return report_finish("");
	}
	conn_reader_init(r, &s, extra, elen);
	deadline = now_ns() + (int64_t)(opt.duration * 1e9);
	while (n < cap) {
		int64_t t0 = now_ns(), t1;

		if (t0 >= deadline)
			break;
		if (conn_echo_once(r, &rng, q++, opt.size, pat, &verify, err,
		    sizeof(err)) == -1) {
			report_error(verify, "round trip %" PRIu64 ": %s", q,
			    err);
			goto out;
		}
		t1 = now_ns();
		if (warm > 0) {
			warm--;
			continue;
		}
		lat[n++] = (double)(t1 - t0) / 1e3;
		sum += (double)(t1 - t0) / 1e3;
	}
	if (conn_close_handshake(r, &rng, &verify, err, sizeof(err)) == -1)
		report_error(verify, "close: %s", err);
out:
	sock_close(&r->s);
	free(r);
	qsort(lat, n, sizeof(double), report_cmp_double);
	snprintf(out, sizeof(out), ",\"size\":%zu,\"round_trips\":%zu,"
	    "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
	    "\"value\":%.2f,\"unit\":\"us p50\"", opt.size, n,
	    report_pct(lat, n, 50), report_pct(lat, n, 90),
	    report_pct(lat, n, 99), n ? sum / (double)n : 0,
	    report_pct(lat, n, 50));
	free(lat);
	return report_finish(out);
}
