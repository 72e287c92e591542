/*
 * Per-client slots as locks.  The slot k of address a is the byte at
 * LIMIT_BASE + (hash(a) mod 2^40) * LIMIT_MAX + k: far beyond anything
 * state.c keeps in the same file (locks need no data there, the file keeps
 * its size), and far enough apart per address that two addresses share
 * slots only when 40 bits of their hash agree.  F_OFD_SETLK takes a slot
 * or fails at once, atomically, so two processes never hold the same one;
 * OFD locks belong to the open file, which the process's end closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limit.h"

#define LIMIT_BASE	((off_t)1 << 61)

static int limit_fd = -1;
static off_t limit_held = -1;	/* the slot this process holds */

const char *
limit_open(const char *path, char *msg, size_t msgsize)
{
	limit_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (limit_fd != -1)
		return NULL;
	snprintf(msg, msgsize, "--state %s: %s", path, strerror(errno));
	return msg;
}

/* FNV-1a over the family and the address bytes */
static uint64_t
addr_hash(const struct addr *a)
{
	uint64_t h = 14695981039346656037ull;
	size_t i, n = a->family == AF_INET ? 4 : 16;

	h = (h ^ (unsigned char)a->family) * 1099511628211ull;
	for (i = 0; i < n; i++)
		h = (h ^ a->bytes[i]) * 1099511628211ull;
	return h;
}

int
limit_take(const struct addr *a, unsigned n)
{
	off_t base = LIMIT_BASE + (off_t)(addr_hash(a) & ((1ull << 40) - 1)) *
	    LIMIT_MAX;
	struct flock fl;
	unsigned k;

	for (k = 0; k < n && k < LIMIT_MAX; k++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = base + (off_t)k;
		fl.l_len = 1;
		if (fcntl(limit_fd, F_OFD_SETLK, &fl) == 0) {
			limit_held = fl.l_start;
			return 1;
		}
		if (errno != EAGAIN && errno != EACCES)
			return -1;
	}
	return 0;
}

void
limit_release(void)
{
	struct flock fl;

	if (limit_held == -1)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = limit_held;
	fl.l_len = 1;
	(void)fcntl(limit_fd, F_OFD_SETLK, &fl);
	limit_held = -1;
}
