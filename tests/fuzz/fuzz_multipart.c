/*
 * fuzz_multipart.c — the streaming multipart parser, fed in random-sized
 * chunks, and body_decode_multipart on the same bytes.
 *
 * The boundary comes from a fixed Content-Type; the input is the body. The
 * first two input bytes seed the chunk sizes (the body is the whole input,
 * so the fuzzer's seeds stay plain multipart text). The parser is run twice,
 * once fed whole and once in chunks, recording every callback: the
 * callbacks must nest (begin, data..., end), and when both runs succeed they
 * must have seen the same parts with the same bytes, since a boundary
 * straddling two chunks must not change what a part holds.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi/body.h"
#include "fcgi/multipart.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONTENT_TYPE "multipart/form-data; boundary=----trainyardXyZ"
#define MAX_PARTS 16

typedef struct run {
    fuzz_log_t log;
    int in_part;
    size_t parts;
    size_t data_bytes;
} run_t;

static int on_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                    err_t *e)
{
    (void)e;
    run_t *r = ctx;
    FUZZ_CHECK(!r->in_part, "part_begin inside a part");
    r->in_part = 1;
    r->parts++;
    FUZZ_CHECK(r->parts <= MAX_PARTS, "%zu parts past the cap", r->parts);
    fuzz_log_put(&r->log, "B", 1);
    fuzz_log_str(&r->log, name);
    fuzz_log_str(&r->log, filename);
    fuzz_log_str(&r->log, ctype);
    return 0;
}

static int on_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    (void)e;
    run_t *r = ctx;
    FUZZ_CHECK(r->in_part, "part_data outside a part");
    r->data_bytes += n;
    fuzz_log_put(&r->log, buf, n); /* pieces merge: their cuts may differ */
    return 0;
}

static int on_end(void *ctx, err_t *e)
{
    (void)e;
    run_t *r = ctx;
    FUZZ_CHECK(r->in_part, "part_end outside a part");
    r->in_part = 0;
    fuzz_log_put(&r->log, "\0E", 2);
    return 0;
}

static const multipart_callbacks_t callbacks = {on_begin, on_data, on_end};

/* Returns 0 if the body parsed and finished cleanly. */
static int run_parser(const uint8_t *data, size_t size, fuzz_chunker_t *chunks, run_t *r)
{
    err_t e;
    err_clear(&e);
    memset(r, 0, sizeof(*r));
    multipart_t *mp = multipart_new(CONTENT_TYPE, &callbacks, r, MAX_PARTS, 1024, &e);
    FUZZ_CHECK(mp != NULL, "fixed content type refused: %s", err_message(&e));
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = chunks ? fuzz_chunk_next(chunks, size - off) : size - off;
        rc = multipart_feed(mp, (const char *)data + off, n, &e);
        off += n;
    }
    if (rc == 0)
        rc = multipart_finish(mp, &e);
    if (rc < 0)
        fuzz_check_err(&e, "multipart");
    else
        FUZZ_CHECK(!r->in_part, "finished inside a part");
    multipart_free(mp);
    FUZZ_CHECK(r->data_bytes <= size, "%zu data bytes from a %zu-byte body", r->data_bytes,
               size);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    run_t whole, cut;
    fuzz_chunker_t chunks = {size >= 2 ? (uint32_t)(data[0] | data[1] << 8) : 1};
    int rc_whole = run_parser(data, size, NULL, &whole);
    int rc_cut = run_parser(data, size, &chunks, &cut);
    FUZZ_CHECK(rc_whole == rc_cut, "whole %d, chunked %d", rc_whole, rc_cut);
    if (rc_whole == 0)
        FUZZ_CHECK(fuzz_log_eq(&whole.log, &cut.log), "chunking changed the parts");
    fuzz_log_free(&whole.log);
    fuzz_log_free(&cut.log);

    json_object *out = NULL;
    err_t e;
    err_clear(&e);
    if (body_decode_multipart((const char *)data, size, CONTENT_TYPE, &body_limits_default, &out,
                              &e) < 0) {
        fuzz_check_err(&e, "body_decode_multipart");
        FUZZ_CHECK(out == NULL, "tree returned with an error");
    } else {
        FUZZ_CHECK(out != NULL && json_object_is_type(out, json_type_object), "not an object");
        FUZZ_CHECK(json_object_to_json_string(out) != NULL, "unserialisable tree");
        json_object_put(out);
    }
    return 0;
}
