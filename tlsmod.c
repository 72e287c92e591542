/*
 * Loading the TLS module, and calling through it.  The module is looked for
 * beside the running binary first (a build tree), then in MODULEDIR (an
 * installed one); both are places only their owner can write.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"
#include "util.h"

#ifndef MODULEDIR
#define MODULEDIR	"/usr/local/lib/wstunnel"
#endif

const struct tls_module *tls;

/* The module beside /proc/self/exe, into path; -1 when there is none. */
static int
module_beside_binary(char *path, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", path, size - 1);
	char *slash;

	if (n <= 0)
		return -1;
	path[n] = '\0';
	if ((slash = strrchr(path, '/')) == NULL ||
	    (size_t)(slash + 1 - path) + sizeof(TLS_MODULE_NAME) > size)
		return -1;
	memcpy(slash + 1, TLS_MODULE_NAME, sizeof(TLS_MODULE_NAME));
	return access(path, F_OK);
}

const char *
tls_load(char *msg, size_t msgsize)
{
	char path[PATH_MAX];
	void *h;

	if (tls != NULL)
		return NULL;
	if (module_beside_binary(path, sizeof(path)) == -1)
		snprintf(path, sizeof(path), "%s/%s", MODULEDIR,
		    TLS_MODULE_NAME);
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(msg, msgsize, "cannot load TLS support: %s",
		    dlerror());
		return msg;
	}
	tls = dlsym(h, TLS_MODULE_SYMBOL);
	if (tls == NULL || tls->abi != TLS_MODULE_ABI) {
		snprintf(msg, msgsize, "%s: not a TLS module of this wstunnel",
		    path);
		tls = NULL;
		return msg;
	}
	return NULL;
}

ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	return tls->read(c, buf, len);
}

ssize_t
tls_write(struct conn *c, const void *buf, size_t len)
{
	return tls->write(c, buf, len);
}

int
tls_pending(const struct conn *c)
{
	return tls->pending(c);
}

int
tls_shutdown(struct conn *c)
{
	return tls->shutdown(c);
}

int
tls_handshake(struct conn *c, int64_t deadline)
{
	int r;

	while ((r = tls->handshake(c)) != 0) {
		if (r == CONN_ERR)
			return CONN_ERR;
		if ((r = conn_wait(c, r, deadline)) == 0) {
			c->why = "TLS handshake timed out";
			return CONN_TIMEOUT;
		}
		if (r < 0)	/* CONN_ERR or CONN_STOPPED */
			return r;
	}
	return 0;
}
