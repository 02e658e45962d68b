/*
 * fuzz_rowcsv.c — the plain CSV record reader (ml/rowcsv.c) against the
 * general path, on arbitrary records.
 *
 * Input: records split at 0x1e, cells at 0x1f (a cell may hold any other
 * byte, NUL included); the first record is the header. A header the map
 * refuses must lack one of the plan's fields or name one twice. For every
 * record rowcsv_read calls plain, the general path (handlers/batch.c: a
 * missing cell null, any other cell a JSON string, read by ml/model.c
 * through enc_value_from_text on the C string) must read the same floats,
 * bit for bit, and the input check must find nothing: each category text
 * exactly one of its levels, no padding.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "ml/csv.h"
#include "ml/encode.h"
#include "ml/keyorder.h"
#include "ml/rowcsv.h"
#include "tests/fuzz/fuzz_plan.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char FEATURES[] =
    "[{\"name\":\"a\",\"kind\":\"number\"},{\"name\":\"b\",\"kind\":\"boolean\"},"
    "{\"name\":\"c\",\"kind\":\"category\",\"levels\":[\"x\",\"y z\",\"NA\",\"X\"],"
    "\"other\":true}]";

static enc_plan_t plan;
static keyorder_t *keys;

static void setup(void)
{
    fuzz_plan_setup(FEATURES, &plan, &keys);
}

#define MAX_CELLS 16

/* The cells of the record at data[*at..], up to the next 0x1e. */
static size_t split(const uint8_t *data, size_t size, size_t *at, csv_cell_t *cells)
{
    size_t n = 0, start = *at, i = *at;
    for (; i <= size; i++) {
        if (i == size || data[i] == 0x1e || data[i] == 0x1f) {
            if (n < MAX_CELLS)
                cells[n++] = (csv_cell_t){.ptr = (const char *)data + start, .len = i - start};
            start = i + 1;
            if (i == size || data[i] == 0x1e)
                break;
        }
    }
    *at = i + 1;
    return n;
}

static int same(float x, float y)
{
    return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof(x)) == 0;
}

/* The general path's float for one non-missing cell, and whether the input
 * check passes it. */
static float general(const enc_feature_t *f, const char *p, size_t len)
{
    char *s = strndup(p, len); /* the JSON string, as json-c's C string */
    FUZZ_CHECK(s != NULL && strlen(s) == len, "a cell with a NUL read as plain");
    float out = NAN;
    FUZZ_CHECK(enc_value_from_text(f, s, len, &out) == 0, "\"%s\" refused by the general path",
               s);
    if (f->kind == ENC_CATEGORY) {
        FUZZ_CHECK(out < (float)f->n_levels && strcmp(f->levels[(size_t)out], s) == 0,
                   "\"%s\" read as level %g: the check tells of it", s, (double)out);
    }
    free(s);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    csv_cell_t cells[MAX_CELLS];
    size_t at = 0;
    size_t nh = split(data, size, &at, cells);
    char *names[MAX_CELLS];
    for (size_t i = 0; i < nh; i++)
        names[i] = strndup(cells[i].ptr, cells[i].len);
    rowcsv_map_t *map = rowcsv_map_new(&plan, keys, names, nh);
    /* Which column each field of the plan is in (the JSON row keeps the
     * last); names are read up to a NUL, as batch.c copies them. */
    long col[3] = {-1, -1, -1};
    int twice = 0;
    for (size_t i = 0; i < nh; i++)
        for (size_t j = 0; j < plan.n; j++)
            if (strcmp(names[i], plan.f[j].name) == 0) { /* C strings, as batch.c has them */
                twice |= col[j] >= 0;
                col[j] = (long)i;
            }
    int complete = col[0] >= 0 && col[1] >= 0 && col[2] >= 0;
    if (map == NULL) {
        FUZZ_CHECK(!complete || twice, "a header with each field once refused");
    } else {
        FUZZ_CHECK(complete && !twice, "a header without each field once mapped");
        FUZZ_CHECK(rowcsv_width(map) == plan.n, "width");
        while (at <= size) {
            csv_cell_t rec[MAX_CELLS];
            size_t n = split(data, size, &at, rec);
            float x[3];
            if (!rowcsv_read(map, rec, n, x))
                continue;
            FUZZ_CHECK(n == nh, "a record of %zu cells under %zu columns read", n, nh);
            for (size_t j = 0; j < plan.n; j++) {
                const csv_cell_t *c = &rec[col[j]];
                float want = csv_cell_is_missing(c->ptr, c->len)
                                 ? NAN
                                 : general(&plan.f[j], c->ptr, c->len);
                FUZZ_CHECK(same(want, x[j]), "field %s: %.9g, general %.9g", plan.f[j].name,
                           (double)x[j], (double)want);
            }
        }
    }
    rowcsv_map_free(map);
    for (size_t i = 0; i < nh; i++)
        free(names[i]);
    return 0;
}
