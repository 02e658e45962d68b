/*
 * fuzz_json.c — body_decode_json on arbitrary bytes.
 *
 * Each input is decoded twice: with the default limits, and with tight ones
 * whose enforcement is then checked on the tree that comes back (nesting
 * and field count), since a limit that json-c's tokenizer and our own walk
 * count differently is exactly the kind of gap a fuzzer finds.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi/body.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size, const body_limits_t *lim)
{
    json_object *out = NULL;
    err_t e;
    err_clear(&e);
    int rc = body_decode_json((const char *)data, size, lim, &out, &e);
    if (rc < 0) {
        fuzz_check_err(&e, "json");
        FUZZ_CHECK(out == NULL, "tree returned with an error");
        return;
    }
    FUZZ_CHECK(rc == 0 && out != NULL, "rc %d", rc);
    FUZZ_CHECK(size <= lim->max_bytes, "%zu bytes accepted", size);
    long fields = 0;
    int depth = fuzz_tree_measure(out, &fields);
    FUZZ_CHECK(depth <= lim->max_depth + 1, "depth %d past %d", depth, lim->max_depth);
    FUZZ_CHECK(fields <= lim->max_fields, "%ld fields past %d", fields, lim->max_fields);
    const char *text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    FUZZ_CHECK(text != NULL, "unserialisable tree");
    json_object_put(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const body_limits_t tight = {.max_bytes = 4096, .max_depth = 4, .max_fields = 50};
    decode(data, size, &body_limits_default);
    decode(data, size, &tight);
    return 0;
}
