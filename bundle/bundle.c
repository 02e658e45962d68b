/*
 * bundle.c — inspecting and extracting source bundles (see bundle.h).
 *
 * A bundle arrives as an untrusted stream: the API inspects it while the
 * request body is being copied into PostgreSQL, and a trainer later pulls
 * one CSV out of the stored copy. Both go through the same walk over
 * libarchive's streaming reader, fed by the caller's bundle_read_fn through
 * our own read callback, so nothing is ever written to disk and the only
 * memory held is one compressed chunk, libarchive's window and (during
 * inspection) trainyard.json plus the set of paths seen.
 *
 * Accepted: tar (ustar, pax, GNU, v7), optionally gzip- or xz-compressed,
 * and zip (KAOS's client zips a folder). Zip is read as a stream, by its
 * local headers, so that it passes the same walk as tar; its central
 * directory (at the end) is never consulted. What a zip claims there cannot
 * disagree with what we use, because inspection and every later extraction
 * read the same local headers with the same reader; a local header carries
 * no file type, so an entry zipped from a symlink is at worst a regular file
 * holding the link's text, never a link. No filter that shells out to an
 * external program is ever enabled (the API runs in prefork workers).
 *
 * Every entry must be a regular file or a directory (no symlinks, hard
 * links, devices, fifos or sockets) with a relative path of plain UTF-8
 * segments: no leading '/', no ".." segment, no backslash, no control
 * character. "./" prefixes, "." segments and doubled slashes are dropped
 * when paths are normalised, so "./data/x.csv" and "data//x.csv" are the
 * same file; two entries with the same normalised path are refused rather
 * than letting the later one win, because inspection and extraction must
 * agree on which bytes a path means.
 *
 * Sizes are counted from the data libarchive actually hands back, never
 * from the header's claim: the total is capped (max_total), and so is its
 * ratio to the compressed bytes pulled so far (max_ratio). The ratio is only
 * enforced past BUNDLE_RATIO_FLOOR of output, so a small, repetitive but
 * honest bundle is not mistaken for a bomb; a bomb still stops within
 * floor + ratio x compressed bytes.
 *
 * Limits of 0 (or a NULL limits pointer) mean the defaults.
 */
#include "bundle/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define BUNDLE_CHUNK (64 * 1024)          /* compressed bytes pulled per read */
#define BUNDLE_RATIO_FLOOR (1ULL << 20)   /* output below which the ratio is not checked */
#define BUNDLE_PATH_MAX 512               /* == sizeof(bundle_info_t.dataset_path) */
#define BUNDLE_SPEC_NAME "trainyard.json"
#define BUNDLE_SPEC_DEPTH 32

const bundle_limits_t bundle_limits_default = {
    .max_entries = 1000,
    .max_total = 2ULL << 30,
    .max_ratio = 200.0,
    .max_spec_bytes = 64 * 1024,
};

/* --- the compressed stream ------------------------------------------------ */

typedef struct bundle_src {
    bundle_read_fn read_fn;
    void *ctx;
    unsigned long long compressed;  /* bytes handed to libarchive so far */
    int failed;                     /* read_fn returned -1: err holds its error */
    err_t err;
    unsigned char buf[BUNDLE_CHUNK];
} bundle_src_t;

static la_ssize_t src_read(struct archive *a, void *p, const void **out)
{
    bundle_src_t *src = p;
    if (src->failed)
        return -1;
    ssize_t n = src->read_fn(src->ctx, src->buf, sizeof(src->buf), &src->err);
    if (n < 0 || (size_t)n > sizeof(src->buf)) {
        if (n >= 0 || src->err.status == 0)
            err_set(&src->err, 400, "bundle_invalid", "could not read the bundle");
        src->failed = 1;
        archive_set_error(a, -1 /* "misc", as libarchive itself uses */, "read callback failed");
        return -1;
    }
    src->compressed += (unsigned long long)n;
    *out = src->buf;
    return n;
}

/* --- paths ---------------------------------------------------------------- */

/* Copies raw into out for messages: at most ~200 bytes, control bytes as '?'. */
static void name_for_message(const char *raw, char out[208])
{
    size_t i = 0;
    for (; raw != NULL && raw[i] != '\0' && i < 200; i++) {
        unsigned char c = (unsigned char)raw[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    out[i] = '\0';
    if (raw != NULL && raw[i] != '\0')
        memcpy(out + i, "...", 4);
}

/* Normalises a bundle-relative path into out (n bytes). Returns NULL on
 * success or the reason the path is refused. An empty result means the
 * bundle's root ("./"). */
static const char *path_normalise(const char *raw, char *out, size_t n)
{
    size_t len = strlen(raw);
    if (len == 0)
        return "empty path";
    if (len >= n)
        return "path too long";
    if (raw[0] == '/')
        return "absolute path";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\\')
            return "backslash in path";
        if (c < 0x20 || c == 0x7f)
            return "control character in path";
    }
    if (!util_utf8_valid(raw, len))
        return "path is not UTF-8";

    size_t o = 0;
    const char *p = raw;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t seg = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return "path escapes the bundle";
        if (!(seg == 0 || (seg == 1 && p[0] == '.'))) {
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, seg); /* o + seg <= len < n */
            o += seg;
        }
        p += seg;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
    return NULL;
}

/* --- the set of paths seen (inspection) ------------------------------------ */

typedef struct path_slot {
    char *path;                     /* NULL = empty slot */
    unsigned long long bytes;
    int is_dir;
} path_slot_t;

typedef struct path_set {
    path_slot_t *slots;
    size_t cap;                     /* power of two */
    size_t used;
} path_set_t;

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static path_slot_t *path_set_find(const path_set_t *set, const char *path)
{
    if (set->cap == 0)
        return NULL;
    for (size_t i = path_hash(path) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (set->slots[i].path == NULL)
            return NULL;
        if (strcmp(set->slots[i].path, path) == 0)
            return &set->slots[i];
    }
}

static void path_set_place(path_set_t *set, path_slot_t slot)
{
    size_t i = path_hash(slot.path) & (set->cap - 1);
    while (set->slots[i].path != NULL)
        i = (i + 1) & (set->cap - 1);
    set->slots[i] = slot;
}

/* Adds path (absent from the set) and returns its slot. Aborts on OOM, as
 * the arena does. */
static path_slot_t *path_set_add(path_set_t *set, const char *path, int is_dir)
{
    if ((set->used + 1) * 2 > set->cap) {
        path_set_t grown = {calloc(set->cap ? set->cap * 2 : 64, sizeof(path_slot_t)),
                            set->cap ? set->cap * 2 : 64, set->used};
        if (grown.slots == NULL)
            abort();
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots[i].path != NULL)
                path_set_place(&grown, set->slots[i]);
        free(set->slots);
        *set = grown;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        abort();
    path_set_place(set, (path_slot_t){copy, 0, is_dir});
    set->used++;
    return path_set_find(set, path);
}

static void path_set_free(path_set_t *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i].path);
    free(set->slots);
    set->slots = NULL;
    set->cap = set->used = 0;
}

int bundle_archive_formats(struct archive *a)
{
    /* ARCHIVE_WARN here would mean an external program: refuse to run one. */
    return archive_read_support_filter_gzip(a) == ARCHIVE_OK &&
                   archive_read_support_filter_xz(a) == ARCHIVE_OK &&
                   archive_read_support_format_tar(a) == ARCHIVE_OK &&
                   archive_read_support_format_zip_streamable(a) == ARCHIVE_OK
               ? 0
               : -1;
}

/* --- the walk shared by inspection and extraction -------------------------- */

typedef struct walk {
    struct archive *a;
    bundle_src_t *src;
    bundle_limits_t lim;
    size_t entries;
    unsigned long long total;       /* uncompressed data bytes read so far */
    char raw[208];                  /* current entry's name, for messages */
    char path[BUNDLE_PATH_MAX];     /* current entry's normalised path */
    int is_dir;
} walk_t;

typedef int (*walk_sink_fn)(void *ctx, const void *buf, size_t n, err_t *e);

static void limits_resolve(const bundle_limits_t *in, bundle_limits_t *out)
{
    *out = bundle_limits_default;
    if (in == NULL)
        return;
    if (in->max_entries > 0)
        out->max_entries = in->max_entries;
    if (in->max_total > 0)
        out->max_total = in->max_total;
    if (in->max_ratio > 0)
        out->max_ratio = in->max_ratio;
    if (in->max_spec_bytes > 0)
        out->max_spec_bytes = in->max_spec_bytes;
}

/* Copies the read callback's error into e (it outranks libarchive's text). */
static int walk_fail_archive(walk_t *w, const char *what, err_t *e)
{
    if (w->src->failed) {
        for (int i = 0; i < w->src->err.count; i++) {
            const err_item_t *it = &w->src->err.items[i];
            err_add(e, w->src->err.status, it->code, it->field, "%s", it->message);
        }
        if (w->src->err.count == 0)
            err_set(e, w->src->err.status, "bundle_invalid", "could not read the bundle");
        return -1;
    }
    const char *msg = archive_error_string(w->a);
    if (msg == NULL)
        msg = "unreadable archive";
    if (w->entries == 0)
        return err_set(e, 400, "bundle_invalid", "not a zip or tar archive (zip, tar, tar.gz, tar.xz): %s",
                       msg);
    return err_set(e, 400, "bundle_invalid", "entry \"%s\": %s: %s", w->raw, what, msg);
}

static int walk_open(walk_t *w, bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                     err_t *e)
{
    memset(w, 0, sizeof(*w));
    limits_resolve(lim, &w->lim);
    w->src = calloc(1, sizeof(*w->src));
    w->a = archive_read_new();
    if (w->src == NULL || w->a == NULL) {
        free(w->src);
        if (w->a != NULL)
            archive_read_free(w->a);
        w->src = NULL;
        w->a = NULL;
        return err_set(e, 500, "internal", "bundle reader: out of memory");
    }
    w->src->read_fn = read_fn;
    w->src->ctx = ctx;
    if (bundle_archive_formats(w->a) != 0)
        return err_set(e, 500, "internal", "bundle reader: libarchive lacks gzip, xz or tar");
    if (archive_read_open(w->a, w->src, NULL, src_read, NULL) != ARCHIVE_OK)
        return walk_fail_archive(w, "open", e);
    return 0;
}

static void walk_close(walk_t *w)
{
    if (w->a != NULL)
        archive_read_free(w->a);
    free(w->src);
    w->a = NULL;
    w->src = NULL;
}

/* Moves to the next entry and validates it. Returns 1 with w->path set, 0 at
 * the end of the archive, -1 with e filled. */
static int walk_next(walk_t *w, err_t *e)
{
    struct archive_entry *ent;
    int rc = archive_read_next_header(w->a, &ent);
    if (rc == ARCHIVE_EOF)
        return 0;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return walk_fail_archive(w, "bad header", e);

    w->entries++;
    if (w->entries > w->lim.max_entries)
        return err_set(e, 413, "too_large", "bundle has more than %zu entries",
                       w->lim.max_entries);

    const char *raw = archive_entry_pathname(ent);
    if (raw == NULL)
        return err_set(e, 400, "bundle_invalid", "entry #%zu: unreadable path", w->entries);
    name_for_message(raw, w->raw);

    mode_t type = archive_entry_filetype(ent);
    if (archive_entry_symlink(ent) != NULL || type == AE_IFLNK)
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": symbolic links are not allowed",
                       w->raw);
    if (archive_entry_hardlink(ent) != NULL)
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": hard links are not allowed",
                       w->raw);
    if (type != AE_IFREG && type != AE_IFDIR)
        return err_set(e, 400, "bundle_invalid",
                       "entry \"%s\": only regular files and directories are allowed", w->raw);

    const char *why = path_normalise(raw, w->path, sizeof(w->path));
    if (why != NULL)
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": %s", w->raw, why);
    w->is_dir = type == AE_IFDIR;
    if (!w->is_dir && w->path[0] == '\0')
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": empty path", w->raw);
    return 1;
}

/* Reads the current entry's data to its end, counting it against the limits
 * and handing each piece to sink (NULL discards). *bytes gets the entry's
 * size as read. */
static int walk_data(walk_t *w, walk_sink_fn sink, void *sink_ctx, unsigned long long *bytes,
                     err_t *e)
{
    char buf[16 * 1024];
    unsigned long long n_entry = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(w->a, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0)
            return walk_fail_archive(w, "bad data", e);
        n_entry += (unsigned long long)n;
        w->total += (unsigned long long)n;
        if (w->total > w->lim.max_total)
            return err_set(e, 413, "too_large",
                           "entry \"%s\": bundle expands to more than %llu bytes", w->raw,
                           w->lim.max_total);
        if (w->total > BUNDLE_RATIO_FLOOR &&
            (double)w->total > w->lim.max_ratio * (double)w->src->compressed)
            return err_set(e, 413, "too_large",
                           "entry \"%s\": bundle expands more than %.0f times its compressed size",
                           w->raw, w->lim.max_ratio);
        if (sink != NULL && sink(sink_ctx, buf, (size_t)n, e) < 0)
            return -1;
    }
    if (bytes != NULL)
        *bytes = n_entry;
    return 0;
}

/* --- inspection ------------------------------------------------------------ */

typedef struct spec_buf {
    char *data;
    size_t len;
    size_t max;
    const char *raw;                /* entry name for messages */
} spec_buf_t;

static int spec_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    spec_buf_t *sb = ctx;
    if (n > sb->max - sb->len)
        return err_set(e, 413, "too_large", "entry \"%s\": larger than %zu bytes", sb->raw,
                       sb->max);
    memcpy(sb->data + sb->len, buf, n);
    sb->len += n;
    return 0;
}

/* Parses trainyard.json and checks the fields bundle.h promises; the dataset
 * path (normalised) goes to dataset. */
static int spec_parse(const char *buf, size_t len, json_object **out, char *dataset, size_t n,
                      err_t *e)
{
    *out = NULL;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) { /* editors' BOM */
        buf += 3;
        len -= 3;
    }
    json_tokener *tok = json_tokener_new_ex(BUNDLE_SPEC_DEPTH);
    if (tok == NULL)
        return err_set(e, 500, "internal", "json tokener: out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *spec = len > 0 ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (spec == NULL || jerr != json_tokener_success) {
        json_object_put(spec);
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": not valid JSON (%s)",
                       BUNDLE_SPEC_NAME,
                       len == 0 || jerr == json_tokener_continue
                           ? "unexpected end of input"
                           : json_tokener_error_desc(jerr));
    }
    for (; end < len; end++) {
        if (buf[end] != ' ' && buf[end] != '\t' && buf[end] != '\n' && buf[end] != '\r') {
            json_object_put(spec);
            return err_set(e, 400, "bundle_invalid",
                           "entry \"%s\": not valid JSON (text after the document)",
                           BUNDLE_SPEC_NAME);
        }
    }

    const char *problem = NULL;
    json_object *ds = NULL, *pf = NULL;
    if (!json_object_is_type(spec, json_type_object)) {
        problem = "must be a JSON object";
    } else if (!json_object_object_get_ex(spec, "dataset", &ds) ||
               !json_object_is_type(ds, json_type_string)) {
        problem = "\"dataset\" must be a string naming a CSV file in the bundle";
    } else if (!json_object_object_get_ex(spec, "predict_fields", &pf) ||
               !json_object_is_type(pf, json_type_array) || json_object_array_length(pf) == 0) {
        problem = "\"predict_fields\" must be a non-empty array of strings";
    } else {
        for (size_t i = 0; i < json_object_array_length(pf) && problem == NULL; i++) {
            json_object *f = json_object_array_get_idx(pf, i);
            if (!json_object_is_type(f, json_type_string) || json_object_get_string_len(f) == 0)
                problem = "\"predict_fields\" must be a non-empty array of strings";
        }
    }
    if (problem == NULL) {
        const char *why = path_normalise(json_object_get_string(ds), dataset, n);
        if (why == NULL && dataset[0] == '\0')
            why = "empty path";
        if (why != NULL) {
            char shown[208];
            name_for_message(json_object_get_string(ds), shown);
            json_object_put(spec);
            return err_set(e, 400, "bundle_invalid", "entry \"%s\": dataset \"%s\": %s",
                           BUNDLE_SPEC_NAME, shown, why);
        }
    }
    if (problem != NULL) {
        json_object_put(spec);
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": %s", BUNDLE_SPEC_NAME, problem);
    }
    *out = spec;
    return 0;
}

/* Reads the source to its end so that a caller copying the stream aside
 * (the API tees it into PostgreSQL) keeps every byte of the upload. */
static int walk_drain(walk_t *w, err_t *e)
{
    for (;;) {
        ssize_t n = w->src->read_fn(w->src->ctx, w->src->buf, sizeof(w->src->buf), e);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        w->src->compressed += (unsigned long long)n;
    }
}

int bundle_inspect(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                   bundle_info_t *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    walk_t w;
    path_set_t seen = {0};
    spec_buf_t sb = {0};
    int spec_seen = 0;
    int rc = -1;

    if (walk_open(&w, read_fn, ctx, lim, e) < 0)
        goto out;
    sb.max = w.lim.max_spec_bytes;
    sb.raw = BUNDLE_SPEC_NAME;
    sb.data = malloc(sb.max);
    if (sb.data == NULL)
        abort();

    for (;;) {
        int more = walk_next(&w, e);
        if (more < 0)
            goto out;
        if (more == 0)
            break;
        path_slot_t *slot = w.path[0] != '\0' ? path_set_find(&seen, w.path) : NULL;
        if (slot != NULL && !(slot->is_dir && w.is_dir)) {
            err_set(e, 400, "bundle_invalid", "entry \"%s\": duplicate entry", w.raw);
            goto out;
        }
        if (slot == NULL && w.path[0] != '\0')
            slot = path_set_add(&seen, w.path, w.is_dir);
        int is_spec = !w.is_dir && strcmp(w.path, BUNDLE_SPEC_NAME) == 0;
        unsigned long long bytes = 0;
        if (walk_data(&w, is_spec ? spec_sink : NULL, &sb, &bytes, e) < 0)
            goto out;
        if (slot != NULL)
            slot->bytes = bytes;
        spec_seen |= is_spec;
    }
    if (walk_drain(&w, e) < 0)
        goto out;

    if (!spec_seen) {
        err_set(e, 400, "bundle_invalid", "missing %s at the bundle root", BUNDLE_SPEC_NAME);
        goto out;
    }
    if (spec_parse(sb.data, sb.len, &out->spec, out->dataset_path, sizeof(out->dataset_path),
                   e) < 0)
        goto out;
    const path_slot_t *ds = path_set_find(&seen, out->dataset_path);
    if (ds == NULL || ds->is_dir) {
        char shown[208];
        name_for_message(out->dataset_path, shown);
        err_set(e, 400, "bundle_invalid", "entry \"%s\": dataset \"%s\" %s", BUNDLE_SPEC_NAME,
                shown, ds == NULL ? "is not in the bundle" : "is a directory, not a file");
        goto out;
    }
    out->dataset_bytes = ds->bytes;
    out->entries = w.entries;
    out->total_bytes = w.total;
    out->compressed_bytes = w.src->compressed;
    rc = 0;

out:
    if (rc < 0 && out->spec != NULL) {
        json_object_put(out->spec);
        out->spec = NULL;
    }
    free(sb.data);
    path_set_free(&seen);
    walk_close(&w);
    return rc;
}

/* --- extraction ------------------------------------------------------------ */

int bundle_extract(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                   const char *path,
                   int (*sink)(void *sink_ctx, const void *buf, size_t n, err_t *e),
                   void *sink_ctx, err_t *e)
{
    char want[BUNDLE_PATH_MAX];
    char shown[208];
    name_for_message(path, shown);
    const char *why = path_normalise(path, want, sizeof(want));
    if (why == NULL && want[0] == '\0')
        why = "empty path";
    if (why != NULL)
        return err_set(e, 400, "bundle_invalid", "entry \"%s\": %s", shown, why);

    walk_t w;
    int rc = -1;
    if (walk_open(&w, read_fn, ctx, lim, e) < 0)
        goto out;
    for (;;) {
        int more = walk_next(&w, e);
        if (more < 0)
            goto out;
        if (more == 0)
            break;
        if (strcmp(w.path, want) == 0) {
            if (w.is_dir) {
                err_set(e, 400, "bundle_invalid", "entry \"%s\": is a directory, not a file",
                        w.raw);
                goto out;
            }
            rc = walk_data(&w, sink, sink_ctx, NULL, e);
            goto out;
        }
        /* Earlier entries are read, not skipped, so that their bytes count. */
        if (walk_data(&w, NULL, NULL, NULL, e) < 0)
            goto out;
    }
    err_set(e, 400, "bundle_invalid", "entry \"%s\": not in the bundle", shown);

out:
    walk_close(&w);
    return rc;
}

/* --- walking every entry ----------------------------------------------------- */

int bundle_walk(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                bundle_visit_fn visit, void *visit_ctx, bundle_walk_stats_t *stats, err_t *e)
{
    walk_t w;
    path_set_t seen = {0};
    int rc = -1;
    if (walk_open(&w, read_fn, ctx, lim, e) < 0)
        goto out;
    for (;;) {
        int more = walk_next(&w, e);
        if (more < 0)
            goto out;
        if (more == 0)
            break;
        path_slot_t *slot = w.path[0] != '\0' ? path_set_find(&seen, w.path) : NULL;
        if (slot != NULL && !(slot->is_dir && w.is_dir)) {
            err_set(e, 400, "bundle_invalid", "entry \"%s\": duplicate entry", w.raw);
            goto out;
        }
        if (slot == NULL && w.path[0] != '\0')
            path_set_add(&seen, w.path, w.is_dir);
        walk_sink_fn sink = NULL;
        void *sink_ctx = NULL;
        if (w.path[0] != '\0' && visit(visit_ctx, w.path, w.is_dir, &sink, &sink_ctx, e) < 0)
            goto out;
        unsigned long long bytes = 0;
        if (walk_data(&w, sink, sink_ctx, &bytes, e) < 0)
            goto out;
        if (sink != NULL && sink(sink_ctx, NULL, 0, e) < 0) /* the end of this entry */
            goto out;
    }
    if (walk_drain(&w, e) < 0)
        goto out;
    if (stats != NULL) {
        stats->entries = w.entries;
        stats->total_bytes = w.total;
        stats->compressed_bytes = w.src->compressed;
        stats->zip = archive_format(w.a) == ARCHIVE_FORMAT_ZIP ||
                     (archive_format(w.a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
    }
    rc = 0;
out:
    path_set_free(&seen);
    walk_close(&w);
    return rc;
}
