/*
 * fuzz_bundle.c — bundle_inspect on arbitrary bytes.
 *
 * The input is the (compressed or plain) archive, pulled through the read
 * callback in chunks seeded from its first two bytes, under small limits so
 * that the caps are reached. When a bundle is accepted, extracting its
 * dataset must succeed and yield exactly dataset_bytes bytes, and the sizes
 * reported must respect the limits. The same bytes also go through
 * kaos_bundle_scan as one of KAOS's three kinds (picked by the seed): an
 * error is a 400 or 413, a code or data bundle's root is one plain folder
 * name, a params bundle lists its files. Bytes that begin a JSON object go
 * through kaos_params_grid (KAOS's hyperparameter grid): an error is a 400
 * or 413 and returns no runs; a grid makes 1 to KAOS_GRID_MAX_RUNS runs of
 * as many parameters as it has, and its zip scans as a params bundle of
 * that many files (or is refused, two values having made one file name).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "bundle/kaos.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const bundle_limits_t limits = {
    .max_entries = 64, .max_total = 4u << 20, .max_ratio = 200.0, .max_spec_bytes = 4096};

typedef struct src {
    const uint8_t *data;
    size_t size, off;
    fuzz_chunker_t chunks;
} src_t;

static ssize_t src_read(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)e;
    src_t *s = ctx;
    size_t k = fuzz_chunk_next(&s->chunks, s->size - s->off);
    if (k > n)
        k = n;
    memcpy(buf, s->data + s->off, k);
    s->off += k;
    return (ssize_t)k;
}

static ssize_t fuzz_file_read(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)e;
    return (ssize_t)fread(buf, 1, n, (FILE *)ctx);
}

static int count_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    (void)e;
    unsigned long long *count = ctx;
    volatile unsigned char touch = ((const unsigned char *)buf)[n - 1];
    (void)touch;
    *count += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed = size >= 2 ? (uint32_t)(data[0] | data[1] << 8) : 3;
    src_t s = {data, size, 0, {seed}};
    err_t e;
    src_t sk = {data, size, 0, {seed ^ 0x5a5a}};
    kaos_kind_t kind = (kaos_kind_t)(seed % 3);
    kaos_scan_t scan;
    err_clear(&e);
    if (kaos_bundle_scan(src_read, &sk, kind, &scan, &e) < 0) {
        fuzz_check_err(&e, "kaos_bundle_scan");
        FUZZ_CHECK(e.status == 400 || e.status == 413, "kaos status %d", e.status);
    } else {
        if (kind != KAOS_PARAMS && !scan.spec_bundle)
            FUZZ_CHECK(scan.root[0] != '\0' && strchr(scan.root, '/') == NULL &&
                           strcmp(scan.root, "..") != 0 && strcmp(scan.root, ".") != 0,
                       "kaos root \"%s\"", scan.root);
        if (kind == KAOS_PARAMS)
            FUZZ_CHECK(scan.files != NULL && json_object_array_length(scan.files) > 0,
                       "params without files");
        json_object_put(scan.files);
        json_object_put(scan.folders);
    }
    if (kaos_params_is_grid((const char *)data, size)) {
        json_object *runs;
        FILE *zip = tmpfile();
        err_clear(&e);
        if (kaos_params_grid((const char *)data, size, "g", zip, &runs, &e) < 0) {
            fuzz_check_err(&e, "kaos_params_grid");
            FUZZ_CHECK(e.status == 400 || e.status == 413, "grid status %d", e.status);
            FUZZ_CHECK(runs == NULL, "runs returned with an error");
        } else {
            size_t n = json_object_array_length(runs);
            FUZZ_CHECK(n >= 1 && n <= KAOS_GRID_MAX_RUNS, "%zu runs", n);
            int empty = json_object_object_length(json_object_array_get_idx(runs, 0)) == 0;
            if (zip != NULL && !empty) {
                rewind(zip);
                kaos_scan_t gs;
                err_clear(&e);
                if (kaos_bundle_scan(fuzz_file_read, zip, KAOS_PARAMS, &gs, &e) == 0) {
                    FUZZ_CHECK(json_object_array_length(gs.files) == n, "grid of %zu runs "
                               "scanned as %zu files", n, json_object_array_length(gs.files));
                    json_object_put(gs.files);
                    json_object_put(gs.folders);
                } else {
                    FUZZ_CHECK(strstr(err_message(&e), "Duplicate") != NULL ||
                                   strstr(err_message(&e), "larger than") != NULL ||
                                   e.status == 413 || strstr(err_message(&e), "entries") != NULL,
                               "grid zip refused: %s", err_message(&e));
                }
            }
            json_object_put(runs);
        }
        if (zip != NULL)
            fclose(zip);
    }
    bundle_info_t info;
    err_clear(&e);
    if (bundle_inspect(src_read, &s, &limits, &info, &e) < 0) {
        fuzz_check_err(&e, "bundle_inspect");
        FUZZ_CHECK(info.spec == NULL, "spec returned with an error");
        FUZZ_CHECK(e.status == 400 || e.status == 413, "status %d", e.status);
        return 0;
    }
    FUZZ_CHECK(info.spec != NULL && json_object_is_type(info.spec, json_type_object), "spec");
    FUZZ_CHECK(s.off == size, "inspection left %zu bytes unread", size - s.off);
    FUZZ_CHECK(info.entries >= 1 && info.entries <= limits.max_entries, "%zu entries",
               info.entries);
    FUZZ_CHECK(info.total_bytes <= limits.max_total, "%llu bytes", info.total_bytes);
    FUZZ_CHECK(info.dataset_bytes <= info.total_bytes, "dataset larger than the total");
    FUZZ_CHECK(info.compressed_bytes == size, "compressed %llu of %zu", info.compressed_bytes,
               size);
    FUZZ_CHECK(info.dataset_path[0] != '\0' && info.dataset_path[0] != '/', "dataset path");
    for (const char *p = info.dataset_path; p != NULL; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
        FUZZ_CHECK(strncmp(p, "../", 3) != 0 && strcmp(p, "..") != 0, "dataset path %s",
                   info.dataset_path);
    json_object_put(info.spec);

    src_t s2 = {data, size, 0, {seed ^ 0x3c3c}};
    unsigned long long got = 0;
    err_clear(&e);
    FUZZ_CHECK(bundle_extract(src_read, &s2, &limits, info.dataset_path, count_sink, &got, &e) ==
                   0,
               "extracting an inspected dataset failed: %s", err_message(&e));
    FUZZ_CHECK(got == info.dataset_bytes, "extracted %llu of %llu bytes", got,
               info.dataset_bytes);
    return 0;
}
