/*
 * The TLS module: OpenSSL for both sides of a session.  Built as its own
 * shared object so that only configurations with TLS load libssl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define SSL_OF(c)	((SSL *)(c)->tls)

/* A session has at most one TLS client side and one server side. */
static char why_server[256], why_client[256];

static void
ctx_error(char *msg, size_t size, const char *what, const char *file)
{
	/* the first error queued is the cause, the others its echoes; a
	 * file that cannot be opened is queued as an errno */
	unsigned long e = ERR_peek_error();
	const char *reason = ERR_GET_LIB(e) == ERR_LIB_SYS ?
	    strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e);

	snprintf(msg, size, "%s %s: %s", what, file != NULL ? file : "",
	    reason != NULL ? reason : (errno != 0 ? strerror(errno) :
	    "failed"));
	ERR_clear_error();
}

/* Settings both sides share: TLS 1.2 at least, no compression (CRIME), no
 * renegotiation, and buffers the relay can move and write in parts. */
static SSL_CTX *
ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static int
load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *msg,
    size_t size)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ctx_error(msg, size, "cannot load certificate", cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ctx_error(msg, size, "cannot load private key", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ctx_error(msg, size, "key does not match certificate", cert);
		return -1;
	}
	return 0;
}

/* WebSocket is HTTP/1.1: choose it when offered, else go on without ALPN. */
static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
	    sizeof(http11) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

static void *
server_ctx(const struct tls_server_conf *conf, char *msg, size_t size)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method());
	STACK_OF(X509_NAME) *names;

	if (ctx == NULL) {
		ctx_error(msg, size, "TLS", NULL);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* each process has its own keys: tickets and a session cache could
	 * never be used again, only cost a round of work */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	if (load_pair(ctx, conf->cert, conf->key, msg, size) == -1)
		goto fail;
	if (conf->client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, conf->client_ca,
		    NULL) != 1 ||
		    (names = SSL_load_client_CA_file(conf->client_ca)) == NULL) {
			ctx_error(msg, size, "cannot load client CA",
			    conf->client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void *
client_ctx(const struct tls_client_conf *conf, char *msg, size_t size)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method());

	if (ctx == NULL) {
		ctx_error(msg, size, "TLS", NULL);
		return NULL;
	}
	if (conf->insecure)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* the hashed directory: certificates are read only when a
		 * chain needs them, not the whole bundle at every start */
		if (conf->ca != NULL ? SSL_CTX_load_verify_locations(ctx,
		    conf->ca, NULL) != 1 :
		    SSL_CTX_set_default_verify_dir(ctx) != 1) {
			ctx_error(msg, size, "cannot load CA", conf->ca);
			goto fail;
		}
	}
	if (conf->cert != NULL &&
	    load_pair(ctx, conf->cert, conf->key, msg, size) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
is_address(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 ||
	    inet_pton(AF_INET6, name, a) == 1;
}

static int
start(struct conn *c, void *ctx, int server, const char *name)
{
	static const unsigned char http11[] = "\x08http/1.1";
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL || SSL_set_rfd(ssl, c->rfd) != 1 ||
	    SSL_set_wfd(ssl, c->wfd) != 1) {
		SSL_free(ssl);
		c->why = "cannot set up TLS";
		return CONN_ERR;
	}
	c->tls = (struct tls_conn *)ssl;
	if (server) {
		SSL_set_accept_state(ssl);
		return 0;
	}
	SSL_set_connect_state(ssl);
	SSL_set_alpn_protos(ssl, http11, sizeof(http11) - 1);
	if (name == NULL)
		return 0;
	/* RFC 6066: no SNI for an address; it is verified as one */
	if (is_address(name) ? X509_VERIFY_PARAM_set1_ip_asc(
	    SSL_get0_param(ssl), name) != 1 :
	    (SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)) {
		c->why = "cannot set the name to verify";
		return CONN_ERR;
	}
	return 0;
}

/* What went wrong, in words a user can act on. */
static void
explain(struct conn *c, SSL *ssl)
{
	char *buf = SSL_is_server(ssl) ? why_server : why_client;
	long v = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();
	const char *reason = ERR_reason_error_string(e), *hint = "";

	if (v != X509_V_OK && !SSL_is_server(ssl)) {
		if (v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		    v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
			hint = " (is --backend-ca the CA that signed it?)";
		snprintf(buf, sizeof(why_client), "certificate verification "
		    "failed: %s%s", X509_verify_cert_error_string(v), hint);
	} else if (v != X509_V_OK)
		snprintf(buf, sizeof(why_server), "client certificate "
		    "verification failed: %s", X509_verify_cert_error_string(v));
	else {
		if (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
		    ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST)
			hint = SSL_is_server(ssl) ? " (the client does not "
			    "speak TLS)" : " (does the backend speak TLS?)";
		snprintf(buf, sizeof(why_client), "%s%s", reason != NULL ?
		    reason : "TLS error", hint);
	}
	ERR_clear_error();
	c->why = buf;
}

/* The meaning of an OpenSSL call's failure r for the relay. */
static int
result(struct conn *c, int r)
{
	SSL *ssl = SSL_OF(c);

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return CONN_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return CONN_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		c->err = errno;
		c->why = errno != 0 ? strerror(errno) :
		    "connection closed during TLS";
		ERR_clear_error();
		return CONN_ERR;
	default:
		explain(c, ssl);
		return CONN_ERR;
	}
}

static int
handshake(struct conn *c)
{
	int r = SSL_do_handshake(SSL_OF(c));

	if (r == 1)
		return 0;
	r = result(c, r);
	return r == 0 ? CONN_ERR : r;	/* closed during the handshake */
}

static ssize_t
tls_read_(struct conn *c, void *buf, size_t len)
{
	size_t n;
	int r = SSL_read_ex(SSL_OF(c), buf, len, &n);

	return r == 1 ? (ssize_t)n : result(c, r);
}

static ssize_t
tls_write_(struct conn *c, const void *buf, size_t len)
{
	size_t n;
	int r = SSL_write_ex(SSL_OF(c), buf, len, &n);

	if (r == 1)
		return (ssize_t)n;
	r = result(c, r);
	return r == 0 ? CONN_ERR : r;
}

static int
tls_pending_(const struct conn *c)
{
	return SSL_pending(SSL_OF(c)) > 0;
}

/* Our close_notify; reading goes on until the peer's (TLS 1.3 half-close). */
static int
tls_shutdown_(struct conn *c)
{
	int r = SSL_shutdown(SSL_OF(c));

	if (r >= 0)
		return 0;
	r = result(c, r);
	return r == 0 ? 0 : r;
}

/*
 * A session that ends other than by the relay's half-close (a timer, a
 * signal, an error on the other side) still owes this peer its close_notify,
 * or the peer cannot tell the end from a truncation.  One non-blocking try;
 * after a fatal error OpenSSL sends nothing.
 */
static void
tls_free(struct conn *c)
{
	SSL *ssl = SSL_OF(c);

	if (SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	c->tls = NULL;
}

static const char *
version(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

__attribute__((visibility("default")))
const struct tls_module wstunnel_tls_module = {
	TLS_MODULE_ABI, server_ctx, client_ctx, start, handshake, tls_read_,
	tls_write_, tls_pending_, tls_shutdown_, tls_free, version
};
