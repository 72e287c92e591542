#include <errno.h>
#include <string.h>
#include <time.h>

#include "sig.h"
#include "util.h"

static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
static volatile sig_atomic_t caught;
static sigset_t waitmask;

static void
on_signal(int sig)
{
	caught = sig;
}

void
sig_catch(void)
{
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < nitems(sigs); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	for (i = 0; i < nitems(sigs); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigdelset(&waitmask, sigs[i]);
	}
}

int
sig_caught(void)
{
	return caught;
}

const char *
sig_name(void)
{
	switch (caught) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGHUP:
		return "SIGHUP";
	default:
		return NULL;
	}
}

const sigset_t *
sig_mask(void)
{
	return &waitmask;
}

int
sig_poll(struct pollfd *pfd, nfds_t n, int ms)
{
	struct timespec ts, *tsp = NULL;
	int r;

	if (ms >= 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		tsp = &ts;
	}
	do {
		if (caught) {
			errno = EINTR;
			return -1;
		}
		r = ppoll(pfd, n, tsp, &waitmask);
	} while (r == -1 && errno == EINTR);
	return r;
}
