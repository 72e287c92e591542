/* Small helpers shared by several units. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* optional whitespace (RFC 9110 section 5.6.3) */
static inline int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline void
swap_index(size_t *a, size_t *b)
{
	size_t t = *a;

	*a = *b;
	*b = t;
}

/* A TCP port written in decimal, 1 to 65535; -1 when [p, p+len) is not. */
static inline int
port_number(const char *p, size_t len)
{
	int n = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		n = n * 10 + (p[i] - '0');
	}
	return n >= 1 && n <= 65535 ? n : -1;
}

/* Milliseconds on the monotonic clock: deadlines are kept in these. */
static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on the same clock, for --busy-poll's short windows. */
static inline int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A poll() timeout for deadline (0: none), never negative. */
static inline int
ms_until(int64_t deadline)
{
	int64_t left;

	if (deadline == 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

#endif
