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
 *	wsload startup   [-n 200] -- PROG ARGS...   PROG run with stdin,
 *			stdout and stderr on /dev/null, spawn to exit timed
 *
 * Common: -H HOST (127.0.0.1), -p PORT, --seed N, --tag TEXT, --timeout S
 * (each blocking step, 10).  Output: one JSON line on stdout per run (idle:
 * one more when all are open); "ok":false and exit status 1 on any failure.
 * MB is 10^6 bytes of WebSocket payload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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
} opt = {
	.host = "127.0.0.1", .duration = 5, .conc = 0, .n = 0, .size = 0,
	.window = 0, .seed = 1, .tag = "", .timeout = 10, .hold_max = 600,
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
	va_list ap;

	pthread_mutex_lock(&err_lock);
	n_errors++;
	if (verify)
		verify_failed = 1;
	if (first_error[0] == '\0') {
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

static int
dial(char *err, size_t errsize)
{
	struct timeval tv = { .tv_sec = opt.timeout };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == -1) {
		snprintf(err, errsize, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const void *buf, size_t n, char *err, size_t errsize)
{
	const uint8_t *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errsize, "write: %s", w < 0 ?
			    (errno == EAGAIN ? "timed out" : strerror(errno)) :
			    "wrote nothing");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A blocking read: > 0, 0 at end of stream, -1 with err set. */
static ssize_t
read_some(int fd, void *buf, size_t n, char *err, size_t errsize)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		snprintf(err, errsize, "read: %s", errno == EAGAIN ?
		    "timed out" : strerror(errno));
	return r;
}

/*
 * Sends the upgrade request for path, reads and checks the 101.  Bytes that
 * came after the head are left in extra (*extralen).  0, or -1 with err set
 * (*verify set when the answer was wrong rather than the connection).
 */
static int
handshake(int fd, const char *path, uint64_t *rng, uint8_t *extra,
    size_t *extralen, int *verify, char *err, size_t errsize)
{
	char req[1024], head[8193], key[32], want[64];
	uint8_t raw[16];
	const char *v, *end;
	size_t len = 0, vlen, rest;
	uint64_t a = splitmix64(rng), b = splitmix64(rng);
	ssize_t n;
	int rl;

	*verify = 0;
	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	b64_ntop(raw, sizeof(raw), key, sizeof(key));
	rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Origin: http://%s:%d\r\n\r\n", path, opt.host, opt.port, key,
	    opt.host, opt.port);
	if (write_all(fd, req, (size_t)rl, err, errsize) == -1)
		return -1;
	for (;;) {
		if (len == sizeof(head) - 1) {
			snprintf(err, errsize, "response head too long");
			*verify = 1;
			return -1;
		}
		n = read_some(fd, head + len, sizeof(head) - 1 - len, err,
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
send_frame(int fd, int opcode, const uint8_t *payload, size_t len,
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
	return write_all(fd, buf, hl + len, err, errsize);
}

/* Reading whole small frames from a blocking socket. */
struct reader {
	int		fd;
	uint8_t		buf[4096];
	size_t		off, len;
	struct ws_parser p;
	uint8_t		frame[4096];
	size_t		flen;
	int		opcode, done, toolong;
};

static void
reader_init(struct reader *r, int fd, const uint8_t *extra, size_t n)
{
	r->fd = fd;
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
	ssize_t n;
	int rc;

	*verify = 0;
	r->done = 0;
	for (;;) {
		if (r->off < r->len) {
			rc = ws_feed(&r->p, r->buf + r->off, r->len - r->off,
			    reader_cb, r);
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
		n = read_some(r->fd, r->buf, sizeof(r->buf), err, errsize);
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
	if (send_frame(r->fd, OP_BIN, want, size, rng, err, errsize) == -1)
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

/* The close handshake: our close, the server's close, its end of stream.
 * 0, or -1. */
static int
close_handshake(struct reader *r, uint64_t *rng, int *verify, char *err,
    size_t errsize)
{
	static const uint8_t normal[2] = { 0x03, 0xe8 };
	uint8_t b;
	int rc;

	*verify = 0;
	if (send_frame(r->fd, OP_CLOSE, normal, 2, rng, err, errsize) == -1)
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
	rc = (int)read_some(r->fd, &b, 1, err, errsize);
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
	size_t elen;
	uint64_t rng = rng_seed(), q = 0;
	char err[300];
	int fd, verify;
	int64_t t0;

	if (r == NULL)
		return NULL;
	while (now_ns() < deadline && !verify_failed) {
		t0 = now_ns();
		if ((fd = dial(err, sizeof(err))) == -1) {
			report_error(0, "%s", err);
			usleep(1000);
			continue;
		}
		elen = sizeof(extra);
		if (handshake(fd, "/echo", &rng, extra, &elen, &verify, err,
		    sizeof(err)) == -1 ||
		    (reader_init(r, fd, extra, elen),
		    echo_once(r, &rng, q++, opt.size, small_pat, &verify, err,
		    sizeof(err)) == -1) ||
		    close_handshake(r, &rng, &verify, err, sizeof(err)) == -1) {
			report_error(verify, "%s", err);
			close(fd);
			continue;
		}
		close(fd);
		t->done++;
		if (t->nlat == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 4096;
			t->lat = realloc(t->lat, t->cap * sizeof(double));
			if (t->lat == NULL)
				break;
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
	for (i = 0, k = 0; i < opt.conc; i++) {
		memcpy(all + k, t[i].lat, t[i].nlat * sizeof(double));
		k += t[i].nlat;
	}
	qsort(all, nall, sizeof(double), cmp_double);
	snprintf(extra, sizeof(extra), ",\"concurrency\":%d,\"upgrades\":%ld,"
	    "\"secs\":%.3f,\"value\":%.1f,\"unit\":\"upgrades/s\","
	    "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f", opt.conc, total, secs,
	    (double)total / secs, pct(all, nall, 50), pct(all, nall, 99));
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

/* Connects and upgrades for path; leftover bytes in extra. */
static int
open_ws(const char *path, uint64_t *rng, uint8_t *extra, size_t *elen)
{
	char err[300];
	int fd, verify;

	if ((fd = dial(err, sizeof(err))) == -1) {
		report_error(0, "%s", err);
		return -1;
	}
	if (handshake(fd, path, rng, extra, elen, &verify, err,
	    sizeof(err)) == -1) {
		report_error(verify, "%s", err);
		close(fd);
		return -1;
	}
	return fd;
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
	int fd, have = 0, stopping = 0, close_queued = 0, got_eof = 0;
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
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	if ((fd = open_ws("/echo", &rng, extra, &elen)) == -1)
		return finish("");
	t0 = last_progress = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	if (elen > 0 && feed_checker(&p, &ck, extra, elen) != 0)
		goto out;
	set_nonblock(fd);
	while (!got_eof) {
		int64_t now = now_ns();

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
		pfd.fd = fd;
		pfd.events = POLLIN | (have ? POLLOUT : 0);
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
			report_error(0, "poll: %s", strerror(errno));
			goto out;
		}
		if (have && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(fd, sbuf + soff, slen - soff);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				report_error(0, "write: %s", strerror(errno));
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
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			n = read(fd, rbuf, rcap);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				report_error(0, "read: %s", strerror(errno));
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
	close(fd);
	if (t_last == 0)
		t_last = now_ns();
	snprintf(out, sizeof(out), ",\"size\":%zu,\"window\":%ld,\"frames\":"
	    "%" PRIu64 ",\"bytes\":%" PRIu64 ",\"secs\":%.3f,\"value\":%.2f,"
	    "\"unit\":\"MB/s\"", opt.size, opt.window, ck.q, ck.bytes,
	    (double)(t_last - t0) / 1e9,
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
	int fd, close_sent = 0;
	int64_t t0, t_end = 0;
	ssize_t n;
	char path[128], err[300], out[512];
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (opt.size == 0)
		opt.size = 1048576;
	pat = pat_make(opt.seed, opt.size);
	rbuf = malloc(rcap);
	memset(&ck, 0, sizeof(ck));
	ck.size = opt.size;
	ws_parser_init(&p);
	snprintf(path, sizeof(path), "/download?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if ((fd = open_ws(path, &rng, extra, &elen)) == -1)
		return finish("");
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	if (elen > 0 && feed_checker(&p, &ck, extra, elen) != 0)
		goto out;
	for (;;) {
		if (!close_sent && now_ns() >= deadline) {
			if (send_frame(fd, OP_CLOSE, normal, 2, &rng, err,
			    sizeof(err)) == -1) {
				report_error(0, "%s", err);
				goto out;
			}
			close_sent = 1;
		}
		n = read_some(fd, rbuf, rcap, err, sizeof(err));
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
	close(fd);
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
	size_t elen = sizeof(extra), hl;
	uint64_t rng = rng_seed(), q = 0;
	unsigned long long f = 0, b = 0, bad = 0;
	struct reader *r;
	int fd, verify, rc;
	int64_t t0, t_end = 0;
	char path[128], err[300], out[512], ack[200];
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (opt.size == 0)
		opt.size = 1048576;
	pat = pat_make(opt.seed, opt.size);
	sbuf = malloc(opt.size + 14);
	r = malloc(sizeof(*r));
	snprintf(path, sizeof(path), "/upload?size=%zu&seed=%" PRIu64,
	    opt.size, opt.seed);
	if ((fd = open_ws(path, &rng, extra, &elen)) == -1)
		return finish("");
	reader_init(r, fd, extra, elen);
	t0 = now_ns();
	deadline = t0 + (int64_t)(opt.duration * 1e9);
	while (now_ns() < deadline) {
		hl = build_frame(sbuf, q, opt.size, &rng);
		if (write_all(fd, sbuf, hl + opt.size, err, sizeof(err))
		    == -1) {
			report_error(0, "%s after %" PRIu64 " frames", err, q);
			goto out;
		}
		q++;
	}
	if (send_frame(fd, OP_CLOSE, normal, 2, &rng, err, sizeof(err)) == -1) {
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
	close(fd);
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
	double *lat, sum = 0;
	int fd, verify, warm = 200;
	int64_t t0, t1;
	char err[300], out[512];

	if (opt.size == 0)
		opt.size = 16;
	if (opt.size > 256)
		opt.size = 256;
	cap = opt.n > 0 ? (size_t)opt.n : 2000000;
	lat = malloc(cap * sizeof(double));
	pat = pat_make(opt.seed, 4096);
	r = malloc(sizeof(*r));
	if ((fd = open_ws("/echo", &rng, extra, &elen)) == -1)
		return finish("");
	reader_init(r, fd, extra, elen);
	deadline = now_ns() + (int64_t)(opt.duration * 1e9);
	while (n < cap) {
		t0 = now_ns();
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
	close(fd);
	qsort(lat, n, sizeof(double), cmp_double);
	snprintf(out, sizeof(out), ",\"size\":%zu,\"round_trips\":%zu,"
	    "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
	    "\"value\":%.2f,\"unit\":\"us p50\"", opt.size, n,
	    pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
	    n ? sum / (double)n : 0, pct(lat, n, 50));
	return finish(out);
}

/* ---- idle --------------------------------------------------------------- */

struct idle_thread {
	pthread_t	th;
	int		*fds;
	struct reader	*r;
	long		first, count, opened, verified;
	int		phase;		/* 0 open, 1 check and close */
};

static void *
idle_main(void *arg)
{
	struct idle_thread *t = arg;
	uint8_t extra[4096];
	size_t elen;
	uint64_t rng = rng_seed();
	char err[300];
	int verify;
	long i;

	for (i = t->first; i < t->first + t->count && !verify_failed; i++) {
		if (t->phase == 0) {
			elen = sizeof(extra);
			t->fds[i] = open_ws("/echo", &rng, extra, &elen);
			if (t->fds[i] == -1)
				continue;
			reader_init(&t->r[i], t->fds[i], extra, elen);
			if (echo_once(&t->r[i], &rng, (uint64_t)i, opt.size,
			    small_pat, &verify, err, sizeof(err)) == -1) {
				report_error(verify, "tunnel %ld: %s", i, err);
				close(t->fds[i]);
				t->fds[i] = -1;
				continue;
			}
			t->opened++;
			continue;
		}
		if (t->fds[i] == -1)
			continue;
		if (echo_once(&t->r[i], &rng, (uint64_t)i + 1, opt.size,
		    small_pat, &verify, err, sizeof(err)) == -1 ||
		    close_handshake(&t->r[i], &rng, &verify, err,
		    sizeof(err)) == -1)
			report_error(verify, "tunnel %ld after the hold: %s",
			    i, err);
		else
			t->verified++;
		close(t->fds[i]);
		t->fds[i] = -1;
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
	int *fds, nt, i, sfd;
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
	fds = malloc((size_t)opt.n * sizeof(int));
	r = calloc((size_t)opt.n, sizeof(*r));
	t = calloc((size_t)nt, sizeof(*t));
	if (fds == NULL || r == NULL || t == NULL) {
		report_error(0, "out of memory");
		return finish("");
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the threads inherit it */
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	per = opt.n / nt;
	for (i = 0, i0 = 0; i < nt; i++) {
		t[i].fds = fds;
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
		if (pfd[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n <= 0) {
				why = "stdin-closed";
				break;
			}
		}
	}
	t_hold = now_ns();
	idle_phase(t, nt, 1);
	for (i = 0; i < nt; i++)
		verified += t[i].verified;
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

static int
run_startup(void)
{
	posix_spawn_file_actions_t fa;
	double *v, sum = 0;
	long runs = opt.n > 0 ? opt.n : 200, i, bad = 0;
	int status, first_status = -1;
	pid_t pid;
	int64_t t0;
	char out[1024];

	if (opt.cmd == NULL || opt.cmd[0] == NULL) {
		report_error(0, "startup: no command after --");
		return finish("");
	}
	v = malloc((size_t)runs * sizeof(double));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (i = 0; i < runs; i++) {
		t0 = now_ns();
		if ((errno = posix_spawn(&pid, opt.cmd[0], &fa, NULL, opt.cmd,
		    environ)) != 0) {
			report_error(0, "spawn %s: %s", opt.cmd[0],
			    strerror(errno));
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
	if (bad > 0)
		report_error(0, "%ld runs ended differently from the first "
		    "(status %d)", bad, first_status);
	qsort(v, (size_t)runs, sizeof(double), cmp_double);
	snprintf(out, sizeof(out), ",\"runs\":%ld,\"exit_status\":%d,"
	    "\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"min_us\":%.1f,"
	    "\"mean_us\":%.1f,\"value\":%.1f,\"unit\":\"us\"", runs,
	    WIFEXITED(first_status) ? WEXITSTATUS(first_status) :
	    128 + WTERMSIG(first_status), pct(v, (size_t)runs, 10),
	    pct(v, (size_t)runs, 50), pct(v, (size_t)runs, 90), v[0],
	    sum / (double)runs, pct(v, (size_t)runs, 50));
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
	    "         [--timeout S] [--hold-max S]\n"
	    "       wsload startup [-n RUNS] -- PROG ARGS...\n");
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
	    strcmp(opt.workload, "startup") != 0)
		alarm((unsigned)(opt.duration + 3 * opt.timeout + 30));
	if (strcmp(opt.workload, "startup") == 0)
		return run_startup();
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)opt.port);
	if (opt.port <= 0 || inet_pton(AF_INET, opt.host, &target.sin_addr)
	    != 1)
		usage();
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
