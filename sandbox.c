/*
 * The sandbox: what OpenBSD's pledge() gives its daemons, with Linux's
 * seccomp through libseccomp.  Each phase of a session keeps only the
 * system calls the rest of the session needs, and anything else kills the
 * process (SIGSYS, an audit record naming the call):
 *
 *	request	once the options, certificates, htpasswd and state files are
 *		loaded and OpenSSL is initialised: read and answer the request,
 *		resolve and dial backends, TLS, the state file's locks, the log.
 *		No exec, no new process or thread, no ptrace, no file opened
 *		but read-only (the resolver reads /etc/hosts, /etc/resolv.conf,
 *		/etc/nsswitch.conf, /etc/gai.conf and may load NSS modules).
 *	relay	once the tunnel runs: moving bytes, the clocks, the log's open
 *		descriptor, letting go of locks, exit.  No open, no socket, no
 *		connect, no executable memory.
 *
 * A filter never goes away and the second narrows the first.  The relay's
 * filter is built with the first, so the request phase need not be able to
 * do more than load it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* the relay's own calls, allowed in both phases whatever their arguments */
static const char *const relay_calls[] = {
	"read", "write", "readv", "writev", "recvfrom", "recvmsg", "sendto",
	"sendmsg", "splice", "pipe2", "poll", "ppoll", "shutdown", "close",
	"dup2", "dup3", "clock_gettime", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "getpid", "getrandom", "brk", "munmap",
	"mremap", "madvise", "futex", "rt_sigreturn", "rt_sigprocmask",
	"restart_syscall", "exit", "exit_group",
};

/* what the request phase adds: sockets, the resolver, TLS, locks */
static const char *const request_calls[] = {
	"pread64", "recvmmsg", "sendmmsg", "connect", "bind", "getsockname",
	"getpeername", "getsockopt", "setsockopt", "fcntl", "flock", "ioctl",
	"mmap", "mprotect", "fstat", "newfstatat", "statx", "stat", "lstat",
	"lseek", "rt_sigaction", "gettid", "uname", "getuid", "geteuid",
	"getgid", "getegid", "sysinfo", "select", "pselect6", "sched_yield",
	"clock_getres", "seccomp",
};

/* an argument compared, whole or under a mask */
#define ARG_EQ(n, v)		{ (n), SCMP_CMP_EQ, (v), 0 }
#define ARG_MASKED(n, m, v)	{ (n), SCMP_CMP_MASKED_EQ, (m), (v) }

static scmp_filter_ctx relay_ctx;	/* built in phase 1, loaded in 2 */
static int active;

static int
allow(scmp_filter_ctx ctx, const char *name, unsigned n,
    const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)	/* no such call on this machine */
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

static int
allow_all(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (allow(ctx, names[i], 0, NULL) != 0)
			return -1;
	return 0;
}

/* name allowed when its argument arg is one of the values */
static int
allow_values(scmp_filter_ctx ctx, const char *name, unsigned arg,
    const scmp_datum_t *values, size_t n)
{
	struct scmp_arg_cmp c = { arg, SCMP_CMP_EQ, 0, 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		c.datum_a = values[i];
		if (allow(ctx, name, 1, &c) != 0)
			return -1;
	}
	return 0;
}

/* abort() and raise() signal this process only */
static int
allow_self_signal(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp self = ARG_EQ(0, (scmp_datum_t)getpid());

	return allow(ctx, "tgkill", 1, &self);
}

static scmp_filter_ctx
request_filter(void)
{
	static const scmp_datum_t families[] = { AF_UNIX, AF_INET, AF_INET6 };
	/* neither written, created nor truncated */
	struct scmp_arg_cmp ro1 = ARG_MASKED(1,
	    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY);
	struct scmp_arg_cmp ro2 = ARG_MASKED(2,
	    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, O_RDONLY);
	/* getaddrinfo() asks the kernel for the local addresses */
	struct scmp_arg_cmp rtnl[2] = { ARG_EQ(0, AF_NETLINK),
	    ARG_EQ(2, NETLINK_ROUTE) };
	/* libseccomp loads a filter with prctl() where seccomp() is denied */
	static const scmp_datum_t prctls[] = { PR_SET_NO_NEW_PRIVS,
	    PR_SET_SECCOMP };
	scmp_filter_ctx ctx;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return NULL;
	if (allow_all(ctx, relay_calls, nitems(relay_calls)) == -1 ||
	    allow_all(ctx, request_calls, nitems(request_calls)) == -1 ||
	    allow(ctx, "open", 1, &ro1) != 0 ||
	    allow(ctx, "openat", 1, &ro2) != 0 ||
	    allow_values(ctx, "socket", 0, families, nitems(families)) == -1 ||
	    allow(ctx, "socket", 2, rtnl) != 0 ||
	    allow_values(ctx, "prctl", 0, prctls, nitems(prctls)) == -1 ||
	    allow_self_signal(ctx) == -1) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static scmp_filter_ctx
relay_filter(void)
{
	/* non-blocking flags; the splice pipes' size; an OFD lock let go of
	 * (the state file) */
	static const scmp_datum_t fcntls[] = { F_GETFL, F_SETFL, F_GETFD,
	    F_GETPIPE_SZ, F_OFD_SETLK };
	static const scmp_datum_t flocks[] = { LOCK_UN };
	/* conn_outq(): what the kernel still holds for the peer */
	static const scmp_datum_t ioctls[] = { SIOCOUTQ, FIONREAD };
	struct scmp_arg_cmp noexec = ARG_MASKED(2, PROT_EXEC, 0);
	scmp_filter_ctx ctx;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return NULL;
	/* no new privileges since phase 1 */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) != 0 ||
	    allow_all(ctx, relay_calls, nitems(relay_calls)) == -1 ||
	    allow_values(ctx, "fcntl", 1, fcntls, nitems(fcntls)) == -1 ||
	    allow_values(ctx, "flock", 1, flocks, nitems(flocks)) == -1 ||
	    allow_values(ctx, "ioctl", 1, ioctls, nitems(ioctls)) == -1 ||
	    allow(ctx, "mmap", 1, &noexec) != 0 ||
	    allow(ctx, "mprotect", 1, &noexec) != 0 ||
	    allow_self_signal(ctx) == -1) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

#ifdef SANDBOX_SELFTEST
/*
 * Test builds only (tests/wstunnel-selftest): WSTUNNEL_SANDBOX_SELFTEST=
 * PHASE:CALL makes the process attempt a call its phase forbids, right
 * after the phase's filter is loaded.  Surviving it is logged.
 */
static void
selftest(const char *phase)
{
	const char *t = getenv("WSTUNNEL_SANDBOX_SELFTEST"), *call;
	size_t n = strlen(phase);
	int fd = -1;

	if (t == NULL || strncmp(t, phase, n) != 0 || t[n] != ':')
		return;
	call = t + n + 1;
	if (strcmp(call, "exec") == 0)
		execl("/bin/true", "true", (char *)NULL);
	else if (strcmp(call, "fork") == 0) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
	} else if (strcmp(call, "write-file") == 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	else if (strcmp(call, "open") == 0)
		fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
	else if (strcmp(call, "socket") == 0)
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd != -1)
		close(fd);
	log_msg(LOG_ERR, "sandbox self-test: %s survived", t);
}
#else
#define selftest(phase)	do { } while (0)
#endif

const char *
sandbox_off_why(int disabled)
{
	if (disabled)
		return "--no-sandbox";
#ifdef SANDBOX_OFF
	return "not in this build (sanitizers)";
#else
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == -1 && errno == EINVAL)
		return "the kernel has no seccomp";
	if (seccomp_api_get() < 3)
		return "seccomp cannot kill a whole process here (a kernel "
		    "before 4.14, or seccomp(2) filtered)";
	return NULL;
#endif
}

static int
fail(const char *what, int err, char *msg, size_t size)
{
	snprintf(msg, size, "sandbox: %s: %s", what, strerror(err));
	return -1;
}

int
sandbox_request(int disabled, char *msg, size_t size)
{
	scmp_filter_ctx ctx;
	int r;

	if (sandbox_off_why(disabled) != NULL) {
		selftest("request");
		return 0;
	}
	tzset();	/* /etc/localtime is read now, not by the relay's log */
	if (conn_keep_null() == -1)
		return fail("/dev/null", errno, msg, size);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return fail("PR_SET_NO_NEW_PRIVS", errno, msg, size);
	/* TLS keys and Authorization values: no core dump, no ptrace by
	 * the same user, /proc/PID/mem and the like root's */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return fail("PR_SET_DUMPABLE", errno, msg, size);
	if ((ctx = request_filter()) == NULL ||
	    (relay_ctx = relay_filter()) == NULL) {
		if (ctx != NULL)
			seccomp_release(ctx);
		return fail("building the filters", ENOMEM, msg, size);
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0)
		return fail("loading the request filter", -r, msg, size);
	active = 1;
	selftest("request");
	return 0;
}

int
sandbox_relay(void)
{
	int r;

	if (!active) {
		selftest("relay");
		return 0;
	}
	log_seal();
	r = seccomp_load(relay_ctx);
	seccomp_release(relay_ctx);
	relay_ctx = NULL;
	if (r != 0) {
		log_msg(LOG_ERR, "sandbox: loading the relay filter: %s",
		    strerror(-r));
		return -1;
	}
	selftest("relay");
	return 0;
}

/*
 * --user NAME: started as root, the process becomes NAME with its groups
 * once its files are loaded (they stay open), before the client's first
 * byte.  Started as another user, NAME must be that user.  --check looks
 * the user up and changes nothing.
 */
const char *
sandbox_user(const char *name, int check, char *msg, size_t size)
{
	struct passwd *pw;

	if (name == NULL)
		return NULL;
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(msg, size, "--user %s: %s", name, errno != 0 ?
		    strerror(errno) : "no such user");
		return msg;
	}
	if (geteuid() != 0) {
		if (pw->pw_uid == geteuid())
			return NULL;
		snprintf(msg, size, "--user %s: only root can become another "
		    "user", name);
		return msg;
	}
	if (check)
		return NULL;
	if (initgroups(name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(msg, size, "--user %s: %s", name, strerror(errno));
		return msg;
	}
	if (pw->pw_uid != 0 && setuid(0) != -1) {
		snprintf(msg, size, "--user %s: root could be regained", name);
		return msg;
	}
	return NULL;
}
