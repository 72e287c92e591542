/*
 * A tiny test harness for the unit tests: no library, one header.
 *
 *	CHECK(cond, fmt, ...)		a condition, with a printf-style message
 *	CHECK_INT(got, want, fmt, ...)	two integers (printed on failure)
 *	CHECK_MEM(got, glen, want, fmt, ...)
 *					got[0..glen) equals the string want
 *	CHECK_STR(got, want, fmt, ...)	two strings, NULL allowed
 *	return t_done();		prints a summary; 1 if anything failed
 *
 * A failure prints file:line, the message and what differed, and the test
 * goes on, so that one run lists every failing row of a table.  Strings are
 * printed with control bytes escaped so CR, LF and NUL can be seen.
 */
#ifndef T_H
#define T_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_checks, t_failures;

/* s[0..len) with control and non-ASCII bytes escaped, quoted. */
static inline void
t_print_escaped(const char *s, size_t len)
{
	size_t i;

	if (s == NULL) {
		fputs("(null)", stderr);
		return;
	}
	fputc('"', stderr);
	for (i = 0; i < len && i < 2000; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('"', stderr);
	if (i < len)
		fprintf(stderr, "...(%zu bytes)", len);
}

/* Counts one check; on failure prints "file:line: FAIL: message". */
__attribute__((format(printf, 4, 0))) static inline int
t_vcheck(int ok, const char *file, int line, const char *fmt, va_list ap)
{
	t_checks++;
	if (ok)
		return 1;
	t_failures++;
	fprintf(stderr, "%s:%d: FAIL: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return 0;
}

__attribute__((format(printf, 4, 5))) static inline int
t_check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ok = t_vcheck(ok, file, line, fmt, ap);
	va_end(ap);
	return ok;
}

__attribute__((format(printf, 5, 6))) static inline int
t_check_int(long long got, long long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = t_vcheck(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!ok)
		fprintf(stderr, "\tgot  %lld\n\twant %lld\n", got, want);
	return ok;
}

__attribute__((format(printf, 6, 7))) static inline int
t_check_mem(const char *got, size_t glen, const char *want, const char *file,
    int line, const char *fmt, ...)
{
	va_list ap;
	int ok;

	if (got == NULL || want == NULL)
		ok = (got == NULL && want == NULL);
	else
		ok = (glen == strlen(want) && memcmp(got, want, glen) == 0);
	va_start(ap, fmt);
	ok = t_vcheck(ok, file, line, fmt, ap);
	va_end(ap);
	if (!ok) {
		fputs("\tgot  ", stderr);
		t_print_escaped(got, glen);
		fputs("\n\twant ", stderr);
		t_print_escaped(want, want != NULL ? strlen(want) : 0);
		fputc('\n', stderr);
	}
	return ok;
}

/* Prints the summary; the exit status for main(). */
static inline int
t_done(void)
{
	fprintf(stderr, "%s: %d checks, %d failed\n",
	    t_failures == 0 ? "PASS" : "FAIL", t_checks, t_failures);
	return t_failures == 0 ? 0 : 1;
}

#define CHECK(cond, ...) \
	t_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_INT(got, want, ...) \
	t_check_int((long long)(got), (long long)(want), __FILE__, __LINE__, \
	    __VA_ARGS__)
#define CHECK_MEM(got, glen, want, ...) \
	t_check_mem((got), (glen), (want), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_STR(got, want, ...) \
	t_check_mem((got), (got) != NULL ? strlen(got) : 0, (want), \
	    __FILE__, __LINE__, __VA_ARGS__)

#endif
