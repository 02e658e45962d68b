/*
 * util.c — ids, hashing and clocks (see util.h).
 */
#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int util_random_bytes(void *buf, size_t n, err_t *e)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return err_set(e, 500, "internal", "could not read random bytes: %s", strerror(errno));
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int util_uuid_v4(char out[UUID_STR_LEN + 1], err_t *e)
{
    unsigned char b[16];
    if (util_random_bytes(b, sizeof(b), e) != 0)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    return 0;
}

int util_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != UUID_STR_LEN)
        return 0;
    for (int i = 0; i < UUID_STR_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

struct sha256 {
    EVP_MD_CTX *ctx;
};

sha256_t *sha256_new(void)
{
    sha256_t *h = OPENSSL_malloc(sizeof(*h));
    if (h == NULL)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        OPENSSL_free(h);
        return NULL;
    }
    return h;
}

void sha256_update(sha256_t *h, const void *data, size_t n)
{
    EVP_DigestUpdate(h->ctx, data, n);
}

void sha256_finish_raw(sha256_t *h, unsigned char out[32])
{
    unsigned int len = 32;
    EVP_DigestFinal_ex(h->ctx, out, &len);
    EVP_MD_CTX_free(h->ctx);
    OPENSSL_free(h);
}

void sha256_finish_hex(sha256_t *h, char out[SHA256_HEX_LEN + 1])
{
    unsigned char raw[32];
    sha256_finish_raw(h, raw);
    util_hex(raw, sizeof(raw), out);
}

void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1])
{
    sha256_t *h = sha256_new();
    sha256_update(h, data, n);
    sha256_finish_hex(h, out);
}

int util_ct_memcmp(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) != 0;
}

int util_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int util_read_exact(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

long long util_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages_total = 0, pages_rss = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lld %lld", &pages_total, &pages_rss) != 2)
        pages_rss = 0;
    fclose(f);
    return pages_rss * sysconf(_SC_PAGESIZE);
}

int util_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void util_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

double util_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double util_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void util_format_time(double epoch, char out[32])
{
    time_t secs = (time_t)epoch;
    int ms = (int)((epoch - (double)secs) * 1000.0);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (ms < 0 || ms > 999)
        ms = 0;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", ms % 1000);
}

void util_exec_with_env_defaults(char **argv, const char *const *defaults, size_t n)
{
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(defaults[i], '=');
        if (eq == NULL)
            continue;
        char name[64];
        size_t len = (size_t)(eq - defaults[i]);
        if (len >= sizeof(name))
            continue;
        memcpy(name, defaults[i], len);
        name[len] = '\0';
        if (getenv(name) == NULL && setenv(name, eq + 1, 1) == 0)
            missing = 1;
    }
    if (!missing)
        return;
    /* The real path, not /proc/self/exe, so that ps and top keep the name. */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0)
        return;
    self[len] = '\0';
    execv(self, argv);
}

int util_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned int cp;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}
