#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h"

/* "wstunnel-state" and a version; an older or newer layout is rebuilt */
#define STATE_MAGIC	"wstunnel-state\n"
#define STATE_OURS	14		/* bytes of the magic that name us */
#define STATE_VERSION	2
#define STATE_ROUTES	256
#define STATE_ENTRIES	256
/* each entry's lock bytes: far past the end of the file, never written */
#define LOCK_BASE	((off_t)1 << 30)
#define LOCK_SPAN	((off_t)1 << 16)
#define RETRY_MAX_MS	3600000

struct state_entry {
	char		 route[STATE_ROUTE_LEN];	/* "": made by --drain */
	char		 url[STATE_URL_LEN];		/* "": free */
	uint32_t	 check;		/* hash of route and url */
	uint64_t	 served, failures;
	int64_t		 down_since, down_until, drain_since;
};

struct state_file {
	char		 magic[16];
	uint32_t	 version, size;
	struct {
		uint32_t key;		/* the route's hash; 0: free */
		uint32_t next;
	} routes[STATE_ROUTES];
	struct state_entry entries[STATE_ENTRIES];
};

static struct state_file *st;
static int st_fd = -1;
static int st_retry_ms;
static int my_entry = -1;	/* the entry this session holds a byte of */

/* FNV-1a, never 0 (0 marks a free entry) */
static uint32_t
hash(uint32_t h, const char *s, size_t len)
{
	size_t i;

	if (h == 0)
		h = 2166136261u;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h == 0 ? 1 : h;
}

static uint32_t
entry_check(const struct state_entry *e)
{
	return hash(hash(0, e->route, sizeof(e->route)), e->url,
	    sizeof(e->url));
}

/* Shared times are wall-clock: they outlive a process and are shown. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Why f cannot be trusted, or NULL.  A crash never leaves it so: this is
 * a foreign writer, a bad disk, or an older wstunnel. */
static const char *
state_check(const struct state_file *f, int64_t now)
{
	size_t i;

	if (memcmp(f->magic, STATE_MAGIC, sizeof(f->magic)) != 0 ||
	    f->version != STATE_VERSION)
		return "another version";
	if (f->size != sizeof(*f))
		return "wrong size";
	for (i = 0; i < STATE_ENTRIES; i++) {
		const struct state_entry *e = &f->entries[i];

		if (e->url[0] == '\0' && e->check == 0)
			continue;
		if (e->route[sizeof(e->route) - 1] != '\0' ||
		    e->url[sizeof(e->url) - 1] != '\0' ||
		    e->check != entry_check(e))
			return "an entry is corrupted";
		if (e->down_until < 0 || e->down_since < 0 ||
		    e->drain_since < 0 || e->down_since > now + 60000 ||
		    e->drain_since > now + 60000 ||
		    e->down_until > now + RETRY_MAX_MS + 60000)
			return "an entry has impossible times";
	}
	return NULL;
}

static void
state_init(struct state_file *f)
{
	memset(f, 0, sizeof(*f));
	f->version = STATE_VERSION;
	f->size = sizeof(*f);
	memcpy(f->magic, STATE_MAGIC, sizeof(f->magic));
}

/* Whether another user could change the file, which every process trusts. */
static const char *
check_owner(const struct stat *sb, enum state_mode mode)
{
	if (!S_ISREG(sb->st_mode))
		return "not a regular file";
	if (sb->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others (chmod 600 it)";
	if (sb->st_uid == geteuid() || mode == STATE_READ ||
	    (mode == STATE_ADMIN && geteuid() == 0))
		return NULL;
	return "owned by another user";
}

/* Maps the open file, making, checking or rebuilding it under the lock. */
static const char *
state_map(enum state_mode mode, const struct stat *sb, const char *path)
{
	char magic[16] = "";
	const char *why = NULL;
	void *p;
	int fresh = sb->st_size == 0;

	if (!fresh && pread(st_fd, magic, sizeof(magic), 0) == -1)
		return strerror(errno);
	if (!fresh && memcmp(magic, STATE_MAGIC, STATE_OURS) != 0)
		return "not a wstunnel state file (left as it is)";
	if (mode == STATE_READ && (fresh || sb->st_size != sizeof(*st)))
		return fresh ? "empty" : "another version or corrupted";
	if (sb->st_size != sizeof(*st)) {
		why = fresh ? NULL : "wrong size";
		if (ftruncate(st_fd, sizeof(*st)) == -1)
			return strerror(errno);
	}
	p = mmap(NULL, sizeof(*st), PROT_READ | (mode == STATE_READ ? 0 :
	    PROT_WRITE), MAP_SHARED, st_fd, 0);
	if (p == MAP_FAILED)
		return strerror(errno);
	st = p;
	if (!fresh && why == NULL)
		why = state_check(st, wall_ms());
	if (mode == STATE_READ && why != NULL) {
		munmap(p, sizeof(*st));
		st = NULL;
		return why;
	}
	if (why != NULL)
		log_msg(LOG_WARNING, "--state %s: %s: rebuilt", path, why);
	if (fresh || why != NULL)
		state_init(st);
	return NULL;
}

const char *
state_open(const char *path, enum state_mode mode, int retry_ms, char *msg,
    size_t msgsize)
{
	const char *why = NULL;
	struct stat sb;

	st_retry_ms = retry_ms;
	if (mode == STATE_READ)
		st_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	else
		st_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (st_fd == -1 || fstat(st_fd, &sb) == -1)
		why = strerror(errno);
	else if ((why = check_owner(&sb, mode)) == NULL) {
		/* many processes may start on a new file at once: one makes
		 * it, the others wait and find it made */
		if (flock(st_fd, mode == STATE_READ ? LOCK_SH : LOCK_EX) == -1 ||
		    fstat(st_fd, &sb) == -1)
			why = strerror(errno);
		else
			why = state_map(mode, &sb, path);
		flock(st_fd, LOCK_UN);
	}
	if (why == NULL)
		return NULL;
	if (st_fd != -1)
		close(st_fd);
	st_fd = -1;
	snprintf(msg, msgsize, "--state %s: %s", path, why);
	return msg;
}

/* The route's round-robin turn, taken and advanced. */
static uint32_t
next_turn(const struct route *r)
{
	uint32_t key = hash(0, r->path, strlen(r->path));
	size_t i;

	for (i = 0; i < r->nbackends; i++)
		key = hash(key, r->backends[i].url, strlen(r->backends[i].url));
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
same_key(const struct state_entry *e, const char *route, const char *url)
{
	return strncmp(e->route, route, sizeof(e->route) - 1) == 0 &&
	    strncmp(e->url, url, sizeof(e->url) - 1) == 0;
}

/* The entry of backend url on route, made when new (under the lock); -1
 * when the table is full. */
static int
entry_of(const char *route, const char *url)
{
	struct state_entry *e;
	int64_t drain = 0;
	int i, free_at = -1, drained = -1;

	for (i = 0; i < STATE_ENTRIES; i++) {
		e = &st->entries[i];
		if (e->url[0] == '\0') {
			if (free_at == -1)
				free_at = i;
			continue;
		}
		if (same_key(e, route, url))
			return i;
		/* a backend drained before this route first used it */
		if (strncmp(e->url, url, sizeof(e->url) - 1) == 0 &&
		    e->drain_since != 0) {
			drain = e->drain_since;
			if (e->route[0] == '\0')
				drained = i;
		}
	}
	if (drained != -1)	/* --drain's entry, now the route's */
		free_at = drained;
	if (free_at == -1)
		return -1;
	e = &st->entries[free_at];
	memset(e, 0, sizeof(*e));
	strncpy(e->route, route, sizeof(e->route) - 1);
	strncpy(e->url, url, sizeof(e->url) - 1);
	e->drain_since = drain;
	e->check = entry_check(e);
	return free_at;
}

/* Walks the locks held on entry i's bytes: how many, and the first free
 * byte (-1 when none). */
static unsigned
probe(int i, off_t *free_byte)
{
	off_t pos = LOCK_BASE + (off_t)i * LOCK_SPAN, end = pos + LOCK_SPAN;
	unsigned n = 0;
	struct flock fl;

	if (free_byte != NULL)
		*free_byte = -1;
	while (pos < end) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = pos;
		fl.l_len = end - pos;
		if (fcntl(st_fd, F_OFD_GETLK, &fl) == -1 || fl.l_len <= 0)
			break;
		if (fl.l_type == F_UNLCK || fl.l_start > pos) {
			if (free_byte != NULL && *free_byte == -1)
				*free_byte = pos;
			if (fl.l_type == F_UNLCK)
				break;
		}
		n++;
		pos = fl.l_start + fl.l_len;
	}
	return n;
}

static int
lock_byte(off_t at, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = at;
	fl.l_len = 1;
	return fcntl(st_fd, F_OFD_SETLK, &fl);
}

/* This session holds a byte of entry i (and lets go of any other). */
static void
hold(int i)
{
	static off_t held = -1;
	off_t at;

	if (i == my_entry || i == -1)
		return;
	probe(i, &at);
	if (at == -1 || lock_byte(at, F_WRLCK) == -1) {
		log_msg(LOG_WARNING, "--state: cannot count this tunnel: %s",
		    at == -1 ? "too many" : strerror(errno));
		return;
	}
	if (held != -1)
		lock_byte(held, F_UNLCK);
	held = at;
	my_entry = i;
}

/* What every process knows of the backends of r, into p (under the lock);
 * the open tunnels only when they matter, since counting costs a probe
 * per tunnel. */
static void
state_peers(const struct route *r, int count, struct balance_peer *p,
    int *entry)
{
	int64_t now = wall_ms();
	size_t i;

	for (i = 0; i < r->nbackends; i++) {
		struct state_entry *e;
		int64_t until;

		entry[i] = entry_of(r->path, r->backends[i].url);
		if (entry[i] == -1)
			continue;
		e = &st->entries[entry[i]];
		until = __atomic_load_n(&e->down_until, __ATOMIC_RELAXED);
		p[i].open = count ? probe(entry[i], NULL) : 0;
		p[i].down = until > now;
		p[i].draining = e->drain_since != 0;
		if (until != 0 && until <= now)
			log_msg(LOG_DEBUG, "backend %s: down for %lld s, "
			    "trying it again", r->backends[i].url,
			    (long long)(now - e->down_since) / 1000);
	}
}

size_t
state_order(enum balance method, const struct route *r, const char *client,
    size_t *order)
{
	struct balance_peer p[ROUTE_MAX_BACKENDS];
	int entry[ROUTE_MAX_BACKENDS];
	uint32_t turn = 0;
	size_t i, n;

	memset(p, 0, sizeof(p));
	for (i = 0; i < r->nbackends; i++) {
		p[i].key = r->backends[i].url;
		p[i].weight = r->backends[i].weight;
	}
	if (st == NULL)
		return balance_order(method, p, r->nbackends, client, 0,
		    arc4random_uniform, order);
	flock(st_fd, LOCK_EX);
	state_peers(r, method == BALANCE_LEASTCONN, p, entry);
	turn = next_turn(r);
	n = balance_order(method, p, r->nbackends, client, turn,
	    arc4random_uniform, order);
	if (method == BALANCE_LEASTCONN && n > 0)
		hold(entry[order[0]]);
	flock(st_fd, LOCK_UN);
	return n;
}

static struct state_entry *
entry_at(const struct route *r, size_t i)
{
	int e;

	if (st == NULL)
		return NULL;
	flock(st_fd, LOCK_EX);
	e = entry_of(r->path, r->backends[i].url);
	flock(st_fd, LOCK_UN);
	return e == -1 ? NULL : &st->entries[e];
}

void
state_failed(const struct route *r, size_t i)
{
	struct state_entry *e = entry_at(r, i);
	int64_t now = wall_ms();

	if (e == NULL)
		return;
	__atomic_add_fetch(&e->failures, 1, __ATOMIC_RELAXED);
	if (st_retry_ms == 0)
		return;
	if (__atomic_load_n(&e->down_until, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&e->down_since, now, __ATOMIC_RELAXED);
	__atomic_store_n(&e->down_until, now + st_retry_ms, __ATOMIC_RELAXED);
	log_msg(LOG_DEBUG, "backend %s: marked down for %d.%03d s",
	    r->backends[i].url, st_retry_ms / 1000, st_retry_ms % 1000);
}

void
state_use(const struct route *r, size_t i)
{
	struct state_entry *e = entry_at(r, i);

	if (e == NULL)
		return;
	flock(st_fd, LOCK_EX);
	hold((int)(e - st->entries));
	flock(st_fd, LOCK_UN);
	__atomic_add_fetch(&e->served, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&e->down_until, 0, __ATOMIC_RELAXED) != 0) {
		log_msg(LOG_DEBUG, "backend %s: up again", r->backends[i].url);
		__atomic_store_n(&e->down_since, 0, __ATOMIC_RELAXED);
	}
}

void
state_release(void)
{
	if (st_fd == -1)
		return;
	/* closing the file drops the lock that counted this tunnel */
	close(st_fd);
	st_fd = -1;
	my_entry = -1;
}

size_t
state_entries(void)
{
	return STATE_ENTRIES;
}

int
state_view(size_t i, struct state_view *v)
{
	const struct state_entry *e;

	if (st == NULL || i >= STATE_ENTRIES || st->entries[i].url[0] == '\0')
		return -1;
	e = &st->entries[i];
	memcpy(v->route, e->route, sizeof(v->route));
	memcpy(v->url, e->url, sizeof(v->url));
	v->open = probe((int)i, NULL);
	v->served = __atomic_load_n(&e->served, __ATOMIC_RELAXED);
	v->failures = __atomic_load_n(&e->failures, __ATOMIC_RELAXED);
	v->down_since = __atomic_load_n(&e->down_since, __ATOMIC_RELAXED);
	v->down_until = __atomic_load_n(&e->down_until, __ATOMIC_RELAXED);
	v->drain_since = e->drain_since;
	return 0;
}

int
state_drain(const char *url, int on)
{
	int i, n = 0;
	int64_t now = wall_ms();

	if (st == NULL)
		return 0;
	flock(st_fd, LOCK_EX);
	for (i = 0; i < STATE_ENTRIES; i++) {
		struct state_entry *e = &st->entries[i];

		if (e->url[0] == '\0' ||
		    strncmp(e->url, url, sizeof(e->url) - 1) != 0)
			continue;
		if (on && e->drain_since == 0)
			e->drain_since = now;
		else if (!on)
			e->drain_since = 0;
		n++;
	}
	/* not used yet: remembered for the routes that will use it */
	if (on && n == 0 && (i = entry_of("", url)) != -1) {
		st->entries[i].drain_since = now;
		n = 1;
	}
	flock(st_fd, LOCK_UN);
	return n;
}
