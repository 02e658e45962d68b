/*
 * util.h — small helpers shared by every program: ids, hashing, clocks.
 *
 * SHA-256 comes from OpenSSL's libcrypto (never hand-rolled); random bytes
 * from getrandom(2).
 */
#ifndef TRAINYARD_UTIL_H
#define TRAINYARD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define UUID_STR_LEN 36
#define SHA256_HEX_LEN 64

/* Fills n bytes from the kernel's CSPRNG. Returns -1 with e filled on failure. */
int util_random_bytes(void *buf, size_t n, err_t *e);

/* Writes a random (version 4) UUID, lowercase, into out[UUID_STR_LEN + 1]. */
int util_uuid_v4(char out[UUID_STR_LEN + 1], err_t *e);

/* True if s is a canonical lowercase-or-uppercase 8-4-4-4-12 UUID. */
int util_is_uuid(const char *s);

/* Incremental SHA-256. The context is opaque; allocate with sha256_new. */
typedef struct sha256 sha256_t;
sha256_t *sha256_new(void);
void sha256_update(sha256_t *h, const void *data, size_t n);
/* Writes 64 lowercase hex digits + NUL and frees h. */
void sha256_finish_hex(sha256_t *h, char out[SHA256_HEX_LEN + 1]);
/* Writes the raw 32-byte digest and frees h. */
void sha256_finish_raw(sha256_t *h, unsigned char out[32]);
/* One-shot digest of a buffer as hex. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);

/* Compares n bytes in time independent of where they differ; 0 if equal. */
int util_ct_memcmp(const void *a, const void *b, size_t n);

/* The value of one hex digit (either case), or -1 if c is not one. */
int util_hex_value(char c);

/* Writes all n bytes to fd, retrying short writes and EINTR: 0, or -1
 * (errno set). */
int util_write_all(int fd, const void *buf, size_t n);

/* Reads exactly n bytes: 0, or -1 at end of file or on an error. */
int util_read_exact(int fd, void *buf, size_t n);

/* Resident set size of this process in bytes (0 if unknown). */
long long util_rss_bytes(void);

/* Hex-encodes n bytes into out (2n + 1 chars). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Monotonic clock in seconds (for budgets and latencies). */
double util_now_monotonic(void);

/* Wall clock in seconds since the epoch. */
double util_now_wall(void);

/* Formats an epoch time as RFC 3339 UTC with milliseconds into out[32]. */
void util_format_time(double epoch, char out[32]);

/* Sets each "NAME=value" in defaults that the environment does not set yet
 * and, if any was missing, re-executes the running program (its real path,
 * same argv) so that libraries reading the environment as they load — libgomp
 * reads OMP_* before main — see them. Returns only when nothing was missing
 * or the exec failed (the program then goes on as it is). */
void util_exec_with_env_defaults(char **argv, const char *const *defaults, size_t n);

/* True if the n bytes at s are valid UTF-8 (no overlongs, no surrogates). */
int util_utf8_valid(const char *s, size_t n);

#endif
