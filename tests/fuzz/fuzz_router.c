/*
 * fuzz_router.c — router_match and router_percent_decode on a small static
 * table.
 *
 * The first input byte picks a method (or is ignored for a raw one), the
 * rest is the raw request path. A match must capture exactly as many
 * parameters as its pattern has {name} segments, each a readable, non-empty
 * string without '/' unless it was percent-encoded; a 405 must come with
 * an Allow list. The whole input is also percent-decoded both ways, and
 * the result must never be longer than the input.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "fcgi/router.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int handler(request_t *r)
{
    (void)r;
    return 0;
}

static const route_t table[] = {
    {"GET", "/health", handler, 0, DIALECT_PLAIN, ROUTE_NO_DB, NULL, 0},
    {"POST", "/api/v1/models/train", handler, 1 << 20, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},
    {"GET", "/api/v1/models/train/{task_id}/status", handler, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL,
     0},
    {"GET", "/trainings/count", handler, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"GET", "/trainings/{id}", handler, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"PUT", "/trainings/{id}", handler, 4096, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"DELETE", "/trainings/{id}", handler, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"POST", "/train/{workspace}", handler, 1 << 20, DIALECT_WORKSPACE, ROUTE_STREAM_BODY, NULL,
     0},
    {"GET", "/train/{workspace}/{job_id}", handler, 0, DIALECT_WORKSPACE, 0, NULL, 0},
    {"DELETE", "/train/{workspace}/{job_id}", handler, 0, DIALECT_WORKSPACE, 0, NULL, 0},
    {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", handler, 0, DIALECT_PLAIN, 0, NULL, 0},
};

static int count_params(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; (p = strchr(p, '{')) != NULL; p++)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get",
                                          ""};
    static arena_t *arena;
    if (arena == NULL)
        arena = arena_create(4096);
    if (size == 0 || size > 8192)
        return 0;

    const char *method = methods[data[0] % 8];
    char *path = arena_strndup(arena, (const char *)data + 1, size - 1);
    const route_t *route = (const route_t *)1;
    const char *params[8] = {0};
    int n_params = -1;
    const char *allow = NULL;
    dialect_t dialect = (dialect_t)-1;
    router_result_t rc = router_match(table, sizeof(table) / sizeof(table[0]), method, path, arena,
                                      &route, params, &n_params, &allow, &dialect);
    FUZZ_CHECK(dialect >= DIALECT_AKKIO && dialect <= DIALECT_PLAIN, "dialect %d", (int)dialect);
    if (rc == ROUTER_FOUND) {
        FUZZ_CHECK(route >= table && route < table + sizeof(table) / sizeof(table[0]), "route");
        FUZZ_CHECK(strcmp(route->method, method) == 0 ||
                       (strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0),
                   "%s matched a %s route", method, route->method);
        int want = count_params(route->pattern);
        FUZZ_CHECK(n_params == (want > 8 ? 8 : want), "%d params for %s", n_params,
                   route->pattern);
        for (int i = 0; i < n_params; i++) {
            FUZZ_CHECK(params[i] != NULL && params[i][0] != '\0', "empty param %d", i);
            FUZZ_CHECK(strlen(params[i]) <= strlen(path), "param longer than the path");
        }
    } else {
        FUZZ_CHECK(rc == ROUTER_NOT_FOUND || rc == ROUTER_METHOD_NOT_ALLOWED, "rc %d", (int)rc);
        FUZZ_CHECK(route == NULL, "route set on %d", (int)rc);
        if (rc == ROUTER_METHOD_NOT_ALLOWED)
            FUZZ_CHECK(allow != NULL && allow[0] != '\0', "405 without Allow");
    }

    for (int plus = 0; plus <= 1; plus++) {
        char *dec = router_percent_decode(arena, (const char *)data, size, plus);
        if (dec == NULL)
            continue;
        FUZZ_CHECK(strlen(dec) <= size, "decoded longer than the input");
        FUZZ_CHECK(memchr(data, '\0', size) == NULL, "a NUL byte was accepted");
        if (memchr(data, '%', size) == NULL && (!plus || memchr(data, '+', size) == NULL))
            FUZZ_CHECK(strlen(dec) == size && memcmp(dec, data, size) == 0,
                       "plain text changed by decoding");
    }
    arena_reset(arena);
    return 0;
}
