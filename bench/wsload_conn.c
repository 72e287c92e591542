/*
 * wsload: one blocking WebSocket connection: dialling (and TLS), the
 * upgrade with every 101 checked down to its Sec-WebSocket-Accept, masked
 * frames out, whole small frames in, one echo, the close handshake.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "wsload.h"

uint64_t
conn_rng_seed(void)
{
	static uint64_t ctr;
	uint64_t s = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);

	return s + __atomic_add_fetch(&ctr, 0x9e3779b97f4a7c15ULL,
	    __ATOMIC_RELAXED);
}

void
conn_random_mask(uint64_t *rng, uint8_t m[4])
{
	uint64_t v = splitmix64(rng);

	memcpy(m, &v, 4);
	if (m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0)
		m[0] = 1;	/* a real mask, never the identity */
}

/* Connects s (and does the TLS handshake): 0, or -1 with err set
 * (*verify when a certificate did not verify). */
int
conn_dial(struct sock *s, int *verify, char *err, size_t errsize)
{
	struct timeval tv = { .tv_sec = opt.timeout };
	int one = 1;

	*verify = 0;
	s->ssl = NULL;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->fd, (struct sockaddr *)&target, sizeof(target)) == -1) {
		snprintf(err, errsize, "connect: %s", strerror(errno));
		sock_close(s);
		return -1;
	}
	if (tls_ctx != NULL && tls_connect(s, verify, err, errsize) == -1) {
		sock_close(s);
		return -1;
	}
	return 0;
}

int
conn_write_all(struct sock *s, const void *buf, size_t n, char *err,
    size_t errsize)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = sock_write(s, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errsize, "write: %s", w < 0 ?
			    sock_strerror(errno) : "wrote nothing");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A blocking read: > 0, 0 at end of stream, -1 with err set. */
ssize_t
conn_read_some(struct sock *s, void *buf, size_t n, char *err, size_t errsize)
{
	ssize_t r;

	do
		r = sock_read(s, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		snprintf(err, errsize, "read: %s", sock_strerror(errno));
	return r;
}

/*
 * Sends the upgrade request for path, reads and checks the 101.  Bytes that
 * came after the head are left in extra (*extralen).  0, or -1 with err set
 * (*verify set when the answer was wrong rather than the connection).
 */
int
conn_handshake(struct sock *s, const char *path, uint64_t *rng, uint8_t *extra,
    size_t *extralen, int *verify, char *err, size_t errsize)
{
	char req[1024], head[8193], key[32], want[64];
	uint8_t raw[16];
	const char *v, *end;
	size_t len = 0, vlen, rest;
	uint64_t a = splitmix64(rng), b = splitmix64(rng);
	int rl;

	*verify = 0;
	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	b64_ntop(raw, sizeof(raw), key, sizeof(key));
	rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Origin: http%s://%s:%d\r\n\r\n", path, opt.host, opt.port, key,
	    tls_ctx != NULL ? "s" : "", opt.host, opt.port);
	if (conn_write_all(s, req, (size_t)rl, err, errsize) == -1)
		return -1;
	for (;;) {
		ssize_t n;

		if (len == sizeof(head) - 1) {
			snprintf(err, errsize, "response head too long");
			*verify = 1;
			return -1;
		}
		n = conn_read_some(s, head + len, sizeof(head) - 1 - len, err,
		    errsize);
		if (n < 0)
			return -1;
		if (n == 0) {
			snprintf(err, errsize, "closed before a response "
			    "head (%zu bytes)", len);
			return -1;
		}
		len += (size_t)n;
		head[len] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
	}
	rest = len - (size_t)(end + 4 - head);
	if (rest > *extralen) {
		snprintf(err, errsize, "too many bytes after the 101");
		*verify = 1;
		return -1;
	}
	memcpy(extra, end + 4, rest);
	*extralen = rest;
	head[end + 2 - head] = '\0';
	*verify = 1;
	if (strncmp(head, "HTTP/1.1 101 ", 13) != 0 &&
	    strcmp(head, "HTTP/1.1 101\r\n") != 0) {
		snprintf(err, errsize, "not a 101: %.*s", (int)strcspn(head,
		    "\r\n"), head);
		return -1;
	}
	v = http_header(head, "Upgrade", &vlen);
	if (v == NULL || !http_has_token(v, vlen, "websocket")) {
		snprintf(err, errsize, "101 without Upgrade: websocket");
		return -1;
	}
	v = http_header(head, "Connection", &vlen);
	if (v == NULL || !http_has_token(v, vlen, "upgrade")) {
		snprintf(err, errsize, "101 without Connection: upgrade");
		return -1;
	}
	ws_accept(key, strlen(key), want, sizeof(want));
	v = http_header(head, "Sec-WebSocket-Accept", &vlen);
	if (v == NULL || vlen != strlen(want) || memcmp(v, want, vlen) != 0) {
		snprintf(err, errsize, "wrong Sec-WebSocket-Accept (%.*s, "
		    "want %s)", v != NULL ? (int)vlen : 6, v != NULL ? v :
		    "none", want);
		return -1;
	}
	*verify = 0;
	return 0;
}

/* Sends one masked frame. */
int
conn_send_frame(struct sock *s, int opcode, const uint8_t *payload, size_t len,
    uint64_t *rng, char *err, size_t errsize)
{
	uint8_t buf[14 + 256], m[4];
	size_t hl;

	if (len > 256) {
		snprintf(err, errsize, "frame too big");
		return -1;
	}
	conn_random_mask(rng, m);
	hl = ws_header(buf, opcode, len, m);
	ws_mask_copy(buf + hl, payload, len, m);
	return conn_write_all(s, buf, hl + len, err, errsize);
}

void
conn_reader_init(struct reader *r, const struct sock *s, const uint8_t *extra,
    size_t n)
{
	r->s = *s;
	memcpy(r->buf, extra, n);
	r->off = 0;
	r->len = n;
	ws_parser_init(&r->p);
}

static int
reader_cb(void *arg, struct ws_parser *p, int ev, uint8_t *data, size_t len)
{
	struct reader *r = arg;

	if (ev == WS_EV_HEADER) {
		if (p->masked) {
			p->error = "a masked frame from the server";
			return -1;
		}
		r->flen = 0;
		r->opcode = p->opcode;
		r->toolong = p->plen > sizeof(r->frame);
	} else if (ev == WS_EV_DATA) {
		if (!r->toolong)
			memcpy(r->frame + r->flen, data, len);
		r->flen += len;
	} else {
		r->done = 1;
		return 1;
	}
	return 0;
}

/* The next whole frame into r->frame: 1, 0 at end of stream, -1 on error
 * (*verify set for a protocol error). */
int
conn_read_frame(struct reader *r, int *verify, char *err, size_t errsize)
{
	*verify = 0;
	r->done = 0;
	for (;;) {
		ssize_t n;

		if (r->off < r->len) {
			int rc = ws_feed(&r->p, r->buf + r->off,
			    r->len - r->off, reader_cb, r);

			if (rc < 0) {
				snprintf(err, errsize, "bad frame: %s",
				    r->p.error);
				*verify = 1;
				return -1;
			}
			r->off += r->p.used;
			if (r->done) {
				if (r->toolong) {
					snprintf(err, errsize, "frame of %zu "
					    "bytes, too long", r->flen);
					*verify = 1;
					return -1;
				}
				return 1;
			}
		}
		r->off = r->len = 0;
		n = conn_read_some(&r->s, r->buf, sizeof(r->buf), err, errsize);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		r->len = (size_t)n;
	}
}

/* One echo of a small frame of pattern bytes: 0, or -1. */
int
conn_echo_once(struct reader *r, uint64_t *rng, uint64_t q, size_t size,
    const uint8_t *pat, int *verify, char *err, size_t errsize)
{
	const uint8_t *want = pat + pat_off(q);
	int rc;

	*verify = 0;
	if (conn_send_frame(&r->s, OP_BIN, want, size, rng, err, errsize) == -1)
		return -1;
	rc = conn_read_frame(r, verify, err, errsize);
	if (rc <= 0) {
		if (rc == 0)
			snprintf(err, errsize, "closed instead of an echo");
		return -1;
	}
	*verify = 1;
	if (r->opcode != OP_BIN || r->flen != size) {
		snprintf(err, errsize, "echo: opcode %d, %zu bytes, want 2, "
		    "%zu", r->opcode, r->flen, size);
		return -1;
	}
	if (memcmp(r->frame, want, size) != 0) {
		snprintf(err, errsize, "echo: payload differs");
		return -1;
	}
	*verify = 0;
	return 0;
}

/* The close handshake: our close, the server's close, its end of stream
 * (with TLS: its close_notify).  0, or -1. */
int
conn_close_handshake(struct reader *r, uint64_t *rng, int *verify, char *err,
    size_t errsize)
{
	static const uint8_t normal[2] = { 0x03, 0xe8 };
	uint8_t b;
	int rc;

	*verify = 0;
	if (conn_send_frame(&r->s, OP_CLOSE, normal, 2, rng, err, errsize)
	    == -1)
		return -1;
	rc = conn_read_frame(r, verify, err, errsize);
	if (rc <= 0) {
		if (rc == 0)
			snprintf(err, errsize, "closed without a close frame");
		return -1;
	}
	if (r->opcode != OP_CLOSE || r->flen != 2 ||
	    memcmp(r->frame, normal, 2) != 0) {
		snprintf(err, errsize, "close: opcode %d, %zu bytes instead "
		    "of the close frame echoed", r->opcode, r->flen);
		*verify = 1;
		return -1;
	}
	if (r->off < r->len) {
		snprintf(err, errsize, "bytes after the close frame");
		*verify = 1;
		return -1;
	}
	rc = (int)conn_read_some(&r->s, &b, 1, err, errsize);
	if (rc != 0) {
		if (rc > 0) {
			snprintf(err, errsize, "bytes after the close frame");
			*verify = 1;
		}
		return -1;
	}
	return 0;
}

/* Connects and upgrades s for path; leftover bytes in extra.  0, or -1
 * (the error reported). */
int
conn_open(struct sock *s, const char *path, uint64_t *rng, uint8_t *extra,
    size_t *elen)
{
	char err[300];
	int verify;

	if (conn_dial(s, &verify, err, sizeof(err)) == -1) {
		report_error(verify, "%s", err);
		return -1;
	}
	if (conn_handshake(s, path, rng, extra, elen, &verify, err,
	    sizeof(err)) == -1) {
		report_error(verify, "%s", err);
		sock_close(s);
		return -1;
	}
	return 0;
}
