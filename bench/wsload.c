/*
 * wsload: the benchmark's WebSocket load client.  Every payload byte that
 * comes back is compared with what it must be (bench/ws.h: the pattern), and
 * every 101 is checked down to its Sec-WebSocket-Accept, so a broken tunnel
 * fails the run instead of posting a number.
 *
 *	wsload upgrades  [-c 16] [-d SECS]	connect, upgrade, one 32-byte
 *			frame echoed, close handshake, again: upgrades/s
 *	wsload echo      [-s 1048576] [-w FRAMES] [-d SECS]   one connection,
 *			frames echoed with a bounded window: MB/s
 *	wsload download  [-s 1048576] [-d SECS]  the backend streams: MB/s
 *	wsload upload    [-s 1048576] [-d SECS]  the backend checks and
 *			counts, and acknowledges at the end: MB/s
 *	wsload pingpong  [-s 16] [-d SECS]	round trips of one small frame:
 *			RTT percentiles in microseconds
 *	wsload idle      [-n 1000] [-c 32]	N upgraded tunnels, one echo each;
 *			a line when all are open, then held until stdin ends
 *			or SIGTERM/SIGINT (at most --hold-max seconds), then
 *			each is checked with one more echo and closed
 *	wsload startup   [-n 200] [--until exit|read] -- PROG ARGS...
 *			PROG run with stdin, stdout and stderr on /dev/null,
 *			spawn to exit timed; or (--until read) with stdin on
 *			an empty pipe, spawn to the moment PROG first calls
 *			read(2) (or readv, recvfrom, recvmsg) on fd 0, seen
 *			through a seccomp user notification, then killed
 *	wsload phases    [-n 200] --stop CALL[:FD] ... -- PROG ARGS...
 *			PROG as a super-server's child: fd 0 and 1 a fresh
 *			TCP connection whose client has sent an upgrade
 *			request (and sends one frame once the 101 is in);
 *			each run stops at one of the given points, the first
 *			CALL (read, write, socket, connect, splice,
 *			getpeername, futex, readlink; read and write with
 *			their vector and socket relatives) on FD or any fd:
 *			spawn to that point, per point
 *
 * Common: -H HOST (127.0.0.1), -p PORT, --seed N, --tag TEXT, --timeout S
 * (each blocking step, 10).  TLS: --ca FILE (or --tls) makes every
 * connection TLS (OpenSSL), the server's certificate verified against the
 * CAs in FILE and for the name --sni NAME (localhost), which is also sent as
 * SNI; ALPN http/1.1; no session resumption (every connection a full
 * handshake); the server's close_notify is required at the end of the
 * stream, and a close_notify is sent before closing.
 *
 * Output: one JSON line on stdout per run (idle: one more when all are
 * open); "ok":false and exit status 1 on any failure.  MB is 10^6 bytes of
 * WebSocket payload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ws.h"

extern char **environ;

static struct {
	const char	*workload;
	const char	*host;
	int		port;
	double		duration;
	int		conc;
	long		n;
	size_t		size;
	long		window;
	uint64_t	seed;
	const char	*tag;
	int		timeout;
	double		hold_max;
	char		**cmd;
	int		tls;
	const char	*ca;
	const char	*sni;
	int		until_read;
} opt = {
	.host = "127.0.0.1", .duration = 5, .conc = 0, .n = 0, .size = 0,
	.window = 0, .seed = 1, .tag = "", .timeout = 10, .hold_max = 600,
	.sni = "localhost",
};

static struct sockaddr_in target;
static int64_t t_start;

/* The first error of the run, for the JSON line. */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];
static long n_errors;
static volatile int verify_failed;	/* a wrong byte: the run is void */

static void
report_error(int verify, const char *fmt, ...)
{
	pthread_mutex_lock(&err_lock);
	n_errors++;
	if (verify)
		verify_failed = 1;
	if (first_error[0] == '\0') {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&err_lock);
}

/* JSON string escaping of s into a static buffer. */
static const char *
jstr(const char *s)
{
	static char buf[1200];
	size_t o = 0;

	for (; *s != '\0' && o + 8 < sizeof(buf); s++) {
		if (*s == '"' || *s == '\\') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\u%04x", *s);
		else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- TLS ---------------------------------------------------------------- */

static SSL_CTX *tls_ctx;		/* NULL: plain TCP */
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static char tls_params[200];		/* of the first handshake */
static long tls_handshakes;
static __thread char tls_why[256];	/* what the last EPROTO was */

/* A connection: the socket, and its TLS session when there is one. */
struct sock {
	int	fd;
	SSL	*ssl;
};

static int
tls_init(void)
{
	static const unsigned char http11[] = "\x08http/1.1";

	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL) {
		report_error(0, "TLS: cannot create a context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	if (opt.ca != NULL ? SSL_CTX_load_verify_locations(tls_ctx, opt.ca,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(tls_ctx) != 1) {
		report_error(0, "TLS: cannot load the CAs %s: %s",
		    opt.ca != NULL ? opt.ca : "(system)",
		    ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	/* every connection a full handshake, as a new visitor's */
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_alpn_protos(tls_ctx, http11, sizeof(http11) - 1) != 0) {
		report_error(0, "TLS: cannot set ALPN");
		return -1;
	}
	return 0;
}

/* The reason of the first queued OpenSSL error into tls_why, errno EPROTO. */
static void
tls_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(tls_why, sizeof(tls_why), "TLS %s: %s", what, r != NULL ? r :
	    e != 0 ? "error" : "failed");
	ERR_clear_error();
	errno = EPROTO;
}

/* Like strerror(e), with the TLS reason for EPROTO. */
static const char *
sock_strerror(int e)
{
	if (e == EPROTO && tls_why[0] != '\0')
		return tls_why;
	return e == EAGAIN ? "timed out" : strerror(e);
}

/* After a failed SSL_read/SSL_write (r <= 0): -1 with errno set (EAGAIN:
 * try again, EPROTO: tls_why), or 0 at a clean end (close_notify). */
static int
tls_result(SSL *ssl, int r, const char *what)
{
	int e = errno;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			errno = e != 0 ? e : EPIPE;
			return -1;
		}
		tls_fail(what);
		return -1;
	default:
		tls_fail(what);
		return -1;
	}
}

static ssize_t
sock_read(struct sock *s, void *buf, size_t n)
{
	int r;

	if (s->ssl == NULL)
		return read(s->fd, buf, n);
	ERR_clear_error();
	errno = 0;
	r = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : tls_result(s->ssl, r, "read");
}

static ssize_t
sock_write(struct sock *s, const void *buf, size_t n)
{
	int r;

	if (s->ssl == NULL)
		return write(s->fd, buf, n);
	ERR_clear_error();
	errno = 0;
	r = SSL_write(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	if (tls_result(s->ssl, r, "write") == 0)
		errno = EPIPE;		/* the peer's close_notify came */
	return -1;
}

/* Bytes TLS has decrypted and not yet handed out: poll() cannot see them. */
static int
sock_pending(struct sock *s)
{
	return s->ssl != NULL && SSL_pending(s->ssl) > 0;
}

/* Sends our close_notify (the peer's came, or the run is over), closes. */
static void
sock_close(struct sock *s)
{
	if (s->ssl != NULL) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		ERR_clear_error();
		s->ssl = NULL;
	}
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}

/* The TLS handshake on s->fd: 0, or -1 with err set (*verify when the
 * server's certificate did not verify). */
static int
tls_connect(struct sock *s, int *verify, char *err, size_t errsize)
{
	int r;

	s->ssl = SSL_new(tls_ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    SSL_set_tlsext_host_name(s->ssl, opt.sni) != 1 ||
	    SSL_set1_host(s->ssl, opt.sni) != 1) {
		snprintf(err, errsize, "TLS: cannot set up a session");
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_connect(s->ssl);
	if (r != 1) {
		long vr = SSL_get_verify_result(s->ssl);

		if (vr != X509_V_OK) {
			snprintf(err, errsize, "TLS: certificate verification "
			    "failed: %s", X509_verify_cert_error_string(vr));
			*verify = 1;
			ERR_clear_error();
			return -1;
		}
		if (tls_result(s->ssl, r, "handshake") == 0)
			errno = EPIPE;
		snprintf(err, errsize, "%s", errno == EPROTO ? tls_why :
		    errno == EAGAIN ? "TLS handshake: timed out" :
		    strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&tls_lock);
	if (tls_handshakes++ == 0) {
		const unsigned char *alpn;
		unsigned int alen;
		int g = SSL_get_negotiated_group(s->ssl);
		const char *gn = g != 0 ? OBJ_nid2sn(g & ~TLSEXT_nid_unknown) :
		    NULL;

		SSL_get0_alpn_selected(s->ssl, &alpn, &alen);
		snprintf(tls_params, sizeof(tls_params), "%s %s %s ALPN %.*s",
		    SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl),
		    gn != NULL ? gn : "-", alen > 0 ? (int)alen : 1,
		    alen > 0 ? (const char *)alpn : "-");
	}
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

/* Prints the JSON line: the workload's fields in extra (", ..." or ""). */
static int
finish(const char *extra)
{
	struct rusage ru;
	double wall = (double)(now_ns() - t_start) / 1e9, cpu;
	int ok = (n_errors == 0 && !verify_failed);

	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"workload\":\"%s\",\"tag\":\"%s\",\"ok\":%s,"
	    "\"errors\":%ld,\"verify_failed\":%s,", opt.workload,
	    opt.tag, ok ? "true" : "false", n_errors,
	    verify_failed ? "true" : "false");
	if (tls_ctx != NULL)
		printf("\"tls\":\"%s\",\"tls_handshakes\":%ld,",
		    tls_params, tls_handshakes);
	printf("\"error\":\"%s\",\"client_cpu_s\":%.3f,\"client_wall_s\":%.3f"
	    "%s}\n", jstr(first_error), cpu, wall, extra);
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ---- connections ------------------------------------------------------ */

static uint64_t
rng_seed(void)
{
	static uint64_t ctr;
	uint64_t s = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);

	return s + __atomic_add_fetch(&ctr, 0x9e3779b97f4a7c15ULL,
	    __ATOMIC_RELAXED);
}

static void
random_mask(uint64_t *rng, uint8_t m[4])
{
	uint64_t v = splitmix64(rng);

	memcpy(m, &v, 4);
	if (m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0)
		m[0] = 1;	/* a real mask, never the identity */
}

/* Connects s (and does the TLS handshake): 0, or -1 with err set
 * (*verify when a certificate did not verify). */
static int
dial(struct sock *s, int *verify, char *err, size_t errsize)
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

static int
write_all(struct sock *s, const void *buf, size_t n, char *err,
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
static ssize_t
read_some(struct sock *s, void *buf, size_t n, char *err, size_t errsize)
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
static int
handshake(struct sock *s, const char *path, uint64_t *rng, uint8_t *extra,
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
	if (write_all(s, req, (size_t)rl, err, errsize) == -1)
		return -1;
	for (;;) {
		ssize_t n;

		if (len == sizeof(head) - 1) {
			snprintf(err, errsize, "response head too long");
			*verify = 1;
			return -1;
		}
		n = read_some(s, head + len, sizeof(head) - 1 - len, err,
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
static int
send_frame(struct sock *s, int opcode, const uint8_t *payload, size_t len,
    uint64_t *rng, char *err, size_t errsize)
{
	uint8_t buf[14 + 256], m[4];
	size_t hl;

	if (len > 256) {
		snprintf(err, errsize, "frame too big");
		return -1;
	}
	random_mask(rng, m);
	hl = ws_header(buf, opcode, len, m);
	ws_mask_copy(buf + hl, payload, len, m);
	return write_all(s, buf, hl + len, err, errsize);
}

/* Reading whole small frames from a blocking connection. */
struct reader {
	struct sock	s;
	uint8_t		buf[4096];
	size_t		off, len;
	struct ws_parser p;
	uint8_t		frame[4096];
	size_t		flen;
	int		opcode, done, toolong;
};

static void
reader_init(struct reader *r, const struct sock *s, const uint8_t *extra,
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
static int
read_frame(struct reader *r, int *verify, char *err, size_t errsize)
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
		n = read_some(&r->s, r->buf, sizeof(r->buf), err, errsize);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		r->len = (size_t)n;
	}
}

/* One echo of a small frame of pattern bytes: 0, or -1. */
static int
echo_once(struct reader *r, uint64_t *rng, uint64_t q, size_t size,
    const uint8_t *pat, int *verify, char *err, size_t errsize)
{
	const uint8_t *want = pat + pat_off(q);
	int rc;

	*verify = 0;
	if (send_frame(&r->s, OP_BIN, want, size, rng, err, errsize) == -1)
		return -1;
	rc = read_frame(r, verify, err, errsize);
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
static int
close_handshake(struct reader *r, uint64_t *rng, int *verify, char *err,
    size_t errsize)
{
	static const uint8_t normal[2] = { 0x03, 0xe8 };
	uint8_t b;
	int rc;

	*verify = 0;
	if (send_frame(&r->s, OP_CLOSE, normal, 2, rng, err, errsize) == -1)
		return -1;
	rc = read_frame(r, verify, err, errsize);
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
	rc = (int)read_some(&r->s, &b, 1, err, errsize);
	if (rc != 0) {
		if (rc > 0) {
			snprintf(err, errsize, "bytes after the close frame");
			*verify = 1;
		}
		return -1;
	}
	return 0;
}

/* ---- upgrades ----------------------------------------------------------- */

static uint8_t *small_pat;
static int64_t deadline;

struct upg_thread {
	pthread_t	th;
	long		done;
	double		*lat;		/* microseconds per upgrade */
	size_t		nlat, cap;
};

static void *
upg_main(void *arg)
{
	struct upg_thread *t = arg;
	struct reader *r = malloc(sizeof(*r));
	uint8_t extra[4096];
	uint64_t rng = rng_seed(), q = 0;
	char err[300];

	if (r == NULL)
		return NULL;
	while (now_ns() < deadline && !verify_failed) {
		int64_t t0 = now_ns();
		size_t elen = sizeof(extra);
		struct sock s;
		int verify;

		if (dial(&s, &verify, err, sizeof(err)) == -1) {
			report_error(verify, "%s", err);
			if (!verify)
				usleep(1000);
			continue;
		}
		if (handshake(&s, "/echo", &rng, extra, &elen, &verify, err,
		    sizeof(err)) == -1 ||
		    (reader_init(r, &s, extra, elen),
		    echo_once(r, &rng, q++, opt.size, small_pat, &verify, err,
		    sizeof(err)) == -1) ||
		    close_handshake(r, &rng, &verify, err, sizeof(err)) == -1) {
			report_error(verify, "%s", err);
			sock_close(&s);
			continue;
		}
		sock_close(&s);
		t->done++;
		if (t->nlat == t->cap) {
			double *nl;

			t->cap = t->cap ? t->cap * 2 : 4096;
			nl = realloc(t->lat, t->cap * sizeof(double));
			if (nl == NULL)
				break;
			t->lat = nl;
		}
		t->lat[t->nlat++] = (double)(now_ns() - t0) / 1e3;
	}
	free(r);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int
run_upgrades(void)
{
	struct upg_thread *t;
	double *all, secs;
	size_t nall = 0, k;
	long total = 0;
	int i;
	char extra[512];

	if (opt.conc <= 0)
		opt.conc = 16;
	if (opt.size == 0)
		opt.size = 32;
	if (opt.size > 256)
		opt.size = 256;
	small_pat = pat_make(opt.seed, 4096);
	t = calloc((size_t)opt.conc, sizeof(*t));
	if (small_pat == NULL || t == NULL) {
		report_error(0, "out of memory");
		return finish("");
	}
	deadline = now_ns() + (int64_t)(opt.duration * 1e9);
	for (i = 0; i < opt.conc; i++)
		pthread_create(&t[i].th, NULL, upg_main, &t[i]);
	for (i = 0; i < opt.conc; i++) {
		pthread_join(t[i].th, NULL);
		total += t[i].done;
		nall += t[i].nlat;
	}
	secs = (double)(now_ns() - (deadline - (int64_t)(opt.duration * 1e9)))
	    / 1e9;
	all = malloc((nall + 1) * sizeof(double));
	if (all == NULL) {
		report_error(0, "out of memory");
		return finish("");
	}
	for (i = 0, k = 0; i < opt.conc; i++) {
		if (t[i].nlat > 0)
			memcpy(all + k, t[i].lat, t[i].nlat * sizeof(double));
		k += t[i].nlat;
		free(t[i].lat);
	}
	free(t);
	qsort(all, nall, sizeof(double), cmp_double);
	snprintf(extra, sizeof(extra), ",\"concurrency\":%d,\"upgrades\":%ld,"
	    "\"secs\":%.3f,\"value\":%.1f,\"unit\":\"upgrades/s\","
	    "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f", opt.conc, total, secs,
	    (double)total / secs, pct(all, nall, 50), pct(all, nall, 99));
	free(all);
	if (total == 0 && n_errors == 0)
		report_error(0, "no upgrade completed");
	return finish(extra);
}

/* ---- one connection: echo, download, upload, pingpong ------------------ */

static uint8_t *pat;

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

/* Connects and upgrades s for path; leftover bytes in extra.  0, or -1
 * (the error reported). */
static int
open_ws(struct sock *s, const char *path, uint64_t *rng, uint8_t *extra,
    size_t *elen)
{
	char err[300];
	int verify;

	if (dial(s, &verify, err, sizeof(err)) == -1) {
		report_error(verify, "%s", err);
		return -1;
	}
	if (handshake(s, path, rng, extra, elen, &verify, err,
	    sizeof(err)) == -1) {
		report_error(verify, "%s", err);
		sock_close(s);
		return -1;
	}
	return 0;
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

	random_mask(rng, m);
	hl = ws_header(buf, OP_BIN, size, m);
	ws_mask_copy(buf + hl, pat + pat_off(q), size, m);
	return hl;
}

static int
run_echo(void)
{
	uint8_t *sbuf, *rbuf, extra[8192];
	size_t elen = sizeof(extra), soff = 0, slen = 0, rcap = 256 * 1024;
	uint64_t rng = rng_seed(), sq = 0;
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
		return finish("");
	}
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	if (open_ws(&s, "/echo", &rng, extra, &elen) == -1) {
		free(sbuf);
		free(rbuf);
		return finish("");
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
			random_mask(&rng, m);
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
	return finish(out);
}

static int
run_download(void)
{
	uint8_t *rbuf, extra[8192];
	size_t elen = sizeof(extra), rcap = 256 * 1024;
	uint64_t rng = rng_seed();
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
		return finish("");
	}
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	snprintf(path, sizeof(path), "/download?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if (open_ws(&s, path, &rng, extra, &elen) == -1) {
		free(rbuf);
		return finish("");
	}
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	if (elen > 0 && feed_checker(&p, &ck, extra, elen) != 0)
		goto out;
	for (;;) {
		ssize_t n;

		if (!close_sent && now_ns() >= deadline) {
			if (send_frame(&s, OP_CLOSE, normal, 2, &rng, err,
			    sizeof(err)) == -1) {
				report_error(0, "%s", err);
				goto out;
			}
			close_sent = 1;
		}
		n = read_some(&s, rbuf, rcap, err, sizeof(err));
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
	return finish(out);
}

static int
run_upload(void)
{
	uint8_t *sbuf, extra[4096];
	size_t elen = sizeof(extra);
	uint64_t rng = rng_seed(), q = 0;
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
		return finish("");
	}
	snprintf(path, sizeof(path), "/upload?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if (open_ws(&s, path, &rng, extra, &elen) == -1) {
		free(sbuf);
		free(r);
		return finish("");
	}
	reader_init(r, &s, extra, elen);
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	while (now_ns() < deadline) {
		size_t hl = build_frame(sbuf, q, opt.size, &rng);

		if (write_all(&s, sbuf, hl + opt.size, err, sizeof(err))
		    == -1) {
			report_error(0, "%s after %" PRIu64 " frames", err, q);
			goto out;
		}
		q++;
	}
	if (send_frame(&s, OP_CLOSE, normal, 2, &rng, err, sizeof(err))
	    == -1) {
		report_error(0, "%s", err);
		goto out;
	}
	if ((rc = read_frame(r, &verify, err, sizeof(err))) <= 0) {
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
	if ((rc = read_frame(r, &verify, err, sizeof(err))) <= 0 ||
	    r->opcode != OP_CLOSE) {
		report_error(rc < 0 ? verify : 1, "%s", rc < 0 ? err :
		    "no close frame after the acknowledgement");
		goto out;
	}
	if ((rc = read_frame(r, &verify, err, sizeof(err))) != 0)
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
	return finish(out);
}

static int
run_pingpong(void)
{
	uint8_t extra[4096];
	size_t elen = sizeof(extra), n = 0, cap;
	uint64_t rng = rng_seed(), q = 0;
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
		return finish("");
	}
	if (open_ws(&s, "/echo", &rng, extra, &elen) == -1) {
		free(lat);
		free(r);
		return finish("");
	}
	reader_init(r, &s, extra, elen);
	deadline = now_ns() + (int64_t)(opt.duration * 1e9);
	while (n < cap) {
		int64_t t0 = now_ns(), t1;

		if (t0 >= deadline)
			break;
		if (echo_once(r, &rng, q++, opt.size, pat, &verify, err,
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
	if (close_handshake(r, &rng, &verify, err, sizeof(err)) == -1)
		report_error(verify, "close: %s", err);
out:
	sock_close(&r->s);
	free(r);
	qsort(lat, n, sizeof(double), cmp_double);
	snprintf(out, sizeof(out), ",\"size\":%zu,\"round_trips\":%zu,"
	    "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
	    "\"value\":%.2f,\"unit\":\"us p50\"", opt.size, n,
	    pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
	    n ? sum / (double)n : 0, pct(lat, n, 50));
	free(lat);
	return finish(out);
}

/* ---- idle --------------------------------------------------------------- */

struct idle_thread {
	pthread_t	th;
	struct reader	*r;		/* r[i].s.fd == -1: not open */
	long		first, count, opened, verified;
	int		phase;		/* 0 open, 1 check and close */
};

static void *
idle_main(void *arg)
{
	struct idle_thread *t = arg;
	uint8_t extra[4096];
	uint64_t rng = rng_seed();
	char err[300];
	long i;

	for (i = t->first; i < t->first + t->count && !verify_failed; i++) {
		struct reader *r = &t->r[i];
		int verify;

		if (t->phase == 0) {
			size_t elen = sizeof(extra);
			struct sock s;

			r->s.fd = -1;
			if (open_ws(&s, "/echo", &rng, extra, &elen) == -1)
				continue;
			reader_init(r, &s, extra, elen);
			if (echo_once(r, &rng, (uint64_t)i, opt.size,
			    small_pat, &verify, err, sizeof(err)) == -1) {
				report_error(verify, "tunnel %ld: %s", i, err);
				sock_close(&r->s);
				continue;
			}
			t->opened++;
			continue;
		}
		if (r->s.fd == -1)
			continue;
		if (echo_once(r, &rng, (uint64_t)i + 1, opt.size,
		    small_pat, &verify, err, sizeof(err)) == -1 ||
		    close_handshake(r, &rng, &verify, err,
		    sizeof(err)) == -1)
			report_error(verify, "tunnel %ld after the hold: %s",
			    i, err);
		else
			t->verified++;
		sock_close(&r->s);
	}
	return NULL;
}

static void
idle_phase(struct idle_thread *t, int nt, int phase)
{
	int i;

	for (i = 0; i < nt; i++) {
		t[i].phase = phase;
		pthread_create(&t[i].th, NULL, idle_main, &t[i]);
	}
	for (i = 0; i < nt; i++)
		pthread_join(t[i].th, NULL);
}

static int
run_idle(void)
{
	struct idle_thread *t;
	struct reader *r;
	struct pollfd pfd[2];
	sigset_t set;
	int nt, i, sfd;
	long opened = 0, verified = 0, per, i0;
	int64_t t0, t_open, t_hold;
	char buf[256], out[512];
	const char *why = "hold-max";

	if (opt.n <= 0)
		opt.n = 1000;
	if (opt.conc <= 0)
		opt.conc = 32;
	if (opt.size == 0 || opt.size > 256)
		opt.size = 32;
	nt = opt.conc < opt.n ? opt.conc : (int)opt.n;
	small_pat = pat_make(opt.seed, 4096);
	r = calloc((size_t)opt.n, sizeof(*r));
	t = calloc((size_t)nt, sizeof(*t));
	if (small_pat == NULL || r == NULL || t == NULL) {
		report_error(0, "out of memory");
		free(r);
		free(t);
		return finish("");
	}
	for (i0 = 0; i0 < opt.n; i0++)
		r[i0].s.fd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the threads inherit it */
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	per = opt.n / nt;
	for (i = 0, i0 = 0; i < nt; i++) {
		t[i].r = r;
		t[i].first = i0;
		t[i].count = per + (i < opt.n % nt ? 1 : 0);
		i0 += t[i].count;
	}
	t0 = now_ns();
	idle_phase(t, nt, 0);
	t_open = now_ns();
	for (i = 0; i < nt; i++)
		opened += t[i].opened;
	printf("{\"event\":\"open\",\"workload\":\"idle\",\"tag\":\"%s\","
	    "\"n\":%ld,\"opened\":%ld,\"open_secs\":%.3f,\"errors\":%ld}\n",
	    opt.tag, opt.n, opened, (double)(t_open - t0) / 1e9, n_errors);
	fflush(stdout);

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		int ms = (int)((double)(t_open - now_ns()) / 1e6 +
		    opt.hold_max * 1000);

		if (ms <= 0)
			break;
		if (poll(pfd, 2, ms) <= 0)
			continue;
		if (pfd[1].revents) {
			why = "signal";
			break;
		}
		if (pfd[0].revents && read(STDIN_FILENO, buf, sizeof(buf))
		    <= 0) {
			why = "stdin-closed";
			break;
		}
	}
	t_hold = now_ns();
	idle_phase(t, nt, 1);
	for (i = 0; i < nt; i++)
		verified += t[i].verified;
	free(t);
	free(r);
	if (verified != opened)
		report_error(0, "%ld tunnels opened, %ld still working after "
		    "the hold", opened, verified);
	snprintf(out, sizeof(out), ",\"n\":%ld,\"opened\":%ld,\"open_secs\":"
	    "%.3f,\"held_secs\":%.3f,\"hold_end\":\"%s\",\"verified_after_hold"
	    "\":%ld,\"value\":%ld,\"unit\":\"tunnels\"", opt.n, opened,
	    (double)(t_open - t0) / 1e9, (double)(t_hold - t_open) / 1e9, why,
	    verified, opened);
	return finish(out);
}

/* ---- startup ------------------------------------------------------------ */

#if defined(__x86_64__)
#define SECCOMP_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH	AUDIT_ARCH_AARCH64
#endif

#define MAX_STOPS	8

#ifdef SECCOMP_ARCH
/* Where a run stops: the first system call of a class, on one fd or any. */
struct stop {
	const char	*name;		/* as given: "read:0", "socket" */
	int		nr[4];		/* system call numbers; -1: none */
	long		fd;		/* its first argument; -1: any */
};

static int
parse_stop(const char *spec, struct stop *st)
{
	static const struct {
		const char	*cls;
		int		nr[4];
	} classes[] = {
		{ "read", { __NR_read, __NR_readv, __NR_recvfrom,
		    __NR_recvmsg } },
		{ "write", { __NR_write, __NR_writev, __NR_sendto,
		    __NR_sendmsg } },
		{ "socket", { __NR_socket, -1, -1, -1 } },
		{ "connect", { __NR_connect, -1, -1, -1 } },
		{ "splice", { __NR_splice, -1, -1, -1 } },
		{ "getpeername", { __NR_getpeername, -1, -1, -1 } },
		{ "futex", { __NR_futex, -1, -1, -1 } },
#ifdef __NR_readlink
		{ "readlink", { __NR_readlink, __NR_readlinkat, -1, -1 } },
#else
		{ "readlink", { __NR_readlinkat, -1, -1, -1 } },
#endif
	};
	const char *colon = strchr(spec, ':');
	size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec), i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strlen(classes[i].cls) == n &&
		    strncmp(spec, classes[i].cls, n) == 0) {
			st->name = spec;
			memcpy(st->nr, classes[i].nr, sizeof(st->nr));
			st->fd = colon != NULL ? atol(colon + 1) : -1;
			return 0;
		}
	}
	return -1;
}

/*
 * In the child, before exec: a seccomp filter that stops the first system
 * call st names (on its fd) and tells the parent through a listener sent on
 * sock.  Everything else runs unhindered: the filter costs a few
 * instructions per system call.  0, or -1.
 */
static int
install_stop(int sock, const struct stop *st)
{
	struct sock_filter f[24];
	struct sock_fprog prog;
	struct msghdr mh;
	struct iovec iov;
	char c = 'L', cbuf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr *cm;
	size_t n = 0, nnr = 0, i;
	int lfd;

	while (nnr < 4 && st->nr[nnr] != -1)
		nnr++;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SECCOMP_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	for (i = 0; i < nnr; i++)	/* to the fd check after the ALLOW */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, (uint32_t)st->nr[i], (uint8_t)(nnr - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	if (st->fd >= 0) {
		/* args[0], low 32 bits (little endian), then the high ones */
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, args[0]));
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, (uint32_t)st->fd, 0, 3);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, args[0]) + 4);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, 0, 0, 1);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_USER_NOTIF);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd == -1)
		return -1;
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = &c;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != 1)
		return -1;
	close(lfd);
	return 0;
}

/* The listener the child sent on sock, or -1. */
static int
recv_listener(int sock)
{
	struct msghdr mh;
	struct iovec iov;
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr *cm;
	int fd = -1;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &c;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

struct child_args {
	int			fd0, fd1, fd2, sock;
	const struct stop	*st;
};

/* The child of clone(CLONE_VM | CLONE_VFORK), as posix_spawn makes it: its
 * own stack, the parent's memory (untouched), until execve. */
static int
child_main(void *arg)
{
	const struct child_args *a = arg;

	if (dup2(a->fd0, 0) == -1 || dup2(a->fd1, 1) == -1 ||
	    dup2(a->fd2, 2) == -1 || install_stop(a->sock, a->st) == -1)
		_exit(126);
	execve(opt.cmd[0], opt.cmd, environ);
	_exit(127);
}

/* The client side of a phases run: the upgrade request went before the
 * spawn; once the 101 is in, one masked frame follows. */
struct pclient {
	int	fd;
	char	buf[4096];
	size_t	len;
	int	sent;
};

static void
pclient_input(struct pclient *c)
{
	static const uint8_t payload[16] = "phases: a frame";
	uint8_t frame[32], m[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t hl;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n <= 0)
		return;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (c->sent || strstr(c->buf, "\r\n\r\n") == NULL)
		return;
	hl = ws_header(frame, OP_BIN, sizeof(payload), m);
	ws_mask_copy(frame + hl, payload, sizeof(payload), m);
	if (write(c->fd, frame, hl + sizeof(payload)) > 0)
		c->sent = 1;
}

/*
 * One run of opt.cmd until st: microseconds from the clone (as in
 * posix_spawn) to the stop, or -1 (the error reported).  fd 0 and 1 of the
 * child are in0 and out1; with a client (client->fd >= 0) its side is
 * served meanwhile.  The child is killed at the stop.
 */
static double
stop_once(const struct stop *st, int in0, int out1, int nullfd,
    struct pclient *client, char *stack, size_t stacksize)
{
	struct seccomp_notif *req;
	struct seccomp_notif_sizes sz;
	struct child_args a;
	size_t reqsize;
	int sp[2], lfd = -1;
	double us = -1;
	int64_t t0, limit;
	pid_t pid;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) == -1)
		sz.seccomp_notif = sizeof(*req);
	reqsize = sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif :
	    sizeof(*req);
	if ((req = calloc(1, reqsize)) == NULL) {
		report_error(0, "out of memory");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		report_error(0, "socketpair: %s", strerror(errno));
		free(req);
		return -1;
	}
	a.fd0 = in0;
	a.fd1 = out1;
	a.fd2 = nullfd;
	a.sock = sp[1];
	a.st = st;
	t0 = now_ns();
	pid = clone(child_main, stack + stacksize, CLONE_VM | CLONE_VFORK |
	    SIGCHLD, &a);
	close(sp[1]);
	if (pid == -1) {
		report_error(0, "clone: %s", strerror(errno));
		goto out;
	}
	if ((lfd = recv_listener(sp[0])) == -1) {
		report_error(0, "no seccomp listener from the child (seccomp "
		    "user notification unsupported?)");
		goto out;
	}
	limit = t0 + (int64_t)opt.timeout * 1000000000;
	for (;;) {
		struct pollfd pfd[2];
		int ms = (int)((limit - now_ns()) / 1000000);

		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = client->fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (ms <= 0 || poll(pfd, client->fd >= 0 ? 2 : 1, ms) <= 0 ||
		    (pfd[0].revents & (POLLHUP | POLLERR))) {
			report_error(0, "%s: no %s within %d s", opt.cmd[0],
			    st->name, opt.timeout);
			goto out;
		}
		if (pfd[0].revents & POLLIN)
			break;
		if (pfd[1].revents)
			pclient_input(client);
	}
	memset(req, 0, reqsize);
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req) == -1) {
		report_error(0, "seccomp notification: %s", strerror(errno));
		goto out;
	}
	us = (double)(now_ns() - t0) / 1e3;
out:
	if (pid > 0) {
		int status;

		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	if (lfd != -1)
		close(lfd);
	close(sp[0]);
	free(req);
	return us;
}

/* A connected client with its upgrade request sent, and the server's end
 * of the connection in *srv: the client's fd, or -1. */
static int
phases_connect(int lsn, const struct sockaddr_in *sa, int *srv)
{
	char req[512], key[32];
	uint8_t raw[16];
	uint64_t rng = rng_seed(), a = splitmix64(&rng), b = splitmix64(&rng);
	int fd, one = 1, n;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 ||
	    (*srv = accept4(lsn, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		close(fd);
		return -1;
	}
	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	b64_ntop(raw, sizeof(raw), key, sizeof(key));
	n = snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    ntohs(sa->sin_port), key);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		close(*srv);
		return -1;
	}
	return fd;
}

/*
 * startup --until read, and phases: runs of opt.cmd, each until one stop;
 * the stops in turn, their order rotated from run to run.  With a client
 * (phases), fd 0 and 1 are the server's end of a fresh TCP connection on
 * which an upgrade request is waiting; else fd 0 is an empty pipe.
 */
static int
run_stops(struct stop *stops, int nstops, int with_client)
{
	const size_t stacksize = 256 * 1024;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	double *v[MAX_STOPS], sum[MAX_STOPS];
	long runs = opt.n > 0 ? opt.n : 200, i;
	char *stack = malloc(stacksize), out[4096];
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC), lsn = -1, k;
	size_t o;

	memset(v, 0, sizeof(v));
	memset(sum, 0, sizeof(sum));
	for (k = 0; k < nstops; k++)
		v[k] = malloc((size_t)runs * sizeof(double));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (with_client && ((lsn = socket(AF_INET, SOCK_STREAM |
	    SOCK_CLOEXEC, 0)) == -1 || bind(lsn, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1 || listen(lsn, 16) == -1 ||
	    getsockname(lsn, (struct sockaddr *)&sa, &sl) == -1))
		report_error(0, "listen: %s", strerror(errno));
	for (k = 0; k < nstops; k++)
		if (v[k] == NULL)
			stack = NULL;	/* reported below */
	if (stack == NULL || nullfd == -1)
		report_error(0, "setup: %s", strerror(errno));
	for (i = 0; i < runs && n_errors == 0; i++) {
		for (k = 0; k < nstops && n_errors == 0; k++) {
			int j = (int)((k + i) % nstops), in[2] = { -1, -1 };
			struct pclient c;
			double us;

			memset(&c, 0, sizeof(c));
			c.fd = -1;
			if (with_client) {
				c.fd = phases_connect(lsn, &sa, &in[0]);
				if (c.fd == -1) {
					report_error(0, "connect: %s",
					    strerror(errno));
					break;
				}
				in[1] = in[0];
			} else if (pipe2(in, O_CLOEXEC) == -1) {
				report_error(0, "pipe: %s", strerror(errno));
				break;
			}
			us = stop_once(&stops[j], in[0], with_client ? in[0] :
			    nullfd, nullfd, &c, stack, stacksize);
			close(in[0]);
			if (!with_client)
				close(in[1]);
			if (c.fd != -1)
				close(c.fd);
			if (us < 0)
				break;
			v[j][i] = us;
			sum[j] += us;
		}
	}
	o = (size_t)snprintf(out, sizeof(out), ",\"until\":\"%s\",\"runs\":%ld",
	    with_client ? "phases" : "read", runs);
	for (k = 0; k < nstops && n_errors == 0; k++) {
		qsort(v[k], (size_t)runs, sizeof(double), cmp_double);
		if (!with_client)	/* as the exit mode's numbers */
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    ",\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
			    "\"min_us\":%.1f,\"mean_us\":%.1f,\"value\":%.1f,"
			    "\"unit\":\"us\"", pct(v[k], (size_t)runs, 10),
			    pct(v[k], (size_t)runs, 50),
			    pct(v[k], (size_t)runs, 90), v[k][0],
			    sum[k] / (double)runs, pct(v[k], (size_t)runs, 50));
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "%s{\"stop\":\"%s\",\"p10_us\":%.1f,\"p50_us\":"
			    "%.1f,\"p90_us\":%.1f,\"min_us\":%.1f}%s",
			    k == 0 ? ",\"stops\":[" : ",", stops[k].name,
			    pct(v[k], (size_t)runs, 10),
			    pct(v[k], (size_t)runs, 50),
			    pct(v[k], (size_t)runs, 90), v[k][0],
			    k == nstops - 1 ? "]" : "");
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
	}
	for (k = 0; k < nstops; k++)
		free(v[k]);
	free(stack);
	if (nullfd != -1)
		close(nullfd);
	if (lsn != -1)
		close(lsn);
	return finish(n_errors == 0 ? out : "");
}
#endif

static const char *stop_specs[MAX_STOPS];
static int nstop_specs;

static int
run_startup_read(int with_client)
{
#ifdef SECCOMP_ARCH
	struct stop stops[MAX_STOPS];
	int k;

	if (!with_client) {
		stop_specs[0] = "read:0";
		nstop_specs = 1;
	}
	if (nstop_specs == 0) {
		report_error(0, "phases: no --stop");
		return finish("");
	}
	for (k = 0; k < nstop_specs; k++) {
		if (parse_stop(stop_specs[k], &stops[k]) == -1) {
			report_error(0, "bad --stop %s (read|write|socket|"
			    "connect|splice|getpeername|futex|readlink[:FD])",
			    stop_specs[k]);
			return finish("");
		}
	}
	return run_stops(stops, nstop_specs, with_client);
#else
	(void)with_client;
	report_error(0, "no seccomp support for this architecture here");
	return finish("");
#endif
}

static int
run_startup(void)
{
	posix_spawn_file_actions_t fa;
	double *v, sum = 0;
	long runs = opt.n > 0 ? opt.n : 200, i, bad = 0;
	int first_status = -1;
	char out[1024];

	if (opt.cmd == NULL || opt.cmd[0] == NULL) {
		report_error(0, "startup: no command after --");
		return finish("");
	}
	if (opt.until_read)
		return run_startup_read(0);
	v = malloc((size_t)runs * sizeof(double));
	if (v == NULL) {
		report_error(0, "out of memory");
		return finish("");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (i = 0; i < runs; i++) {
		int64_t t0 = now_ns();
		int status;
		pid_t pid;

		if ((errno = posix_spawn(&pid, opt.cmd[0], &fa, NULL, opt.cmd,
		    environ)) != 0) {
			report_error(0, "spawn %s: %s", opt.cmd[0],
			    strerror(errno));
			free(v);
			return finish("");
		}
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		v[i] = (double)(now_ns() - t0) / 1e3;
		sum += v[i];
		if (first_status == -1)
			first_status = status;
		if (status != first_status)
			bad++;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (bad > 0)
		report_error(0, "%ld runs ended differently from the first "
		    "(status %d)", bad, first_status);
	qsort(v, (size_t)runs, sizeof(double), cmp_double);
	snprintf(out, sizeof(out), ",\"until\":\"exit\",\"runs\":%ld,"
	    "\"exit_status\":%d,\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":"
	    "%.1f,\"min_us\":%.1f,\"mean_us\":%.1f,\"value\":%.1f,\"unit\":"
	    "\"us\"", runs, WIFEXITED(first_status) ?
	    WEXITSTATUS(first_status) : 128 + WTERMSIG(first_status),
	    pct(v, (size_t)runs, 10), pct(v, (size_t)runs, 50),
	    pct(v, (size_t)runs, 90), v[0], sum / (double)runs,
	    pct(v, (size_t)runs, 50));
	free(v);
	return finish(out);
}

/* ------------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr, "usage: wsload upgrades|echo|download|upload|pingpong|"
	    "idle [-H HOST] -p PORT\n"
	    "         [-d SECS] [-c CONC] [-n N] [-s SIZE] [-w WINDOW] "
	    "[--seed N] [--tag T]\n"
	    "         [--timeout S] [--hold-max S] [--tls] [--ca FILE] "
	    "[--sni NAME]\n"
	    "       wsload startup [-n RUNS] [--until exit|read] -- PROG "
	    "ARGS...\n"
	    "       wsload phases [-n RUNS] --stop CALL[:FD] [--stop ...] -- "
	    "PROG ARGS...\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 'O' },
		{ "hold-max", required_argument, NULL, 'M' },
		{ "tls", no_argument, NULL, 'L' },
		{ "ca", required_argument, NULL, 'A' },
		{ "sni", required_argument, NULL, 'N' },
		{ "until", required_argument, NULL, 'U' },
		{ "stop", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit rl;
	int c;

	if (argc < 2)
		usage();
	opt.workload = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "+H:p:d:c:n:s:w:", lo, NULL))
	    != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.conc = atoi(optarg); break;
		case 'n': opt.n = atol(optarg); break;
		case 's': opt.size = (size_t)strtoull(optarg, NULL, 10); break;
		case 'w': opt.window = atol(optarg); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 10); break;
		case 'T': opt.tag = optarg; break;
		case 'O': opt.timeout = atoi(optarg); break;
		case 'M': opt.hold_max = atof(optarg); break;
		case 'L': opt.tls = 1; break;
		case 'A': opt.ca = optarg; opt.tls = 1; break;
		case 'N': opt.sni = optarg; break;
		case 'P':
			if (nstop_specs == MAX_STOPS)
				usage();
			stop_specs[nstop_specs++] = optarg;
			break;
		case 'U':
			if (strcmp(optarg, "read") == 0)
				opt.until_read = 1;
			else if (strcmp(optarg, "exit") != 0)
				usage();
			break;
		default: usage();
		}
	}
	opt.cmd = argv + optind;
	if (strchr(opt.tag, '"') != NULL || strchr(opt.tag, '\\') != NULL)
		opt.tag = "";
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	t_start = now_ns();
	/* a watchdog: no run outlives its duration by much */
	if (strcmp(opt.workload, "idle") != 0 &&
	    strcmp(opt.workload, "startup") != 0 &&
	    strcmp(opt.workload, "phases") != 0)
		alarm((unsigned)(opt.duration + 3 * opt.timeout + 30));
	if (strcmp(opt.workload, "startup") == 0)
		return run_startup();
	if (strcmp(opt.workload, "phases") == 0) {
		if (opt.cmd == NULL || opt.cmd[0] == NULL)
			usage();
		return run_startup_read(1);
	}
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)opt.port);
	if (opt.port <= 0 || inet_pton(AF_INET, opt.host, &target.sin_addr)
	    != 1)
		usage();
	if (opt.tls && tls_init() == -1)
		return finish("");
	if (strcmp(opt.workload, "upgrades") == 0)
		return run_upgrades();
	if (strcmp(opt.workload, "echo") == 0)
		return run_echo();
	if (strcmp(opt.workload, "download") == 0)
		return run_download();
	if (strcmp(opt.workload, "upload") == 0)
		return run_upload();
	if (strcmp(opt.workload, "pingpong") == 0)
		return run_pingpong();
	if (strcmp(opt.workload, "idle") == 0)
		return run_idle();
	usage();
	return 64;
}
