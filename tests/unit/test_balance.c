/* The pure ordering of balance.c: weights, tiers, round robin, least
 * connections per weight, weighted rendezvous, table by table. */
#include <stdio.h>
#include <string.h>

#include "balance.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*in;
	const char	*why;		/* NULL: accepted */
	size_t		 urllen;
	unsigned	 weight;
} weights[] = {
	{ "ws://a:8000/ws", NULL, 14, 1 },
	{ "ws://a:8000/ws;weight=3", NULL, 14, 3 },
	{ "ws://a:8000;weight=1", NULL, 11, 1 },
	{ "ws://a;weight=256", NULL, 6, 256 },
	{ "ws://unix:/run/a.sock:/ws;weight=7", NULL, 25, 7 },
	{ "ws://a/x;v=1;weight=2", NULL, 12, 2 },	/* the last one only */
	{ "ws://a/x;v=1", NULL, 12, 1 },		/* ';' in a path */
	{ "ws://a/x;weight", NULL, 15, 1 },		/* no '=': path */
	{ "ws://a;weight=0", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=257", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=3x", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=0003", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=-1", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=2/ws", "weight must be a number from 1 to 256", 0, 0 },
	{ "ws://a;weight=1;weight=2", NULL, 15, 2 },
};

static void
test_weight(void)
{
	size_t i, len;
	unsigned w;

	for (i = 0; i < NITEMS(weights); i++) {
		const char *why = balance_weight(weights[i].in,
		    strlen(weights[i].in), &len, &w);

		CHECK_STR(why, weights[i].why, "%s", weights[i].in);
		if (why != NULL || weights[i].why != NULL)
			continue;
		CHECK_INT(len, weights[i].urllen, "%s: URL length",
		    weights[i].in);
		CHECK_INT(w, weights[i].weight, "%s: weight", weights[i].in);
	}
}

static struct balance_peer *
peers(size_t n, const unsigned *w)
{
	static struct balance_peer p[8];
	static const char *keys[8] = { "ws://127.0.0.1:8001",
	    "ws://127.0.0.1:8002", "ws://127.0.0.1:8003",
	    "ws://127.0.0.1:8004", "ws://b:1", "ws://c:1", "ws://d:1",
	    "ws://e:1" };
	size_t i;

	memset(p, 0, sizeof(p));
	for (i = 0; i < n; i++) {
		p[i].key = keys[i];
		p[i].weight = w != NULL ? w[i] : 1;
	}
	return p;
}

static void
test_wrr(void)
{
	static const unsigned w[] = { 3, 1, 1 };
	static const size_t want[] = { 0, 1, 0, 2, 0, 0, 1, 0, 2, 0 };
	struct balance_peer *p = peers(3, w);
	size_t idx[] = { 0, 1, 2 }, t, order[8];

	/* smooth: a, b, a, c, a, never a, a, a in a row */
	for (t = 0; t < NITEMS(want); t++)
		CHECK_INT(balance_wrr(p, idx, 3, (uint32_t)t), want[t],
		    "3:1:1 turn %zu", t);
	p = peers(3, NULL);
	for (t = 0; t < 7; t++) {
		CHECK_INT(balance_order(BALANCE_ROUNDROBIN, p, 3, NULL,
		    (uint32_t)t, NULL, order), 3, "roundrobin tries all");
		CHECK_INT(order[0], t % 3, "equal weights: turn %zu", t);
		CHECK_INT(order[1], (t + 1) % 3, "then the next");
	}
	/* a turn that wraps 2^32 stays within the cycle */
	CHECK(balance_wrr(p, idx, 3, 0xffffffffu) < 3, "turn 2^32-1");
}

/* Which backends are tried, in which order: up, then up but draining;
 * the down ones only when every one is down, the draining ones last. */
static void
test_tiers(void)
{
	static const struct {
		int	 down[3], draining[3];
		size_t	 n, first[3];
	} rows[] = {
		{ { 0, 0, 0 }, { 0, 0, 0 }, 3, { 0, 1, 2 } },
		{ { 0, 1, 0 }, { 0, 0, 0 }, 2, { 0, 2 } },
		{ { 1, 1, 0 }, { 0, 0, 0 }, 1, { 2 } },
		{ { 1, 1, 1 }, { 0, 0, 0 }, 3, { 0, 1, 2 } },
		{ { 0, 0, 0 }, { 1, 0, 0 }, 3, { 1, 2, 0 } },
		{ { 1, 0, 0 }, { 0, 1, 1 }, 2, { 1, 2 } },
		{ { 0, 0, 0 }, { 1, 1, 1 }, 3, { 0, 1, 2 } },
		{ { 1, 0, 1 }, { 0, 1, 0 }, 1, { 1 } },
		{ { 1, 1, 1 }, { 1, 0, 0 }, 3, { 1, 2, 0 } },
		{ { 0, 1, 0 }, { 1, 0, 0 }, 2, { 2, 0 } },
	};
	size_t i, j, order[8];

	for (i = 0; i < NITEMS(rows); i++) {
		struct balance_peer *p = peers(3, NULL);

		for (j = 0; j < 3; j++) {
			p[j].down = rows[i].down[j];
			p[j].draining = rows[i].draining[j];
		}
		CHECK_INT(balance_order(BALANCE_FIRST, p, 3, NULL, 0, NULL,
		    order), rows[i].n, "row %zu: how many", i);
		for (j = 0; j < rows[i].n; j++)
			CHECK_INT(order[j], rows[i].first[j], "row %zu, %zu",
			    i, j);
	}
}

static void
test_leastconn(void)
{
	static const struct {
		unsigned w[3], open[3];
		uint32_t turn;
		size_t	 first;
	} rows[] = {
		{ { 1, 1, 1 }, { 2, 1, 3 }, 0, 1 },
		{ { 1, 1, 1 }, { 1, 1, 1 }, 2, 2 },	/* tie: the turn */
		{ { 3, 1, 1 }, { 2, 1, 1 }, 1, 0 },	/* 2/3 < 1 */
		{ { 3, 1, 1 }, { 4, 1, 1 }, 0, 1 },	/* 4/3 > 1 */
		{ { 3, 1, 1 }, { 3, 1, 1 }, 0, 0 },	/* 1 = 1: turn */
		{ { 1, 2, 1 }, { 0, 1, 0 }, 0, 2 },	/* turn 0 is 1's */
		{ { 256, 1, 1 }, { 255, 1, 1 }, 1, 0 },
	};
	size_t i, j, order[8];

	for (i = 0; i < NITEMS(rows); i++) {
		struct balance_peer *p = peers(3, rows[i].w);

		for (j = 0; j < 3; j++)
			p[j].open = rows[i].open[j];
		balance_order(BALANCE_LEASTCONN, p, 3, NULL, rows[i].turn,
		    NULL, order);
		CHECK_INT(order[0], rows[i].first, "leastconn row %zu", i);
	}
}

/* rnd() from a script, for weighted random without chance */
static uint32_t script[8];
static size_t script_at;

static uint32_t
scripted(uint32_t below)
{
	return script[script_at++] % below;
}

static void
test_random(void)
{
	static const unsigned w[] = { 3, 1 };
	struct balance_peer *p = peers(2, w);
	size_t order[8];
	uint32_t r;

	for (r = 0; r < 4; r++) {
		script[0] = r;
		script_at = 0;
		CHECK_INT(balance_order(BALANCE_RANDOM, p, 2, NULL, 0,
		    scripted, order), 2, "random tries both");
		CHECK_INT(order[0], r < 3 ? 0 : 1, "3:1, draw %u", r);
		CHECK_INT(order[1], r < 3 ? 1 : 0, "then the other");
	}
}

static size_t
source_first(struct balance_peer *p, size_t n, const char *client)
{
	size_t order[8];

	balance_order(BALANCE_SOURCE, p, n, client, 0, NULL, order);
	return order[0];
}

/* Removing a backend, or one being down, moves only its own clients. */
static void
test_source_stable(void)
{
	size_t c, i, before[1000], count[4] = { 0 }, moved = 0;
	struct balance_peer *p;
	char client[32];

	p = peers(4, NULL);
	for (c = 0; c < 1000; c++) {
		snprintf(client, sizeof(client), "10.%zu.%zu.7", c / 250,
		    c % 250);
		before[c] = source_first(p, 4, client);
		count[before[c]]++;
	}
	for (i = 0; i < 4; i++)
		CHECK(count[i] > 150 && count[i] < 350, "backend %zu has %zu "
		    "of 1000", i, count[i]);
	for (c = 0; c < 1000; c++) {
		snprintf(client, sizeof(client), "10.%zu.%zu.7", c / 250,
		    c % 250);
		p[2].down = 1;
		i = source_first(p, 4, client);
		p[2].down = 0;
		if (before[c] != 2)
			CHECK_INT(i, before[c], "client %s moved (down)",
			    client);
		else
			moved += (i != 2);
		/* removed: the list without its third URL */
		p[2] = p[3];
		i = source_first(p, 3, client);
		p = peers(4, NULL);
		if (before[c] != 2)
			CHECK_INT(i == 2 ? 3 : i, before[c],
			    "client %s moved (removed)", client);
	}
	CHECK_INT(moved, count[2], "the down backend's clients all moved");
}

static void
test_source_weighted(void)
{
	static const unsigned w[] = { 3, 1 };
	struct balance_peer *p = peers(2, w);
	char client[32];
	size_t c, on0 = 0;

	for (c = 0; c < 4000; c++) {
		snprintf(client, sizeof(client), "2001:db8::%zx", c);
		on0 += source_first(p, 2, client) == 0;
	}
	CHECK(on0 > 2800 && on0 < 3200, "3:1 gave %zu of 4000", on0);
	CHECK_INT(source_first(p, 2, "192.0.2.1"),
	    source_first(p, 2, "192.0.2.1"), "one client, one backend");
}

static int
is_permutation(const size_t *order, size_t n)
{
	unsigned char seen[64] = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		if (order[i] >= n || seen[order[i]])
			return 0;
		seen[order[i]] = 1;
	}
	return 1;
}

static uint32_t
fixed(uint32_t below)
{
	return below - 1;
}

/* Every method, every size, with and without a client: each backend once. */
static void
test_permutations(void)
{
	static const enum balance methods[] = {
		BALANCE_FIRST, BALANCE_RANDOM, BALANCE_ROUNDROBIN,
		BALANCE_LEASTCONN, BALANCE_SOURCE
	};
	static struct balance_peer p[64];
	static char keys[64][32];
	size_t order[64], i, n;

	for (i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof(keys[i]), "ws://10.0.0.%zu:80", i);
		p[i].key = keys[i];
		p[i].weight = 1 + (unsigned)i % 5;
		p[i].open = (unsigned)i % 3;
	}
	for (i = 0; i < NITEMS(methods); i++)
		for (n = 1; n <= 64; n++) {
			memset(order, 0xff, sizeof(order));
			CHECK_INT(balance_order(methods[i], p, n, "192.0.2.7",
			    (uint32_t)n * 7, fixed, order), n, "all tried");
			CHECK(is_permutation(order, n), "method %d, n %zu: a "
			    "permutation", (int)methods[i], n);
			balance_order(methods[i], p, n, NULL, 0, fixed, order);
			CHECK(is_permutation(order, n), "method %d, n %zu, no "
			    "client: a permutation", (int)methods[i], n);
		}
	CHECK_INT(balance_order(BALANCE_SOURCE, p, 0, "192.0.2.7", 0, fixed,
	    order), 0, "no backend");
}

int
main(void)
{
	test_weight();
	test_wrr();
	test_tiers();
	test_leastconn();
	test_random();
	test_source_stable();
	test_source_weighted();
	test_permutations();
	CHECK_INT(balance_parse("leastconn"), BALANCE_LEASTCONN, "parse");
	CHECK_INT(balance_parse("least"), -1, "parse unknown");
	return t_done();
}
