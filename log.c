/*
 * The log never holds a session: every destination is written without
 * blocking, and a line that does not fit now is dropped whole.  A reader of
 * a FIFO that stops reading, or a syslog daemon that falls behind, would
 * otherwise stop every session at its next line, and each new connection
 * would add a process that never ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LIBBSD_NETBSD_VIS	/* strnvisx() is the same in both; say which */
#include <vis.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX	2048
#define LOG_PART_MS	100	/* for the rest of a line a stream took part of */

/* a line written at once to a pipe or FIFO is never interleaved nor cut */
_Static_assert(LOG_LINE_MAX <= PIPE_BUF, "a log line must fit PIPE_BUF");

static int log_fd = -1;		/* stderr or the file; -1: syslog */
static int log_sock;		/* log_fd is a socket: send() with flags */
static int log_stderr;		/* log_fd stands for fd 2 */
static int log_verbose;
static int sys_fd = -1;		/* the datagram socket to syslog */
static int sys_sealed;		/* no new socket: log_seal() */

/* Like openlog(..., LOG_NDELAY), but the socket never blocks: glibc's
 * syslog() waits as long as the daemon's queue is full. */
static void
syslog_connect(void)
{
	struct sockaddr_un sun;

	if (sys_sealed)
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path));
	sys_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sys_fd != -1 && connect(sys_fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		close(sys_fd);
		sys_fd = -1;
	}
}

/*
 * fd 2's file description is shared with whoever started wstunnel, so its
 * flags are not ours to change.  A pipe or a device is opened again for a
 * description of our own that can be non-blocking; a socket is written with
 * MSG_DONTWAIT; a regular file is fd 2 itself.
 */
static void
stderr_open(void)
{
	struct stat st;
	int fd;

	log_fd = STDERR_FILENO;
	log_stderr = 1;
	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		log_sock = 1;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd != -1)
		log_fd = fd;
}

int
log_open(const char *dest, int verbose, int stderr_ok)
{
	struct stat st;
	int err;

	log_verbose = verbose;
	if (dest == NULL || strcmp(dest, "syslog") == 0 ||
	    (strcmp(dest, "stderr") == 0 && !stderr_ok)) {
		syslog_connect();
		return 0;
	}
	if (strcmp(dest, "stderr") == 0) {
		stderr_open();
		return 0;
	}
	/* without O_NONBLOCK, a FIFO with no reader blocks open() forever */
	log_fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0640);
	if (log_fd != -1)
		return 0;
	err = errno;
	syslog_connect();
	errno = err;
	if (err == ENXIO && stat(dest, &st) == 0 && S_ISFIFO(st.st_mode))
		return LOG_NO_READER;
	return -1;
}

void
log_seal(void)
{
	sys_sealed = 1;
}

int
log_to_stderr(void)
{
	return log_stderr;
}

/* What a stream took of a line is finished, within a bound; a pipe, a FIFO
 * or a datagram takes all of a line or none of it. */
static void
log_write(int fd, const char *line, size_t n)
{
	int64_t deadline = now_ms() + LOG_PART_MS;
	size_t off = 0;

	while (off < n) {
		struct pollfd pfd = { fd, POLLOUT, 0 };
		ssize_t w = log_sock ? send(fd, line + off, n - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, line + off, n - off);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		/* a full disk, a closed stderr: never an end of the session */
		if (w == 0 || (errno != EINTR && errno != EAGAIN))
			return;
		if (errno == EAGAIN && (off == 0 ||
		    poll(&pfd, 1, ms_until(deadline)) <= 0))
			return;
	}
}

/* RFC 3164 as syslog(3) sends it; a daemon that restarted is reconnected
 * once, a full queue drops the line. */
static void
syslog_send(const char *line, size_t n)
{
	if (sys_fd == -1)
		syslog_connect();
	if (sys_fd == -1 || send(sys_fd, line, n, MSG_DONTWAIT |
	    MSG_NOSIGNAL) != -1 || (errno != ECONNREFUSED &&
	    errno != ENOTCONN && errno != ECONNRESET) || sys_sealed)
		return;
	close(sys_fd);
	syslog_connect();
	if (sys_fd != -1)
		(void)send(sys_fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static size_t
fit(int r, size_t n, size_t size)
{
	if (r <= 0)
		return n;
	return n + ((size_t)r < size - n ? (size_t)r : size - n - 1);
}

/* One write per line, so that lines of concurrent processes appending to
 * one file never interleave. */
__attribute__((format(printf, 2, 0))) static void
log_line(int prio, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct tm tm;
	time_t now = time(NULL);
	size_t n = 0;
	int r;

	if (log_fd == -1) {
		n = fit(snprintf(line, sizeof(line), "<%d>", prio | LOG_DAEMON),
		    0, sizeof(line));
		if (localtime_r(&now, &tm) != NULL)
			n += strftime(line + n, sizeof(line) - n, "%h %e %T ",
			    &tm);
	} else if (!log_stderr && localtime_r(&now, &tm) != NULL)
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S%z ", &tm);
	r = snprintf(line + n, sizeof(line) - n, "wstunnel[%ld]: %s",
	    (long)getpid(), log_fd == -1 || prio > LOG_WARNING ? "" :
	    prio <= LOG_ERR ? "error: " : "warning: ");
	n = fit(r, n, sizeof(line));
	n = fit(vsnprintf(line + n, sizeof(line) - n, fmt, ap), n,
	    sizeof(line));
	if (log_fd == -1) {
		syslog_send(line, n);
		return;
	}
	line[n++] = '\n';
	log_write(log_fd, line, n);
}

const char *
log_safe(const char *s, size_t len, char *buf, size_t size)
{
	/* each byte may take four characters: cut the input to fit */
	if (len > (size - 1) / 4)
		len = (size - 1) / 4;
	if (s == NULL || strnvisx(buf, size, s, len, VIS_OCTAL | VIS_CSTYLE |
	    VIS_TAB | VIS_NL) == -1)
		snprintf(buf, size, "-");
	return buf;
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	va_start(ap, fmt);
	log_line(prio, fmt, ap);
	va_end(ap);
}
