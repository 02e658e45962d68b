/*
 * fuzz_bodyscan.c — the byte-by-byte body scanner on arbitrary bytes.
 *
 * The first input byte picks the format (JSON, form, XML). Each input is
 * scanned whole and in fuzzer-chosen chunks: both runs must agree on the
 * count, the verdict and the key found. For JSON that the decoder accepts,
 * the scan's field count must be at least the decoder's own count of
 * members and items (equal but for duplicate keys, which json-c folds), so
 * that the early refusal never lets through what the decoder would refuse.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi/body.h"
#include "fcgi/bodyscan.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(bodyscan_t *s, body_format_t f, const body_limits_t *lim, const uint8_t *data,
               size_t size, uint32_t seed)
{
    bodyscan_init(s, f, lim, "api_key");
    fuzz_chunker_t ch = {.state = seed};
    int rc = 0;
    for (size_t off = 0; off < size;) {
        size_t n = seed == 0 ? size - off : fuzz_chunk_next(&ch, size - off);
        rc = bodyscan_feed(s, (const char *)data + off, n);
        off += n;
    }
    if (size == 0)
        rc = bodyscan_feed(s, "", 0);
    bodyscan_finish(s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const body_format_t formats[] = {BODY_JSON, BODY_FORM, BODY_XML};
    body_format_t f = formats[data[0] % 3];
    uint32_t seed = data[1] | 1u;
    data += 2;
    size -= 2;
    static const body_limits_t tight = {.max_bytes = 1 << 20, .max_depth = 4, .max_fields = 50};
    const body_limits_t *lims[] = {&body_limits_default, &tight};
    for (size_t i = 0; i < 2; i++) {
        bodyscan_t whole, parts;
        int a = run(&whole, f, lims[i], data, size, 0);
        int b = run(&parts, f, lims[i], data, size, seed);
        FUZZ_CHECK(a == b, "verdict %d whole, %d in chunks", a, b);
        FUZZ_CHECK(whole.problem != BODYSCAN_OK || whole.fields == parts.fields,
                   "fields %ld whole, %ld in chunks", whole.fields, parts.fields);
        const char *k1 = bodyscan_found(&whole), *k2 = bodyscan_found(&parts);
        FUZZ_CHECK((k1 == NULL) == (k2 == NULL) && (k1 == NULL || strcmp(k1, k2) == 0),
                   "key differs between runs");
        FUZZ_CHECK(k1 == NULL || strlen(k1) < BODYSCAN_VALUE_MAX, "key too long");
        if (f != BODY_JSON || a != 0)
            continue;
        json_object *out = NULL;
        err_t e;
        err_clear(&e);
        if (body_decode_json((const char *)data, size, lims[i], &out, &e) == 0) {
            long fields = 0;
            fuzz_tree_measure(out, &fields);
            FUZZ_CHECK(fields <= whole.fields, "decoder counts %ld, scan %ld", fields,
                       whole.fields);
            json_object_put(out);
        }
    }
    return 0;
}
