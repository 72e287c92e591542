/*
 * wsload startup and phases: spawn to exit timed with posix_spawn; or, to
 * time the moment a program reaches a system call without a tracer in the
 * way, the child is made as posix_spawn makes it and installs a seccomp
 * filter that stops that call and hands its notification descriptor to us.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "wsload.h"

extern char **environ;

#if defined(__x86_64__)
#define SECCOMP_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH	AUDIT_ARCH_AARCH64
#endif

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

/* One byte carrying one descriptor (SCM_RIGHTS), as both ends frame it. */
static void
fd_msg(struct msghdr *mh, struct iovec *iov, char *c, char *cbuf,
    size_t cbuf_size)
{
	memset(mh, 0, sizeof(*mh));
	iov->iov_base = c;
	iov->iov_len = 1;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_control = cbuf;
	mh->msg_controllen = cbuf_size;
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
	memset(cbuf, 0, sizeof(cbuf));
	fd_msg(&mh, &iov, &c, cbuf, sizeof(cbuf));
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

	fd_msg(&mh, &iov, &c, cbuf, sizeof(cbuf));
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
	uint64_t rng = conn_rng_seed(), a = splitmix64(&rng),
	    b = splitmix64(&rng);
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
		qsort(v[k], (size_t)runs, sizeof(double), report_cmp_double);
		if (!with_client)	/* as the exit mode's numbers */
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    ",\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
			    "\"min_us\":%.1f,\"mean_us\":%.1f,\"value\":%.1f,"
			    "\"unit\":\"us\"", report_pct(v[k], (size_t)runs,
			    10), report_pct(v[k], (size_t)runs, 50),
			    report_pct(v[k], (size_t)runs, 90), v[k][0],
			    sum[k] / (double)runs,
			    report_pct(v[k], (size_t)runs, 50));
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "%s{\"stop\":\"%s\",\"p10_us\":%.1f,\"p50_us\":"
			    "%.1f,\"p90_us\":%.1f,\"min_us\":%.1f}%s",
			    k == 0 ? ",\"stops\":[" : ",", stops[k].name,
			    report_pct(v[k], (size_t)runs, 10),
			    report_pct(v[k], (size_t)runs, 50),
			    report_pct(v[k], (size_t)runs, 90), v[k][0],
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
	return report_finish(n_errors == 0 ? out : "");
}
#endif

int
run_startup_read(int with_client)
{
#ifdef SECCOMP_ARCH
	struct stop stops[MAX_STOPS];
	int k;

	if (!with_client) {
		opt.stop_specs[0] = "read:0";
		opt.nstop_specs = 1;
	}
	if (opt.nstop_specs == 0) {
		report_error(0, "phases: no --stop");
		return report_finish("");
	}
	for (k = 0; k < opt.nstop_specs; k++) {
		if (parse_stop(opt.stop_specs[k], &stops[k]) == -1) {
			report_error(0, "bad --stop %s (read|write|socket|"
			    "connect|splice|getpeername|futex|readlink[:FD])",
			    opt.stop_specs[k]);
			return report_finish("");
		}
	}
	return run_stops(stops, opt.nstop_specs, with_client);
#else
	(void)with_client;
	report_error(0, "no seccomp support for this architecture here");
	return report_finish("");
#endif
}

int
run_startup(void)
{
	posix_spawn_file_actions_t fa;
	double *v, sum = 0;
	long runs = opt.n > 0 ? opt.n : 200, i, bad = 0;
	int first_status = -1;
	char out[1024];

	if (opt.cmd == NULL || opt.cmd[0] == NULL) {
		report_error(0, "startup: no command after --");
		return report_finish("");
	}
	if (opt.until_read)
		return run_startup_read(0);
	v = malloc((size_t)runs * sizeof(double));
	if (v == NULL) {
		report_error(0, "out of memory");
		return report_finish("");
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
			return report_finish("");
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
	qsort(v, (size_t)runs, sizeof(double), report_cmp_double);
	snprintf(out, sizeof(out), ",\"until\":\"exit\",\"runs\":%ld,"
	    "\"exit_status\":%d,\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":"
	    "%.1f,\"min_us\":%.1f,\"mean_us\":%.1f,\"value\":%.1f,\"unit\":"
	    "\"us\"", runs, WIFEXITED(first_status) ?
	    WEXITSTATUS(first_status) : 128 + WTERMSIG(first_status),
	    report_pct(v, (size_t)runs, 10), report_pct(v, (size_t)runs, 50),
	    report_pct(v, (size_t)runs, 90), v[0], sum / (double)runs,
	    report_pct(v, (size_t)runs, 50));
	free(v);
	return report_finish(out);
}

