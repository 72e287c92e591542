#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "util.h"

#define MAX_PEERS	64	/* ROUTE_MAX_BACKENDS */

int
balance_parse(const char *name)
{
	static const char *const names[] = {
		[BALANCE_FIRST] = "first", [BALANCE_RANDOM] = "random",
		[BALANCE_ROUNDROBIN] = "roundrobin",
		[BALANCE_LEASTCONN] = "leastconn", [BALANCE_SOURCE] = "source",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
balance_weight(const char *s, size_t len, size_t *urllen, unsigned *weight)
{
	static const char tag[] = ";weight=";
	const char *p = NULL, *q;
	unsigned w = 0;

	*urllen = len;
	*weight = 1;
	/* the last ";weight=" only: a path may hold ';' (RFC 3986 3.3) */
	for (q = s; (q = memchr(q, ';', len - (q - s))) != NULL; q++)
		if (len - (q - s) >= sizeof(tag) - 1 &&
		    memcmp(q, tag, sizeof(tag) - 1) == 0)
			p = q;
	if (p == NULL)
		return NULL;
	q = p + sizeof(tag) - 1;
	if (q == s + len || len - (q - s) > 3)
		return "weight must be a number from 1 to 256";
	for (; q < s + len; q++) {
		if (*q < '0' || *q > '9')
			return "weight must be a number from 1 to 256";
		w = w * 10 + (unsigned)(*q - '0');
	}
	if (w < 1 || w > BALANCE_WEIGHT_MAX)
		return "weight must be a number from 1 to 256";
	*urllen = p - s;
	*weight = w;
	return NULL;
}

/* FNV-1a over client, a NUL and key, then splitmix64's finalizer, so that
 * near keys (ports 8001, 8002) give unrelated scores */
static uint64_t
hash2(const char *client, const char *key)
{
	uint64_t h = 14695981039346656037ull;
	const char *s;

	for (s = client; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h *= 1099511628211ull;
	for (s = key; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* ln(x) for x > 0 without libm (which cannot be linked statically beside
 * a shared libc): x = m 2^e, m in [1, 2), ln m = 2 atanh((m-1)/(m+1)) */
static double
ln(double x)
{
	double z, z2, term, sum = 0;
	int e = 0, k;

	while (x >= 2.0) {
		x /= 2.0;
		e++;
	}
	while (x < 1.0) {
		x *= 2.0;
		e--;
	}
	z = (x - 1.0) / (x + 1.0);	/* at most 1/3 */
	z2 = z * z;
	for (term = z, k = 1; k < 40; k += 2, term *= z2)
		sum += term / k;
	return 2.0 * sum + e * 0.69314718055994530942;
}

/*
 * Weighted rendezvous hashing (Schindelhauer and Schomaker): -w / ln(u) for
 * a u uniform in (0, 1) wins with probability proportional to w, and a
 * backend's score never depends on the others, so removing one moves only
 * the clients whose highest score it had.
 */
double
balance_score(const char *client, const char *key, unsigned weight)
{
	double u = ((double)(hash2(client, key) >> 11) + 0.5) /
	    9007199254740992.0;		/* 2^53 */

	return -(double)weight / ln(u);
}

size_t
balance_wrr(const struct balance_peer *p, const size_t *idx, size_t n,
    uint32_t turn)
{
	long cur[MAX_PEERS] = { 0 }, total = 0;
	uint32_t step, steps;
	size_t i, best = 0;

	for (i = 0; i < n; i++)
		total += (long)p[idx[i]].weight;
	if (n == 0 || total == 0)
		return 0;
	/* nginx's smooth weighted round robin: a, b, a, c, a for 3:1:1
	 * rather than a, a, a, b, c; the turn says how far into the cycle */
	steps = turn % (uint32_t)total;
	for (step = 0; step <= steps; step++) {
		best = 0;
		for (i = 0; i < n; i++) {
			cur[i] += (long)p[idx[i]].weight;
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
	}
	return idx[best];
}

/*
 * The classes of backends, in the order they are tried: up, then up but
 * draining (only when every other one failed: better than a 502), then,
 * only when every backend of the route is down, the down ones.
 */
static int
class_of(const struct balance_peer *p)
{
	return (p->down ? 2 : 0) + (p->draining ? 1 : 0);
}

/* The backends of class c into idx[k...); the new k. */
static size_t
gather(const struct balance_peer *p, size_t n, int c, size_t *idx, size_t k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (class_of(&p[i]) == c)
			idx[k++] = i;
	return k;
}

/* A permutation drawn by weight: each next one with probability w/sum. */
static void
order_random(const struct balance_peer *p, size_t *idx, size_t k,
    uint32_t (*rnd)(uint32_t))
{
	size_t i, j;

	for (i = 0; i + 1 < k; i++) {
		uint32_t sum = 0, r;

		for (j = i; j < k; j++)
			sum += p[idx[j]].weight;
		r = rnd(sum);
		for (j = i; j + 1 < k && r >= p[idx[j]].weight; j++)
			r -= p[idx[j]].weight;
		swap_index(&idx[i], &idx[j]);
	}
}

/* The turn's backend first, then the others in their order after it. */
static void
order_turn(const struct balance_peer *p, size_t *idx, size_t k,
    uint32_t turn)
{
	size_t first = balance_wrr(p, idx, k, turn), rot[MAX_PEERS] = { 0 }, i, at;

	for (at = 0; at < k && idx[at] != first; at++)
		;
	for (i = 0; i < k; i++)
		rot[i] = idx[(at + i) % k];
	memcpy(idx, rot, k * sizeof(*idx));
}

/* open/weight below: a.open / a.weight < b.open / b.weight */
static int
less_loaded(const struct balance_peer *a, const struct balance_peer *b)
{
	return (uint64_t)a->open * b->weight < (uint64_t)b->open * a->weight;
}

static void
order_source(const struct balance_peer *p, size_t *idx, size_t k,
    const char *client)
{
	double score[MAX_PEERS], t;
	size_t i, j;

	for (i = 0; i < k; i++)
		score[i] = balance_score(client, p[idx[i]].key,
		    p[idx[i]].weight);
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && score[j] > score[j - 1]; j--) {
			swap_index(&idx[j], &idx[j - 1]);
			t = score[j];
			score[j] = score[j - 1];
			score[j - 1] = t;
		}
}

/* idx[0..k) put in the method's order. */
static void
order_by(enum balance method, const struct balance_peer *p, size_t *idx,
    size_t k, const char *client, uint32_t turn, uint32_t (*rnd)(uint32_t))
{
	size_t i, j;

	switch (method) {
	case BALANCE_FIRST:
		break;
	case BALANCE_RANDOM:
		order_random(p, idx, k, rnd);
		break;
	case BALANCE_ROUNDROBIN:
		order_turn(p, idx, k, turn);
		break;
	case BALANCE_LEASTCONN:
		/* fewest per weight first; ties keep the round-robin order */
		order_turn(p, idx, k, turn);
		for (i = 1; i < k; i++)
			for (j = i; j > 0 && less_loaded(&p[idx[j]],
			    &p[idx[j - 1]]); j--)
				swap_index(&idx[j], &idx[j - 1]);
		break;
	case BALANCE_SOURCE:
		order_source(p, idx, k, client != NULL ? client : "");
		break;
	}
}

size_t
balance_order(enum balance method, const struct balance_peer *p, size_t n,
    const char *client, uint32_t turn, uint32_t (*rnd)(uint32_t),
    size_t *order)
{
	size_t k = 0;
	int c;

	if (n > MAX_PEERS)
		n = MAX_PEERS;
	for (c = 0; c < 4; c++) {
		size_t from = k;

		if (c == 2 && k > 0)
			break;		/* some are up: the down ones wait */
		k = gather(p, n, c, order, k);
		order_by(method, p, order + from, k - from, client, turn, rnd);
	}
	return k;
}
