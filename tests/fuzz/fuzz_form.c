/*
 * fuzz_form.c — body_decode_form on arbitrary bytes.
 *
 * Form bodies are percent-decoded by hand, "k[]" and repeated keys build
 * arrays, and a body starting with '{' is handed to the JSON decoder; all
 * of it runs here under the default and under tight limits.
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
    if (body_decode_form((const char *)data, size, lim, &out, &e) < 0) {
        fuzz_check_err(&e, "form");
        FUZZ_CHECK(out == NULL, "tree returned with an error");
        return;
    }
    FUZZ_CHECK(out != NULL && json_object_is_type(out, json_type_object),
               "form must decode to an object");
    long fields = 0;
    int depth = fuzz_tree_measure(out, &fields);
    FUZZ_CHECK(depth <= lim->max_depth + 1, "depth %d", depth);
    /* The cap counts (name, value) pairs; a repeated name becomes one key
     * plus an array of values, so the tree may hold up to twice as many. */
    FUZZ_CHECK(fields <= 2L * lim->max_fields, "%ld fields past %d", fields, lim->max_fields);
    FUZZ_CHECK(json_object_to_json_string(out) != NULL, "unserialisable tree");
    json_object_put(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const body_limits_t tight = {.max_bytes = 4096, .max_depth = 4, .max_fields = 20};
    decode(data, size, &body_limits_default);
    decode(data, size, &tight);
    return 0;
}
