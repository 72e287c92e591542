/*
 * fuzz_reqbody: the chunked request body decoder of --http (reqbody.c), the
 * way httpx.c feeds it: whatever has arrived, again and again, each call
 * taking at most one span of data.  The input is what a client sent after
 * its head.
 *
 * Checks:
 *   - a call consumes at most what it was given, and its data span lies
 *     inside the bytes it consumed;
 *   - fed all at once, one byte at a time, or in pieces of 7 bytes, the
 *     decoder reaches the same verdict (refused, incomplete, or done at the
 *     same offset) with the same data;
 *   - an accepted body re-encoded as one chunk (as the backend gets it)
 *     decodes to the same data;
 *   - nothing is consumed after the body's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reqbody.h"
#include "fuzz.h"

enum { BAD, MORE, DONE };

/* Decodes in[0..len) in pieces of step bytes (0: all at once); the data
 * goes to out (len bytes at least), its length to *olen, the offset of
 * the body's end to *end. */
static int
run(const char *in, size_t len, size_t step, char *out, size_t *olen,
    size_t *end)
{
	struct reqbody b;
	size_t off = 0, dlen;
	const char *data;

	memset(&b, 0, sizeof(b));
	b.kind = REQBODY_CHUNKED;
	*olen = 0;
	for (;;) {
		size_t avail = step == 0 || len - off < step ? len - off :
		    step;
		ssize_t n = reqbody_decode(&b, in + off, avail, &data, &dlen);
		if (n < 0)
			return BAD;
		CHECK("consumed-bounded", (size_t)n <= avail);
		CHECK("data-inside", dlen == 0 ||
		    inside(data, dlen, in + off, (size_t)n));
		if (dlen > 0) {
			memcpy(out + *olen, data, dlen);
			*olen += dlen;
		}
		off += (size_t)n;
		if (b.done) {
			*end = off;
			n = reqbody_decode(&b, in + off, len - off, &data,
			    &dlen);
			CHECK("nothing-after-end", n == 0 && dlen == 0);
			return DONE;
		}
		if (off == len)
			return MORE;
		if (n == 0 && step == 0)
			return MORE;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out[3], *enc;
	size_t olen[3], end[3], e2, i;
	int r[3];
	static const size_t steps[3] = { 0, 1, 7 };

	for (i = 0; i < 3; i++)
		if ((out[i] = malloc(size + 1)) == NULL)
			return 0;
	for (i = 0; i < 3; i++)
		r[i] = run(in, size, steps[i], out[i], &olen[i], &end[i]);
	for (i = 1; i < 3; i++) {
		CHECK("same-verdict", r[i] == r[0]);
		if (r[i] == DONE)
			CHECK("same-end", end[i] == end[0]);
		if (r[i] != BAD)
			CHECK("same-data", olen[i] == olen[0] &&
			    memcmp(out[i], out[0], olen[0]) == 0);
	}
	if (r[0] == DONE && (enc = malloc(olen[0] + 32)) != NULL) {
		size_t elen = (size_t)snprintf(enc, 32, "%zx\r\n", olen[0]);
		memcpy(enc + elen, out[0], olen[0]);
		elen += olen[0];
		memcpy(enc + elen, "\r\n0\r\n\r\n", 7);
		elen += olen[0] > 0 ? 7 : 0;
		if (olen[0] == 0)
			elen = (size_t)snprintf(enc, 32, "0\r\n\r\n");
		CHECK("reencoded-decodes", run(enc, elen, 0, out[1], &olen[1],
		    &e2) == DONE && e2 == elen && olen[1] == olen[0] &&
		    memcmp(out[1], out[0], olen[0]) == 0);
		free(enc);
	}
	for (i = 0; i < 3; i++)
		free(out[i]);
	return 0;
}
