#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIBBSD_NETBSD_VIS	/* strnvisx() is the same in both; say which */
#include <vis.h>

#include "log.h"

static int log_fd = -1;		/* stderr or the file; -1: syslog */
static int log_verbose;

int
log_open(const char *dest, int verbose, int stderr_ok)
{
	log_verbose = verbose;
	if (dest == NULL || strcmp(dest, "syslog") == 0 ||
	    (strcmp(dest, "stderr") == 0 && !stderr_ok)) {
		openlog("wstunnel", LOG_PID, LOG_DAEMON);
		return 0;
	}
	if (strcmp(dest, "stderr") == 0) {
		log_fd = STDERR_FILENO;
		return 0;
	}
	log_fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);
	if (log_fd == -1) {
		openlog("wstunnel", LOG_PID, LOG_DAEMON);
		return -1;
	}
	return 0;
}

int
log_to_stderr(void)
{
	return log_fd == STDERR_FILENO;
}

/* One write() per line, so that lines of concurrent processes appending to
 * one file never interleave. */
__attribute__((format(printf, 2, 0))) static void
log_line(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	struct tm tm;
	time_t now;
	size_t n = 0;
	int r;

	if (log_fd != STDERR_FILENO) {
		now = time(NULL);
		if (localtime_r(&now, &tm) != NULL)
			n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S%z ",
			    &tm);
	}
	r = snprintf(line + n, sizeof(line) - n, "wstunnel[%ld]: %s",
	    (long)getpid(), prio <= LOG_WARNING ? (prio <= LOG_ERR ?
	    "error: " : "warning: ") : "");
	if (r > 0)
		n += ((size_t)r < sizeof(line) - n ? (size_t)r :
		    sizeof(line) - n - 1);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += ((size_t)r < sizeof(line) - n ? (size_t)r :
		    sizeof(line) - n - 1);
	line[n++] = '\n';
	/* a full disk or a closed stderr must never end a session */
	while (write(log_fd, line, n) == -1 && errno == EINTR)
		;
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
	if (log_fd == -1)
		vsyslog(prio, fmt, ap);
	else
		log_line(prio, fmt, ap);
	va_end(ap);
}
