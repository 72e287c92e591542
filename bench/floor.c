/*
 * floor: what any relay adds to a small message's round trip on this
 * machine, measured beside the targets so that their RTT ratios can be read
 * against it.  One 16-byte message at a time over loopback TCP, the next
 * sent when the answer is in; the p50 of each run, the median of the runs:
 *
 *	direct	client <-> echo: two processes sleeping in read()
 *	relay	client <-> relay <-> echo: the relay sleeps in poll() and
 *		copies with read() and write(), the least a proxy that sleeps
 *		while nothing comes can do
 *	spin	the same relay polling with a zero timeout, never sleeping:
 *		the least any user-space proxy can do
 *
 *	floor [-n ROUND_TRIPS] [-r RUNS]	prints one JSON line
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { DIRECT, RELAY, SPIN, MODES };
static const char *const mode_name[MODES] = { "direct", "relay", "spin" };

#define MSG	16

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* A connected loopback TCP pair, Nagle off on both ends as every target. */
static void
tcp_pair(int fd[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sa, len) == -1 || listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) == -1)
		die("listen");
	if ((fd[0] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd[0], (struct sockaddr *)&sa, len) == -1 ||
	    (fd[1] = accept(l, NULL, NULL)) == -1)
		die("connect");
	close(l);
	setsockopt(fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
echo(int fd)
{
	char buf[MSG];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	_exit(0);
}

/* Copies what fd a has to fd b: 0 at an end of stream or error. */
static int
copy(int a, int b)
{
	char buf[4096];
	ssize_t n = read(a, buf, sizeof(buf));

	return n > 0 && write(b, buf, (size_t)n) == n;
}

static void
relay(int a, int b, int timeout)
{
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };

	for (;;) {
		if (poll(p, 2, timeout) == -1)
			_exit(1);
		if ((p[0].revents && !copy(a, b)) ||
		    (p[1].revents && !copy(b, a)))
			_exit(0);
	}
}

static int relay_in, relay_out, relay_timeout;

/* A process running fn(keep) with no other of the run's sockets open, so
 * that each sees its peer's end of stream. */
static pid_t
child(void (*fn)(int), int keep, int keep2)
{
	pid_t pid = fork();

	if (pid == -1)
		die("fork");
	if (pid == 0) {
		for (int fd = 3; fd < 64; fd++)
			if (fd != keep && fd != keep2)
				close(fd);
		fn(keep);
	}
	return pid;
}

static void
relay_child(int unused)
{
	(void)unused;
	relay(relay_in, relay_out, relay_timeout);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One run of n round trips through a new set of processes: the p50. */
static double
run(int mode, int n, double *rtt)
{
	int c[2], e[2];
	char buf[MSG];
	pid_t pids[2] = { -1, -1 };
	int i, warm = n / 10;

	tcp_pair(c);
	if (mode == DIRECT) {
		pids[0] = child(echo, c[1], -1);
	} else {
		tcp_pair(e);
		pids[0] = child(echo, e[1], -1);
		relay_in = c[1];
		relay_out = e[0];
		relay_timeout = (mode == SPIN ? 0 : -1);
		pids[1] = child(relay_child, c[1], e[0]);
		close(e[0]);
		close(e[1]);
	}
	close(c[1]);
	memset(buf, 'x', sizeof(buf));
	for (i = -warm; i < n; i++) {
		double t = now_us();
		size_t got = 0;
		ssize_t r;

		if (write(c[0], buf, sizeof(buf)) != sizeof(buf))
			die("write");
		for (; got < sizeof(buf); got += (size_t)r)
			if ((r = read(c[0], buf + got, sizeof(buf) - got)) <= 0)
				die("read");
		if (i >= 0)
			rtt[i] = now_us() - t;
	}
	close(c[0]);
	for (i = 0; i < 2; i++)
		if (pids[i] != -1)
			waitpid(pids[i], NULL, 0);
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_double);
	return rtt[n / 2];
}

int
main(int argc, char **argv)
{
	int n = 5000, runs = 5, opt, m, r;
	double *rtt, p50[MODES][64];

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'r')
			runs = atoi(optarg);
		else
			n = 0;
	}
	if (n < 10 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: floor [-n ROUND_TRIPS] [-r RUNS 1-64]\n");
		return 64;
	}
	if ((rtt = calloc((size_t)n, sizeof(*rtt))) == NULL)
		die("calloc");
	signal(SIGPIPE, SIG_IGN);
	for (r = 0; r < runs; r++)		/* interleaved */
		for (m = 0; m < MODES; m++)
			p50[m][r] = run(m, n, rtt);
	printf("{\"workload\":\"floor\",\"ok\":true,\"round_trips\":%d,"
	    "\"runs\":%d", n, runs);
	for (m = 0; m < MODES; m++) {
		qsort(p50[m], (size_t)runs, sizeof(double), cmp_double);
		printf(",\"%s_p50_us\":%.2f,\"%s_min_us\":%.2f,"
		    "\"%s_max_us\":%.2f", mode_name[m], p50[m][runs / 2],
		    mode_name[m], p50[m][0], mode_name[m], p50[m][runs - 1]);
	}
	printf("}\n");
	free(rtt);
	return 0;
}
