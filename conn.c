#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "http.h"
#include "sig.h"
#include "tls.h"
#include "util.h"

/* A dead peer is found after about two minutes of silence. */
#define KEEPALIVE_IDLE		60
#define KEEPALIVE_INTERVAL	15
#define KEEPALIVE_COUNT		4

static struct {
	int	fd, flags;
} saved[2] = { { -1, 0 }, { -1, 0 } };
static int kept_null = -1;	/* conn_keep_null() */

static ssize_t
io_error(struct conn *c, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
		return CONN_WANT_READ;
	c->err = err;
	c->why = strerror(err);
	return CONN_ERR;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->tls != NULL)
		return tls_read(c, buf, len);
	if ((n = read(c->rfd, buf, len)) >= 0)
		return n;
	return io_error(c, errno);
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->tls != NULL)
		return tls_write(c, buf, len);
	if ((n = write(c->wfd, buf, len)) >= 0)
		return n;
	n = io_error(c, errno);
	return n == CONN_WANT_READ ? CONN_WANT_WRITE : n;
}

int
conn_pending(const struct conn *c)
{
	return c->tls != NULL && tls_pending(c);
}

/*
 * poll() cannot tell a reader that takes bytes slowly from one that takes
 * none: a unix socket is writable again only once three quarters of its
 * send buffer has drained, TCP once half has.  The queue itself can:
 * SIOCOUTQ on a socket (unsent and unacknowledged bytes for TCP, the
 * memory of unread ones for a unix socket), FIONREAD on a pipe.
 */
int
conn_outq(const struct conn *c)
{
	int n;

	if (ioctl(c->wfd, SIOCOUTQ, &n) == 0)
		return n;
	if (errno == ENOTTY && ioctl(c->wfd, FIONREAD, &n) == 0)
		return n;
	return -1;
}

int
conn_keep_null(void)
{
	struct stat st;

	if (kept_null != -1 || (fstat(STDOUT_FILENO, &st) == 0 &&
	    S_ISSOCK(st.st_mode)))	/* sockets are shut down, not closed */
		return 0;
	kept_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return kept_null == -1 ? -1 : 0;
}

int
conn_shutdown(struct conn *c)
{
	int r, null;

	if (c->tls != NULL && (r = tls_shutdown(c)) != 0)
		return r;
	if (shutdown(c->wfd, SHUT_WR) == 0)
		return 0;
	if (errno != ENOTSOCK) {
		if (errno == ENOTCONN)	/* the peer is gone already */
			return 0;
		return (int)io_error(c, errno);
	}
	/* a pipe ends when its write end closes; /dev/null keeps the
	 * descriptor number taken so nothing else can land on it */
	if (kept_null != -1)
		null = kept_null;
	else if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		return (int)io_error(c, errno);
	r = dup2(null, c->wfd) == -1 ? errno : 0;
	if (null != kept_null)
		close(null);
	return r != 0 ? (int)io_error(c, r) : 0;
}

/* conn_wait(), and CONN_GONE as soon as the peer on watch (-1: none) ends
 * its stream, hangs up or resets; watch itself is never read. */
static int
wait_watching(struct conn *c, int want, int64_t deadline, int watch)
{
	struct pollfd pfd[2];
	int n;

	if (want == CONN_WANT_READ && conn_pending(c))
		return 1;
	pfd[0].fd = (want == CONN_WANT_READ ? c->rfd : c->wfd);
	pfd[0].events = (want == CONN_WANT_READ ? POLLIN : POLLOUT);
	pfd[1].fd = watch;
	pfd[1].events = POLLRDHUP;
	pfd[1].revents = 0;
	n = sig_poll(pfd, watch != -1 ? 2 : 1, ms_until(deadline));
	if (n == -1 && errno == EINTR)
		return CONN_STOPPED;
	if (n == -1)
		return (int)io_error(c, errno);
	if (n > 0 && pfd[1].revents != 0 && pfd[0].revents == 0)
		return CONN_GONE;
	return n > 0;
}

int
conn_wait(struct conn *c, int want, int64_t deadline)
{
	return wait_watching(c, want, deadline, -1);
}

int
conn_write_all(struct conn *c, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = conn_write(c, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == CONN_ERR || n == 0)
			return CONN_ERR;
		if ((n = conn_wait(c, (int)n, deadline)) <= 0)
			return n == 0 ? CONN_TIMEOUT : (int)n;
	}
	return 0;
}

/*
 * Every read is parsed: a limit can be crossed by bytes that end no line,
 * and a bad byte is refused when it arrives.  The parsers resume where the
 * last call stopped (struct http_resume), so a head sent in small pieces
 * costs its length, not its length times the number of pieces.
 */
int
conn_read_head(struct conn *c, char *buf, size_t size, size_t *len,
    int64_t deadline, int watch, int (*parse)(const char *, size_t, void *),
    void *arg)
{
	for (;;) {
		ssize_t n;
		int r;

		if (*len > 0 && (r = parse(buf, *len, arg)) != HTTP_INCOMPLETE)
			return r;
		if (*len == size)	/* the parser bounds the head below */
			return CONN_ERR;
		n = conn_read(c, buf + *len, size - *len);
		if (n > 0) {
			*len += (size_t)n;
			continue;
		}
		if (n == 0)
			return CONN_EOF;
		if (n == CONN_ERR)
			return CONN_ERR;
		/* what is not 0 here is CONN_ERR, CONN_GONE or CONN_STOPPED */
		if ((r = wait_watching(c, (int)n, deadline, watch)) <= 0)
			return r == 0 ? CONN_TIMEOUT : r;
	}
}

void
conn_tune_socket(int fd)
{
	int on = 1, idle = KEEPALIVE_IDLE, intvl = KEEPALIVE_INTERVAL,
	    cnt = KEEPALIVE_COUNT;

	/* each fails with ENOTSOCK or EOPNOTSUPP where it does not apply */
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int
conn_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	if (fd <= 1 && saved[fd].fd == -1) {
		saved[fd].fd = fd;
		saved[fd].flags = flags;
	}
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void
conn_restore_flags(void)
{
	size_t i;

	for (i = 0; i < nitems(saved); i++)
		if (saved[i].fd != -1)
			(void)fcntl(saved[i].fd, F_SETFL, saved[i].flags);
}
