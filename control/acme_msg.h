/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACME (RFC 8555) messages as the client in control/acme.c reads and writes
 * them: the directory, orders, authorizations, problem documents, the
 * Retry-After header, base64url. Pure (jansson only): unit-tested and
 * fuzzed, since every byte here comes from the network.
 */
#ifndef DERPER_CONTROL_ACME_MSG_H
#define DERPER_CONTROL_ACME_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
	ACME_URL_LEN = 512,
	ACME_TOKEN_LEN = 128,
	ACME_MAX_AUTHZ = 8,
	ACME_MAX_CHALLENGES = 8,
};

enum acme_status {
	ACME_ST_UNKNOWN,
	ACME_ST_PENDING,
	ACME_ST_READY,
	ACME_ST_PROCESSING,
	ACME_ST_VALID,
	ACME_ST_INVALID,
};

struct acme_directory {
	char new_nonce[ACME_URL_LEN];
	char new_account[ACME_URL_LEN];
	char new_order[ACME_URL_LEN];
};

struct acme_order {
	int status;			/* enum acme_status */
	char finalize[ACME_URL_LEN];
	char certificate[ACME_URL_LEN];	/* once valid */
	unsigned int nb_authz;
	char authz[ACME_MAX_AUTHZ][ACME_URL_LEN];
};

struct acme_challenge {
	char type[32];			/* "http-01", "tls-alpn-01", ... */
	char url[ACME_URL_LEN];
	char token[ACME_TOKEN_LEN];	/* base64url only (checked) */
	int status;
};

struct acme_authz {
	int status;
	char identifier[256];
	unsigned int nb_challenges;
	struct acme_challenge ch[ACME_MAX_CHALLENGES];
};

struct acme_problem {
	char type[128];			/* urn:ietf:params:acme:error:... */
	char detail[256];
};

/* Each returns 0, or -1 with what is wrong in err. */
int acme_parse_directory(const char *json, size_t len,
			 struct acme_directory *d, char *err, size_t errlen);
int acme_parse_order(const char *json, size_t len, struct acme_order *o,
		     char *err, size_t errlen);
int acme_parse_authz(const char *json, size_t len, struct acme_authz *a,
		     char *err, size_t errlen);
/* A problem document (RFC 7807); type "" when the body is none. */
void acme_parse_problem(const char *json, size_t len, struct acme_problem *p);

/* The challenge of `type` in a, or NULL. */
const struct acme_challenge *acme_authz_challenge(const struct acme_authz *a,
						  const char *type);

/* Retry-After (seconds or an HTTP-date) as seconds from now; -1 if absent
 * or unreadable. */
long acme_retry_after(const char *value, time_t now);

/* base64url without padding; returns the length written (out has room for
 * 4 * ((n + 2) / 3) + 1), 0 if it does not fit. */
size_t acme_b64url(const uint8_t *in, size_t n, char *out, size_t outlen);

/* Is s a base64url string (a token safe to put in a URL path)? */
bool acme_b64url_valid(const char *s);

#endif /* DERPER_CONTROL_ACME_MSG_H */
