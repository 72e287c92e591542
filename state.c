#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

#define STATE_MAGIC	"wstunnel-state1"
#define STATE_ROUTES	256
#define STATE_SLOTS	4096

struct state_file {
	char		 magic[16];
	struct {
		uint32_t key;		/* the route's hash; 0: free */
		uint32_t next;
	} routes[STATE_ROUTES];
	struct {
		int32_t	 pid;		/* 0: free */
		uint32_t backend;	/* the backend URL's hash */
	} slots[STATE_SLOTS];
};

static struct state_file *st;
static int st_fd = -1;
static int my_slot = -1;

/* FNV-1a, never 0 (0 marks a free entry) */
static uint32_t
hash(uint32_t h, const char *s)
{
	if (h == 0)
		h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h == 0 ? 1 : h;
}

static uint32_t
route_key(const struct route *r)
{
	uint32_t h = hash(0, r->path);
	size_t i;

	for (i = 0; i < r->nbackends; i++)
		h = hash(h, r->backends[i].url);
	return h;
}

const char *
state_open(const char *path, char *msg, size_t msgsize)
{
	static const char zero[sizeof(st->magic)];
	const char *why = "not a wstunnel state file";
	struct stat sb;
	void *p;

	st_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st_fd == -1 || flock(st_fd, LOCK_EX) == -1 ||
	    fstat(st_fd, &sb) == -1 ||
	    (sb.st_size == 0 && ftruncate(st_fd, sizeof(*st)) == -1))
		why = strerror(errno);
	else if (sb.st_size == 0 || sb.st_size == (off_t)sizeof(*st)) {
		p = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		    MAP_SHARED, st_fd, 0);
		if (p == MAP_FAILED)
			why = strerror(errno);
		else {
			st = p;
			/* a new file, made the right size under the lock */
			if (memcmp(st->magic, zero, sizeof(zero)) == 0)
				memcpy(st->magic, STATE_MAGIC, sizeof(zero));
			if (memcmp(st->magic, STATE_MAGIC, sizeof(zero)) == 0)
				why = NULL;
		}
	}
	if (st_fd != -1)
		flock(st_fd, LOCK_UN);
	if (why == NULL)
		return NULL;
	snprintf(msg, msgsize, "--state %s: %s", path, why);
	st = NULL;
	return msg;
}

/* The route's round-robin counter, taken and advanced. */
static uint32_t
next_turn(uint32_t key)
{
	size_t i;

	for (i = 0; i < STATE_ROUTES; i++) {
		size_t j = (key + i) % STATE_ROUTES;

		if (st->routes[j].key == 0)
			st->routes[j].key = key;
		if (st->routes[j].key == key)
			return st->routes[j].next++;
	}
	return 0;	/* more routes than entries: they share turn 0 */
}

static int
alive(int32_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* Live sessions per backend of r; dead processes' slots are freed. */
static void
count(const struct route *r, unsigned *n)
{
	uint32_t h[ROUTE_MAX_BACKENDS];
	size_t i, j;

	for (j = 0; j < r->nbackends; j++) {
		h[j] = hash(0, r->backends[j].url);
		n[j] = 0;
	}
	for (i = 0; i < STATE_SLOTS; i++) {
		if (st->slots[i].pid == 0)
			continue;
		for (j = 0; j < r->nbackends; j++)
			if (st->slots[i].backend == h[j])
				break;
		if (j == r->nbackends)
			continue;
		if (!alive(st->slots[i].pid))
			st->slots[i].pid = 0;
		else
			n[j]++;
	}
}

static void
take_slot(uint32_t backend)
{
	size_t i;

	for (i = 0; i < STATE_SLOTS; i++)
		if (st->slots[i].pid == 0 || !alive(st->slots[i].pid)) {
			st->slots[i].pid = (int32_t)getpid();
			st->slots[i].backend = backend;
			my_slot = (int)i;
			return;
		}
}

void
state_order(enum balance method, const struct route *r, size_t *order)
{
	size_t i, nb = r->nbackends;
	uint32_t turn;

	flock(st_fd, LOCK_EX);
	turn = next_turn(route_key(r));
	for (i = 0; i < nb; i++)
		order[i] = (turn + i) % nb;
	if (method == BALANCE_LEASTCONN) {
		unsigned n[ROUTE_MAX_BACKENDS];

		count(r, n);
		/* fewest sessions first; ties keep the round-robin order */
		for (i = 1; i < nb; i++) {
			size_t j;

			for (j = i; j > 0 && n[order[j]] < n[order[j - 1]]; j--)
				swap_index(&order[j], &order[j - 1]);
		}
		take_slot(hash(0, r->backends[order[0]].url));
	}
	flock(st_fd, LOCK_UN);
}

void
state_use(const struct route *r, size_t i)
{
	if (st == NULL || my_slot == -1)
		return;
	st->slots[my_slot].backend = hash(0, r->backends[i].url);
}

void
state_release(void)
{
	if (st == NULL || my_slot == -1)
		return;
	flock(st_fd, LOCK_EX);
	if (st->slots[my_slot].pid == (int32_t)getpid())
		st->slots[my_slot].pid = 0;
	flock(st_fd, LOCK_UN);
	my_slot = -1;
}
