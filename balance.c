#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "util.h"

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

/* FNV-1a: stable across processes and runs, which is all "source" needs */
static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void
balance_order(enum balance method, size_t n, const char *client,
    size_t *order)
{
	size_t i, start = 0;

	if (method == BALANCE_RANDOM) {
		/* a whole permutation, so that the backends after a dead
		 * one share its load instead of its neighbour taking it all */
		for (i = 0; i < n; i++)
			order[i] = i;
		for (i = n; i > 1; i--) {
			swap_index(&order[i - 1],
			    &order[arc4random_uniform((uint32_t)i)]);
		}
		return;
	}
	if (method == BALANCE_SOURCE && client != NULL && n > 0)
		start = hash(client) % n;
	for (i = 0; i < n; i++)
		order[i] = (start + i) % n;
}
