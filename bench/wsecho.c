/*
 * wsecho: the benchmark's WebSocket backend.  One process, one thread,
 * epoll, non-blocking sockets, any number of connections (RLIMIT_NOFILE is
 * raised to its hard limit).  It answers an upgrade with a correct 101 and
 * then serves what the request path names:
 *
 *	/echo			every data frame back as it came (unmasked),
 *				ping answered with pong, close with close
 *	/download?size=S&seed=X	frames of S bytes of the pattern for seed X,
 *				without end, until the client's close frame;
 *				the frame under way is finished, then close
 *	/upload?size=S&seed=X	frames are checked against the pattern and
 *				counted; on the client's close frame one text
 *				frame "frames=F bytes=B bad=N" then close
 *
 * After its close frame it shuts its side down and waits for the client's
 * end of stream, so the client is never reset.
 *
 *	wsecho [-a ADDR] [-p PORT]	(port 0: any; "port=N" on stdout)
 *
 * On SIGTERM or SIGINT it prints its counters on stderr and exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ws.h"

#define HEAD_MAX	8192
/* buffers start small (thousands of idle tunnels) and grow to the big ones
 * once a read fills the small one (bulk transfer) */
#define IN_SMALL	(16 * 1024)
#define OUT_SMALL	(64 * 1024)
#define IN_BIG		(256 * 1024)
#define OUT_BIG		(1024 * 1024)
#define MAX_FRAME	(64u * 1024 * 1024)

enum { ST_HEAD, ST_WS, ST_CLOSING, ST_DRAIN };
enum { M_ECHO, M_DOWNLOAD, M_UPLOAD };

struct conn {
	int		fd;
	int		state, mode;
	uint32_t	events;
	char		head[HEAD_MAX + 1];
	size_t		headlen;
	uint8_t		*in;
	uint8_t		*out;
	size_t		incap, outcap;
	size_t		ooff, olen;
	struct ws_parser p;
	int		close_seen;	/* the client's close frame came */
	/* download and upload */
	uint8_t		*pat;
	size_t		fsize;
	uint64_t	q;		/* frame number */
	uint64_t	pos;		/* download: payload bytes of frame q sent */
	uint8_t		hdr[14];
	size_t		hlen, hoff;
	uint64_t	bytes, bad;
	int		frame_bad;
};

static int ep;
static volatile sig_atomic_t stop;
static struct {
	unsigned long long accepted, upgraded, refused, proto_err, io_err,
	    upload_bad, closed;
} stats;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
conn_free(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c->pat);
	free(c);
	stats.closed++;
}

/* Appends to the output queue: 0, or -1 when it has no room. */
static int
out_put(struct conn *c, const void *data, size_t n)
{
	if (c->ooff > 0 && c->ooff + c->olen + n > c->outcap) {
		memmove(c->out, c->out + c->ooff, c->olen);
		c->ooff = 0;
	}
	if (c->ooff + c->olen + n > c->outcap)
		return -1;
	memcpy(c->out + c->ooff + c->olen, data, n);
	c->olen += n;
	return 0;
}

static size_t
out_room(const struct conn *c)
{
	return c->outcap - c->olen;
}

static uint64_t
query_num(const char *path, const char *name, uint64_t dflt)
{
	const char *q = strchr(path, '?'), *s;
	size_t nl = strlen(name);

	for (s = q; s != NULL; s = strchr(s + 1, '&')) {
		if (strncmp(s + 1, name, nl) == 0 && s[1 + nl] == '=')
			return strtoull(s + 2 + nl, NULL, 10);
	}
	return dflt;
}

static int
path_is(const char *path, const char *what)
{
	size_t n = strlen(what);

	return strncmp(path, what, n) == 0 &&
	    (path[n] == '\0' || path[n] == '?' || path[n] == '/');
}

static void
refuse(struct conn *c, const char *status)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %s\r\nContent-Length: 0"
	    "\r\nConnection: close\r\n\r\n", status);

	stats.refused++;
	if (write(c->fd, buf, (size_t)n) < 0) {
		/* the connection goes anyway */
	}
	conn_free(c);
}

static int on_frame(void *arg, struct ws_parser *p, int ev, uint8_t *data,
    size_t len);

static void
start_closing(struct conn *c, const uint8_t *payload, size_t n)
{
	uint8_t h[14];
	size_t hl = ws_header(h, OP_CLOSE, n, NULL);

	out_put(c, h, hl);	/* room: the caller made sure */
	if (n > 0)
		out_put(c, payload, n);
	c->state = ST_CLOSING;
}

/* The download's close frame goes when the frame under way is complete. */
static void
download_maybe_close(struct conn *c)
{
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (c->close_seen && c->state == ST_WS && c->pos == 0 && c->hoff == 0)
		start_closing(c, normal, 2);
}

static int
on_frame(void *arg, struct ws_parser *p, int ev, uint8_t *data, size_t len)
{
	struct conn *c = arg;
	uint8_t h[14];
	size_t hl;

	if (c->state != ST_WS)		/* after close: ignored */
		return 0;
	if (p->opcode == OP_CLOSE || p->opcode == OP_PING) {
		if (p->plen > 125 || !p->fin) {
			p->error = "bad control frame";
			return -1;
		}
		if (ev == WS_EV_HEADER) {
			c->headlen = 0;	/* head[] holds the control payload */
			return 0;
		}
		if (ev == WS_EV_DATA) {
			memcpy(c->head + c->headlen, data, len);
			c->headlen += len;
			return 0;
		}
		if (p->opcode == OP_PING) {
			if (c->mode != M_ECHO)	/* not into a frame */
				return 0;
			hl = ws_header(h, OP_PONG, c->headlen, NULL);
			out_put(c, h, hl);
			out_put(c, c->head, c->headlen);
			return 0;
		}
		c->close_seen = 1;
		if (c->mode == M_ECHO)
			start_closing(c, (uint8_t *)c->head, c->headlen);
		else if (c->mode == M_UPLOAD) {
			char ack[128];
			int n = snprintf(ack, sizeof(ack),
			    "frames=%llu bytes=%llu bad=%llu",
			    (unsigned long long)c->q,
			    (unsigned long long)c->bytes,
			    (unsigned long long)c->bad);

			hl = ws_header(h, OP_TEXT, (uint64_t)n, NULL);
			out_put(c, h, hl);
			out_put(c, ack, (size_t)n);
			start_closing(c, (const uint8_t *)"\x03\xe8", 2);
		} else
			download_maybe_close(c);
		return 0;
	}
	if (p->opcode == OP_PONG)
		return 0;
	switch (c->mode) {
	case M_ECHO:
		if (ev == WS_EV_HEADER) {
			hl = ws_header(h, p->opcode, p->plen, NULL);
			h[0] = (uint8_t)((p->fin ? 0x80 : 0) | p->opcode);
			out_put(c, h, hl);
		} else if (ev == WS_EV_DATA)
			out_put(c, data, len);
		return 0;
	case M_UPLOAD:
		if (ev == WS_EV_HEADER) {
			c->frame_bad = (p->plen != c->fsize);
		} else if (ev == WS_EV_DATA) {
			if (!c->frame_bad && memcmp(data, c->pat +
			    pat_off(c->q) + p->pos, len) != 0)
				c->frame_bad = 1;
			c->bytes += len;
		} else {
			if (c->frame_bad) {
				c->bad++;
				stats.upload_bad++;
			}
			c->q++;
		}
		return 0;
	default:	/* download: the client's data frames are ignored */
		return 0;
	}
}

static int
upgrade(struct conn *c, char *end)
{
	char path[2048], accept[64], resp[512];
	const char *key, *v;
	size_t klen = 0, vlen = 0, plen;
	char *sp;
	int n;

	*end = '\0';
	if (strncmp(c->head, "GET ", 4) != 0 ||
	    (sp = strchr(c->head + 4, ' ')) == NULL) {
		refuse(c, "400 Bad Request");
		return -1;
	}
	plen = (size_t)(sp - (c->head + 4));
	if (plen >= sizeof(path)) {
		refuse(c, "414 URI Too Long");
		return -1;
	}
	memcpy(path, c->head + 4, plen);
	path[plen] = '\0';
	key = http_header(c->head, "Sec-WebSocket-Key", &klen);
	v = http_header(c->head, "Upgrade", &vlen);
	if (key == NULL || klen > 40 || v == NULL ||
	    !http_has_token(v, vlen, "websocket")) {
		refuse(c, "400 Bad Request");
		return -1;
	}
	if (path_is(path, "/echo"))
		c->mode = M_ECHO;
	else if (path_is(path, "/download"))
		c->mode = M_DOWNLOAD;
	else if (path_is(path, "/upload"))
		c->mode = M_UPLOAD;
	else {
		refuse(c, "404 Not Found");
		return -1;
	}
	if (c->mode != M_ECHO) {
		c->fsize = (size_t)query_num(path, "size", 1048576);
		if (c->fsize == 0 || c->fsize > MAX_FRAME) {
			refuse(c, "400 Bad Request");
			return -1;
		}
		c->pat = pat_make(query_num(path, "seed", 1), c->fsize);
		if (c->pat == NULL) {
			refuse(c, "500 Internal Server Error");
			return -1;
		}
		c->hlen = ws_header(c->hdr, OP_BIN, c->fsize, NULL);
	}
	c->incap = IN_SMALL;
	c->outcap = OUT_SMALL;
	c->in = malloc(c->incap);
	c->out = malloc(c->outcap);
	if (c->in == NULL || c->out == NULL) {
		refuse(c, "500 Internal Server Error");
		return -1;
	}
	ws_accept(key, klen, accept, sizeof(accept));
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	out_put(c, resp, (size_t)n);
	ws_parser_init(&c->p);
	c->state = ST_WS;
	stats.upgraded++;
	return 0;
}

/* Feeds bytes that arrived: 0, or -1 when c is gone. */
static int
feed(struct conn *c, uint8_t *data, size_t n)
{
	if (ws_feed(&c->p, data, n, on_frame, c) != 0) {
		fprintf(stderr, "wsecho: fd %d: protocol error: %s\n", c->fd,
		    c->p.error != NULL ? c->p.error : "?");
		stats.proto_err++;
		conn_free(c);
		return -1;
	}
	return 0;
}

/* The head arrived in part or whole: 0, or -1 when c is gone. */
static int
on_head(struct conn *c)
{
	ssize_t n;
	char *end;
	size_t rest;

	n = read(c->fd, c->head + c->headlen, HEAD_MAX - c->headlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_free(c);
		return -1;
	}
	if (n < 0)
		return 0;
	c->headlen += (size_t)n;
	c->head[c->headlen] = '\0';
	if ((end = strstr(c->head, "\r\n\r\n")) == NULL) {
		if (c->headlen == HEAD_MAX) {
			refuse(c, "431 Request Header Fields Too Large");
			return -1;
		}
		return 0;
	}
	rest = c->headlen - (size_t)(end + 4 - c->head);
	if (upgrade(c, end + 2) == -1)
		return -1;
	if (rest > 0) {
		memcpy(c->in, end + 4, rest);
		c->headlen = 0;
		return feed(c, c->in, rest);
	}
	c->headlen = 0;
	return 0;
}

/* Sends what the output queue holds: 0, or -1 when c is gone. */
static int
flush(struct conn *c)
{
	while (c->olen > 0) {
		ssize_t n = write(c->fd, c->out + c->ooff, c->olen);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			stats.io_err++;
			conn_free(c);
			return -1;
		}
		c->ooff += (size_t)n;
		c->olen -= (size_t)n;
	}
	c->ooff = 0;
	return 0;
}

/* Streams download frames straight from the pattern: 0, or -1 when c is
 * gone. */
static int
generate(struct conn *c)
{
	struct iovec iov[32];
	size_t left, t;

	while (c->state == ST_WS && c->olen == 0) {
		uint64_t q = c->q, pos = c->pos;
		size_t hoff = c->hoff, total = 0;
		ssize_t n;
		int k = 0;

		while (k < 31 && total < 4u * 1024 * 1024) {
			if (c->close_seen && (q != c->q ||
			    (pos == 0 && hoff == 0)))
				break;	/* no new frame after the close */
			if (hoff < c->hlen) {
				iov[k].iov_base = c->hdr + hoff;
				iov[k++].iov_len = c->hlen - hoff;
				total += c->hlen - hoff;
			}
			iov[k].iov_base = c->pat + pat_off(q) + pos;
			iov[k++].iov_len = c->fsize - pos;
			total += c->fsize - pos;
			q++;
			pos = 0;
			hoff = 0;
		}
		if (k == 0)
			break;
		n = writev(c->fd, iov, k);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			stats.io_err++;
			conn_free(c);
			return -1;
		}
		for (left = (size_t)n; left > 0;) {
			if (c->hoff < c->hlen) {
				t = c->hlen - c->hoff < left ?
				    c->hlen - c->hoff : left;
				c->hoff += t;
				left -= t;
				continue;
			}
			t = c->fsize - c->pos < left ? c->fsize - c->pos : left;
			c->pos += t;
			left -= t;
			if (c->pos == c->fsize) {
				c->q++;
				c->pos = 0;
				c->hoff = 0;
			}
		}
		c->bytes += (size_t)n;
	}
	download_maybe_close(c);
	return 0;
}

static void
set_events(struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	switch (c->state) {
	case ST_HEAD:
	case ST_DRAIN:
		want = EPOLLIN;
		break;
	case ST_WS:
		if (out_room(c) >= c->incap)
			want |= EPOLLIN;
		if (c->olen > 0 || c->mode == M_DOWNLOAD)
			want |= EPOLLOUT;
		break;
	case ST_CLOSING:
		want = EPOLLOUT;
		break;
	}
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = want;
}

/* Bulk traffic: the big buffers, c->in's bytes kept. 0, or -1 (c gone). */
static int
grow(struct conn *c)
{
	uint8_t *in = malloc(IN_BIG), *out = realloc(c->out, OUT_BIG);

	if (out != NULL)
		c->out = out;
	if (in == NULL || out == NULL) {
		free(in);
		stats.io_err++;
		conn_free(c);
		return -1;
	}
	memcpy(in, c->in, c->incap);
	free(c->in);
	c->in = in;
	c->incap = IN_BIG;
	c->outcap = OUT_BIG;
	return 0;
}

/* One readiness event: 0, or -1 when c is gone. */
static int
on_event(struct conn *c, uint32_t events)
{
	ssize_t n;
	size_t room;
	char sink[4096];

	if (c->state == ST_HEAD) {
		if (on_head(c) == -1)
			return -1;
	} else if (c->state == ST_DRAIN) {
		n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c);
			return -1;
		}
		return 0;
	} else if (c->state == ST_WS && (events & (EPOLLIN | EPOLLHUP |
	    EPOLLERR))) {
		room = out_room(c);
		if (room >= c->incap)
			room = c->incap;
		if (room >= 1024) {
			n = read(c->fd, c->in, room);
			if (n == (ssize_t)c->incap && c->incap < IN_BIG &&
			    grow(c) == -1)
				return -1;
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR)) {
				if (n < 0)
					stats.io_err++;
				conn_free(c);	/* gone without a close frame */
				return -1;
			}
			if (n > 0 && feed(c, c->in, (size_t)n) == -1)
				return -1;
		}
	}
	if (flush(c) == -1)
		return -1;
	if (c->mode == M_DOWNLOAD && c->state == ST_WS && generate(c) == -1)
		return -1;
	if (c->state == ST_CLOSING) {
		if (flush(c) == -1)
			return -1;
		if (c->olen == 0) {
			shutdown(c->fd, SHUT_WR);
			c->state = ST_DRAIN;
		}
	}
	set_events(c);
	return 0;
}

static void
on_accept(int lfd)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = ST_HEAD;
		c->events = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		stats.accepted++;
	}
	if (errno != EAGAIN && errno != EINTR)
		fprintf(stderr, "wsecho: accept: %s\n", strerror(errno));
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct epoll_event ev, evs[256];
	struct rlimit rl;
	struct sigaction sig;
	socklen_t sl = sizeof(sa);
	const char *addr = "127.0.0.1";
	int port = 0, lfd, one = 1, i, opt;
	static int listen_tag;

	while ((opt = getopt(argc, argv, "a:p:")) != -1) {
		if (opt == 'a')
			addr = optarg;
		else if (opt == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: wsecho [-a ADDR] [-p PORT]\n");
			return 64;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sig, 0, sizeof(sig));
	sig.sa_handler = on_signal;
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "wsecho: bad address %s\n", addr);
		return 64;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1) {
		perror("wsecho: listen");
		return 1;
	}
	printf("port=%d\n", ntohs(sa.sin_port));
	fflush(stdout);

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 1000);

		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &listen_tag)
				on_accept(lfd);
			else
				on_event(evs[i].data.ptr, evs[i].events);
		}
	}
	fprintf(stderr, "wsecho: accepted=%llu upgraded=%llu refused=%llu "
	    "closed=%llu protocol_errors=%llu io_errors=%llu "
	    "upload_bad_frames=%llu\n", stats.accepted, stats.upgraded,
	    stats.refused, stats.closed, stats.proto_err, stats.io_err,
	    stats.upload_bad);
	return 0;
}
