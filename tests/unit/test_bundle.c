/*
 * test_bundle.c — source bundles: inspection and extraction of untrusted
 * tar streams.
 *
 * Every archive is built here, in memory, with libarchive's writer (and one
 * header by hand, for a ustar field trick the writer will not produce), then
 * read back through a bundle_read_fn that hands out chunks of a chosen size.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "bundle/kaos.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/err.h"
#include "tests/unit/unit.h"

Suite *suite_bundle(void);

/* --- building archives ----------------------------------------------------- */

enum { FILT_GZIP, FILT_NONE, FILT_XZ };

/* type: 'f' file with data, 'z' file of size zero bytes, 'd' directory,
 * 's' symlink, 'h' hard link, 'p' fifo, 'c' character device */
typedef struct tent {
    const char *path;
    char type;
    const char *data;  /* 'f': content (size bytes; strlen if size is 0) */
    size_t size;
    const char *link;
} tent_t;

typedef struct blob {
    unsigned char *buf;
    size_t len;
} blob_t;

static const char good_spec[] =
    "{\"dataset\": \"data/train.csv\", \"predict_fields\": [\"label\"],"
    " \"params\": {\"max_depth\": 3}, \"note\": \"passed through\"}";
static const char good_csv[] = "a,b,label\n1,\"x, y\",0\n2,\"multi\nline\",1\n";

static blob_t make_archive_fmt(const tent_t *ents, size_t n, int filter, int format)
{
    size_t cap = 8u << 20;
    blob_t b = {malloc(cap), 0};
    ck_assert_ptr_nonnull(b.buf);
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format(a, format), ARCHIVE_OK);
    if (filter == FILT_GZIP)
        ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    else if (filter == FILT_XZ)
        ck_assert_int_eq(archive_write_add_filter_xz(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, b.buf, cap, &b.len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const tent_t *t = &ents[i];
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, t->path);
        archive_entry_set_perm(en, 0644);
        size_t size = t->type == 'f' ? (t->size ? t->size : strlen(t->data)) : 0;
        if (t->type == 'z')
            size = t->size;
        switch (t->type) {
        case 'd': archive_entry_set_filetype(en, AE_IFDIR); break;
        case 's':
            archive_entry_set_filetype(en, AE_IFLNK);
            archive_entry_set_symlink(en, t->link);
            break;
        case 'h':
            archive_entry_set_filetype(en, AE_IFREG);
            archive_entry_set_hardlink(en, t->link);
            break;
        case 'p': archive_entry_set_filetype(en, AE_IFIFO); break;
        case 'c':
            archive_entry_set_filetype(en, AE_IFCHR);
            archive_entry_set_rdev(en, 0x0103);
            break;
        default: archive_entry_set_filetype(en, AE_IFREG); break;
        }
        archive_entry_set_size(en, (la_int64_t)size);
        ck_assert_int_eq(archive_write_header(a, en), ARCHIVE_OK);
        if (t->type == 'f') {
            ck_assert_int_eq(archive_write_data(a, t->data, size), (la_ssize_t)size);
        } else if (t->type == 'z') {
            static const char zeros[65536];
            for (size_t left = size; left > 0;) {
                size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
                ck_assert_int_eq(archive_write_data(a, zeros, k), (la_ssize_t)k);
                left -= k;
            }
        }
        archive_entry_free(en);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return b;
}

static blob_t make_archive(const tent_t *ents, size_t n, int filter)
{
    return make_archive_fmt(ents, n, filter, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
}

/* --- reading them back ----------------------------------------------------- */

typedef struct memsrc {
    const unsigned char *buf;
    size_t len, pos;
    size_t chunk;       /* most bytes per call */
    size_t fail_at;     /* fail once pos reaches this (0 = never) */
    int calls;
} memsrc_t;

static ssize_t mem_read(void *ctx, void *buf, size_t n, err_t *e)
{
    memsrc_t *s = ctx;
    s->calls++;
    if (s->fail_at > 0 && s->pos >= s->fail_at)
        return err_set(e, 413, "too_large", "request body exceeds the route limit");
    size_t k = s->len - s->pos;
    if (k > n)
        k = n;
    if (s->chunk > 0 && k > s->chunk)
        k = s->chunk;
    memcpy(buf, s->buf + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

static int inspect_blob(const blob_t *b, size_t chunk, const bundle_limits_t *lim,
                        bundle_info_t *info, err_t *e)
{
    memsrc_t s = {b->buf, b->len, 0, chunk, 0, 0};
    err_clear(e);
    int rc = bundle_inspect(mem_read, &s, lim, info, e);
    if (rc == 0)
        ck_assert_uint_eq(s.pos, s.len); /* the whole stream was consumed */
    return rc;
}

/* Expects inspection to fail with status and a message containing each
 * of the (up to two) fragments. */
static void expect_refused(const tent_t *ents, size_t n, const bundle_limits_t *lim, int status,
                           const char *frag1, const char *frag2)
{
    blob_t b = make_archive(ents, n, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, lim, &info, &e), -1);
    ck_assert_ptr_null(info.spec);
    ck_assert_int_eq(e.status, status);
    ck_assert_str_eq(e.items[0].code, status == 413 ? "too_large" : "bundle_invalid");
    if (frag1 != NULL && strstr(e.items[0].message, frag1) == NULL)
        ck_abort_msg("message \"%s\" lacks \"%s\"", e.items[0].message, frag1);
    if (frag2 != NULL && strstr(e.items[0].message, frag2) == NULL)
        ck_abort_msg("message \"%s\" lacks \"%s\"", e.items[0].message, frag2);
    free(b.buf);
}

typedef struct collect {
    char *buf;
    size_t len, cap;
    int calls;
} collect_t;

static int collect_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    (void)e;
    collect_t *c = ctx;
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->buf = realloc(c->buf, c->cap);
        ck_assert_ptr_nonnull(c->buf);
    }
    memcpy(c->buf + c->len, buf, n);
    c->len += n;
    c->calls++;
    return 0;
}

/* A CSV with quotes, embedded newlines, commas and non-ASCII text, ~n bytes. */
static char *make_csv(size_t n, size_t *len)
{
    char *s = malloc(n + 256);
    ck_assert_ptr_nonnull(s);
    size_t o = (size_t)sprintf(s, "id,text,value,label\n");
    unsigned x = 12345;
    for (int row = 0; o < n; row++) {
        x = x * 1103515245u + 12345u;
        o += (size_t)sprintf(s + o, "%d,\"q \"\"%u\"\", line\nbreak \xc3\xa9\",%u.%02u,%u\r\n", row,
                             x % 1000, (x >> 8) % 100000, (x >> 4) % 100, (x >> 3) & 1u);
    }
    *len = o;
    return s;
}

/* --- tests ----------------------------------------------------------------- */

START_TEST(bundle_good_bundle_inspected)
{
    const tent_t ents[] = {
        {"./", 'd', NULL, 0, NULL},
        {"./trainyard.json", 'f', good_spec, 0, NULL},
        {"./data/", 'd', NULL, 0, NULL},
        {"./data/train.csv", 'f', good_csv, 0, NULL},
        {"./src/model.py", 'f', "print('hi')\n", 0, NULL},
    };
    blob_t b = make_archive(ents, 5, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), 0);
    ck_assert_ptr_nonnull(info.spec);
    ck_assert_str_eq(info.dataset_path, "data/train.csv");
    ck_assert_uint_eq(info.dataset_bytes, strlen(good_csv));
    ck_assert_uint_eq(info.entries, 5);
    ck_assert_uint_eq(info.total_bytes, strlen(good_spec) + strlen(good_csv) + 12);
    ck_assert_uint_eq(info.compressed_bytes, b.len);
    json_object *v;
    ck_assert(json_object_object_get_ex(info.spec, "note", &v));
    ck_assert_str_eq(json_object_get_string(v), "passed through");
    ck_assert(json_object_object_get_ex(info.spec, "params", &v));
    ck_assert(json_object_is_type(v, json_type_object));
    json_object_put(info.spec);
    free(b.buf);
}
END_TEST

START_TEST(bundle_plain_tar_xz_and_gnutar_accepted)
{
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    const int filters[] = {FILT_NONE, FILT_XZ};
    for (int i = 0; i < 3; i++) {
        blob_t b = i < 2 ? make_archive(ents, 2, filters[i])
                         : make_archive_fmt(ents, 2, FILT_GZIP, ARCHIVE_FORMAT_TAR_GNUTAR);
        bundle_info_t info;
        err_t e;
        ck_assert_msg(inspect_blob(&b, 0, NULL, &info, &e) == 0, "variant %d: %s", i,
                      err_message(&e));
        ck_assert_str_eq(info.dataset_path, "data/train.csv");
        json_object_put(info.spec);
        free(b.buf);
    }
}
END_TEST

START_TEST(bundle_non_ascii_names_accepted)
{
    const char *spec = "{\"dataset\": \"donn\xc3\xa9" "es/train.csv\", \"predict_fields\": [\"y\"]}";
    const tent_t ents[] = {
        {"trainyard.json", 'f', spec, 0, NULL},
        {"donn\xc3\xa9" "es/train.csv", 'f', good_csv, 0, NULL},
    };
    /* GNU headers carry the name's bytes as they are (the pax writer would
     * convert them from the locale, which is "C" here). */
    blob_t b = make_archive_fmt(ents, 2, FILT_GZIP, ARCHIVE_FORMAT_TAR_GNUTAR);
    bundle_info_t info;
    err_t e;
    ck_assert_msg(inspect_blob(&b, 0, NULL, &info, &e) == 0, "%s", err_message(&e));
    ck_assert_str_eq(info.dataset_path, "donn\xc3\xa9" "es/train.csv");
    json_object_put(info.spec);
    free(b.buf);
}
END_TEST

START_TEST(bundle_zip_accepted_garbage_refused)
{
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    blob_t b = make_archive_fmt(ents, 2, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), 0);
    ck_assert_str_eq(info.dataset_path, "data/train.csv");
    json_object_put(info.spec);
    free(b.buf);

    static unsigned char junk[3000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    blob_t g = {junk, sizeof(junk)};
    ck_assert_int_eq(inspect_blob(&g, 0, NULL, &info, &e), -1);
    ck_assert_int_eq(e.status, 400);
    blob_t empty = {junk, 0};
    ck_assert_int_eq(inspect_blob(&empty, 0, NULL, &info, &e), -1);
    ck_assert_int_eq(e.status, 400);
    /* A truncated gzip stream is refused too. */
    const tent_t big[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    blob_t t = make_archive(big, 2, FILT_GZIP);
    t.len /= 2;
    ck_assert_int_eq(inspect_blob(&t, 0, NULL, &info, &e), -1);
    ck_assert_int_eq(e.status, 400);
    free(t.buf);
}
END_TEST

START_TEST(bundle_traversal_refused)
{
    static const char *const bad[] = {"../x", "/etc/passwd", "a/../../x", "a/..", "..",
                                      "./../x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const tent_t ents[] = {
            {"trainyard.json", 'f', good_spec, 0, NULL},
            {"data/train.csv", 'f', good_csv, 0, NULL},
            {bad[i], 'f', "evil", 0, NULL},
        };
        const char *why = bad[i][0] == '/' ? "absolute path" : "path escapes the bundle";
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "entry \"%s\"", bad[i]);
        expect_refused(ents, 3, NULL, 400, quoted, why);
    }
    /* Traversal hidden in a GNU long-name header. */
    char longname[300];
    memset(longname, 'a', 150);
    strcpy(longname + 150, "/../../../etc/cron.d/x");
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {longname, 'f', "evil", 0, NULL},
    };
    blob_t b = make_archive_fmt(ents, 2, FILT_GZIP, ARCHIVE_FORMAT_TAR_GNUTAR);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "path escapes the bundle"));
    free(b.buf);
}
END_TEST

START_TEST(bundle_backslash_and_control_refused)
{
    const tent_t bs[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"..\\..\\x", 'f', "evil", 0, NULL},
    };
    expect_refused(bs, 2, NULL, 400, "backslash in path", NULL);
    const tent_t ctl[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"a\nb", 'f', "evil", 0, NULL},
    };
    expect_refused(ctl, 2, NULL, 400, "entry \"a?b\"", "control character");
    const tent_t latin1[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"caf\xe9.csv", 'f', "x\n1\n", 0, NULL},
    };
    blob_t b = make_archive_fmt(latin1, 2, FILT_GZIP, ARCHIVE_FORMAT_TAR_GNUTAR);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "path is not UTF-8"));
    free(b.buf);
}
END_TEST

/* ustar keeps long names as prefix + "/" + name; a ".." hidden in the prefix
 * field (which the writer would never produce) must still be seen. */
START_TEST(bundle_ustar_prefix_trick_refused)
{
    unsigned char tar[512 * 4];
    memset(tar, 0, sizeof(tar));
    unsigned char *h = tar;
    strcpy((char *)h, "x");                  /* name */
    strcpy((char *)h + 100, "0000644");      /* mode */
    strcpy((char *)h + 108, "0000000");      /* uid */
    strcpy((char *)h + 116, "0000000");      /* gid */
    strcpy((char *)h + 124, "00000000004");  /* size */
    strcpy((char *)h + 136, "00000000000");  /* mtime */
    h[156] = '0';                            /* regular file */
    memcpy(h + 257, "ustar\0" "00", 8);
    strcpy((char *)h + 345, "../..");        /* prefix */
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    memcpy(tar + 512, "evil", 4);
    blob_t b = {tar, sizeof(tar)};
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), -1);
    ck_assert_str_eq(e.items[0].code, "bundle_invalid");
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "\"../../x\": path escapes the bundle"));
}
END_TEST

START_TEST(bundle_links_and_specials_refused)
{
    const tent_t sym[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 's', NULL, 0, "/etc/passwd"},
    };
    expect_refused(sym, 2, NULL, 400, "entry \"data/train.csv\"", "symbolic links");
    const tent_t hard[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'h', NULL, 0, "trainyard.json"},
    };
    expect_refused(hard, 2, NULL, 400, "entry \"data/train.csv\"", "hard links");
    const tent_t fifo[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"pipe", 'p', NULL, 0, NULL},
    };
    expect_refused(fifo, 2, NULL, 400, "entry \"pipe\"", "only regular files and directories");
    const tent_t dev[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"null", 'c', NULL, 0, NULL},
    };
    expect_refused(dev, 2, NULL, 400, "entry \"null\"", "only regular files and directories");
}
END_TEST

START_TEST(bundle_spec_problems_refused)
{
    const tent_t missing[] = {{"data/train.csv", 'f', good_csv, 0, NULL},
                              {"sub/trainyard.json", 'f', good_spec, 0, NULL}};
    expect_refused(missing, 2, NULL, 400, "missing trainyard.json", NULL);

    static const struct {
        const char *spec;
        const char *why;
    } cases[] = {
        {"{\"dataset\": \"data/train.csv\", \"predict_fields\": [\"label\"]", "not valid JSON"},
        {"{'dataset': 'data/train.csv'}", "not valid JSON"},
        {"", "not valid JSON"},
        {"{\"dataset\": \"data/train.csv\", \"predict_fields\": [\"a\"]} {}", "not valid JSON"},
        {"[\"data/train.csv\"]", "must be a JSON object"},
        {"{\"predict_fields\": [\"label\"]}", "\"dataset\" must be a string"},
        {"{\"dataset\": 7, \"predict_fields\": [\"label\"]}", "\"dataset\" must be a string"},
        {"{\"dataset\": \"data/train.csv\"}", "\"predict_fields\" must be"},
        {"{\"dataset\": \"data/train.csv\", \"predict_fields\": []}", "\"predict_fields\" must"},
        {"{\"dataset\": \"data/train.csv\", \"predict_fields\": [1]}", "\"predict_fields\" must"},
        {"{\"dataset\": \"data/train.csv\", \"predict_fields\": \"label\"}", "\"predict_fields\""},
        {"{\"dataset\": \"nope.csv\", \"predict_fields\": [\"label\"]}",
         "dataset \"nope.csv\" is not in the bundle"},
        {"{\"dataset\": \"data\", \"predict_fields\": [\"label\"]}", "is a directory"},
        {"{\"dataset\": \"../data/train.csv\", \"predict_fields\": [\"label\"]}",
         "path escapes the bundle"},
        {"{\"dataset\": \"/data/train.csv\", \"predict_fields\": [\"label\"]}", "absolute path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tent_t ents[] = {
            {"trainyard.json", cases[i].spec[0] ? 'f' : 'z', cases[i].spec, 0, NULL},
            {"data/", 'd', NULL, 0, NULL},
            {"data/train.csv", 'f', good_csv, 0, NULL},
        };
        expect_refused(ents, 3, NULL, 400, cases[i].why, NULL);
    }

    /* The dataset path is normalised before it is looked up. */
    const char *dotted = "{\"dataset\": \"./data//train.csv\", \"predict_fields\": [\"label\"]}";
    const tent_t ok[] = {{"trainyard.json", 'f', dotted, 0, NULL},
                         {"data/train.csv", 'f', good_csv, 0, NULL}};
    blob_t b = make_archive(ok, 2, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), 0);
    ck_assert_str_eq(info.dataset_path, "data/train.csv");
    json_object_put(info.spec);
    free(b.buf);
}
END_TEST

START_TEST(bundle_duplicates_refused)
{
    const tent_t dup_spec[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
        {"./trainyard.json", 'f', "{}", 0, NULL},
    };
    expect_refused(dup_spec, 3, NULL, 400, "entry \"./trainyard.json\"", "duplicate entry");
    const tent_t dup_data[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
        {"data//train.csv", 'f', "evil,data\n", 0, NULL},
    };
    expect_refused(dup_data, 3, NULL, 400, "duplicate entry", NULL);
    /* Repeated directories are harmless. */
    const tent_t dirs[] = {
        {"data/", 'd', NULL, 0, NULL},
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data", 'd', NULL, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    blob_t b = make_archive(dirs, 4, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), 0);
    json_object_put(info.spec);
    free(b.buf);
}
END_TEST

START_TEST(bundle_too_many_entries_refused)
{
    tent_t ents[12];
    char names[10][24];
    ents[0] = (tent_t){"trainyard.json", 'f', good_spec, 0, NULL};
    ents[1] = (tent_t){"data/train.csv", 'f', good_csv, 0, NULL};
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "src/f%d.py", i);
        ents[i + 2] = (tent_t){names[i], 'f', "x = 1\n", 0, NULL};
    }
    bundle_limits_t lim = bundle_limits_default;
    lim.max_entries = 11;
    expect_refused(ents, 12, &lim, 413, "more than 11 entries", NULL);
    lim.max_entries = 12;
    blob_t b = make_archive(ents, 12, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, &lim, &info, &e), 0);
    ck_assert_uint_eq(info.entries, 12);
    json_object_put(info.spec);
    free(b.buf);
}
END_TEST

START_TEST(bundle_bomb_refused)
{
    /* 16 MiB of zeros gzip to a few KB: far past a ratio of 200. */
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
        {"zeros.bin", 'z', NULL, 16u << 20, NULL},
    };
    blob_t b = make_archive(ents, 3, FILT_GZIP);
    ck_assert_uint_lt(b.len, 64 * 1024);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, NULL, &info, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_str_eq(e.items[0].code, "too_large");
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "entry \"zeros.bin\""));
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "200 times"));

    /* A generous ratio lets it through; then the total cap stops it. */
    bundle_limits_t lim = bundle_limits_default;
    lim.max_ratio = 1e9;
    ck_assert_int_eq(inspect_blob(&b, 0, &lim, &info, &e), 0);
    ck_assert_uint_eq(info.total_bytes, (16u << 20) + strlen(good_spec) + strlen(good_csv));
    json_object_put(info.spec);
    lim.max_total = 8u << 20;
    ck_assert_int_eq(inspect_blob(&b, 0, &lim, &info, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "more than 8388608 bytes"));

    /* Extraction applies the same limits to entries it passes over. */
    memsrc_t s = {b.buf, b.len, 0, 0, 0, 0};
    const tent_t late[] = {
        {"zeros.bin", 'z', NULL, 16u << 20, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    blob_t b2 = make_archive(late, 2, FILT_GZIP);
    s = (memsrc_t){b2.buf, b2.len, 0, 0, 0, 0};
    collect_t c = {0};
    err_clear(&e);
    ck_assert_int_eq(bundle_extract(mem_read, &s, NULL, "data/train.csv", collect_sink, &c, &e),
                     -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_uint_eq(c.len, 0);
    free(c.buf);
    free(b2.buf);
    free(b.buf);
}
END_TEST

START_TEST(bundle_spec_size_capped)
{
    char *spec = malloc(100001);
    memset(spec, ' ', 100000);
    memcpy(spec, good_spec, strlen(good_spec));
    spec[100000] = '\0';
    const tent_t ents[] = {
        {"trainyard.json", 'f', spec, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    expect_refused(ents, 2, NULL, 413, "entry \"trainyard.json\"", "larger than 65536 bytes");
    bundle_limits_t lim = bundle_limits_default;
    lim.max_spec_bytes = 200000;
    blob_t b = make_archive(ents, 2, FILT_GZIP);
    bundle_info_t info;
    err_t e;
    ck_assert_int_eq(inspect_blob(&b, 0, &lim, &info, &e), 0); /* trailing spaces are fine */
    json_object_put(info.spec);
    free(b.buf);
    free(spec);
}
END_TEST

START_TEST(bundle_chunked_reads_agree)
{
    size_t csv_len;
    char *csv = make_csv(200000, &csv_len);
    const tent_t ents[] = {
        {"data/train.csv", 'f', csv, csv_len, NULL},
        {"trainyard.json", 'f', good_spec, 0, NULL},
    };
    blob_t b = make_archive(ents, 2, FILT_GZIP);
    static const size_t chunks[] = {1, 3, 7, 511, 4096, 0};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        bundle_info_t info;
        err_t e;
        ck_assert_msg(inspect_blob(&b, chunks[i], NULL, &info, &e) == 0, "chunk %zu: %s",
                      chunks[i], err_message(&e));
        ck_assert_uint_eq(info.dataset_bytes, csv_len);
        ck_assert_uint_eq(info.total_bytes, csv_len + strlen(good_spec));
        ck_assert_uint_eq(info.compressed_bytes, b.len);
        ck_assert_uint_eq(info.entries, 2);
        json_object_put(info.spec);
    }
    free(b.buf);
    free(csv);
}
END_TEST

START_TEST(bundle_extract_streams_exact_content)
{
    size_t csv_len;
    char *csv = make_csv(300000, &csv_len);
    const tent_t ents[] = {
        {"./trainyard.json", 'f', good_spec, 0, NULL},
        {"./src/a.py", 'f', "import os\n", 0, NULL},
        {"./data/train.csv", 'f', csv, csv_len, NULL},
        {"./data/other.csv", 'f', "x\n1\n", 0, NULL},
    };
    static const int filters[] = {FILT_GZIP, FILT_XZ, FILT_NONE};
    static const size_t chunks[] = {3, 0, 1000};
    for (int i = 0; i < 3; i++) {
        blob_t b = make_archive(ents, 4, filters[i]);
        memsrc_t s = {b.buf, b.len, 0, chunks[i], 0, 0};
        collect_t c = {0};
        err_t e;
        err_clear(&e);
        const char *want = i == 1 ? "./data/train.csv" : "data/train.csv";
        ck_assert_msg(bundle_extract(mem_read, &s, NULL, want, collect_sink, &c, &e) == 0,
                      "%s", err_message(&e));
        ck_assert_uint_eq(c.len, csv_len);
        ck_assert(memcmp(c.buf, csv, csv_len) == 0);
        ck_assert_int_gt(c.calls, 1); /* streamed, not handed over whole */
        free(c.buf);
        free(b.buf);
    }
    free(csv);
}
END_TEST

static int failing_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return err_set(e, 507, "storage_full", "sink refused the data");
}

START_TEST(bundle_extract_refuses_missing_and_unsafe)
{
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/", 'd', NULL, 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    blob_t b = make_archive(ents, 3, FILT_GZIP);
    collect_t c = {0};
    err_t e;
    static const struct {
        const char *path;
        const char *why;
    } cases[] = {
        {"data/nope.csv", "not in the bundle"},
        {"data", "is a directory"},
        {"../data/train.csv", "path escapes the bundle"},
        {"/data/train.csv", "absolute path"},
        {"", "empty path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memsrc_t s = {b.buf, b.len, 0, 0, 0, 0};
        err_clear(&e);
        ck_assert_int_eq(bundle_extract(mem_read, &s, NULL, cases[i].path, collect_sink, &c, &e),
                         -1);
        ck_assert_str_eq(e.items[0].code, "bundle_invalid");
        ck_assert_msg(strstr(e.items[0].message, cases[i].why) != NULL, "%s",
                      e.items[0].message);
    }
    ck_assert_uint_eq(c.len, 0);

    /* The sink's own error comes back unchanged. */
    memsrc_t s = {b.buf, b.len, 0, 0, 0, 0};
    err_clear(&e);
    ck_assert_int_eq(bundle_extract(mem_read, &s, NULL, "data/train.csv", failing_sink, NULL, &e),
                     -1);
    ck_assert_int_eq(e.status, 507);
    ck_assert_str_eq(e.items[0].code, "storage_full");
    free(b.buf);

    /* An unsafe entry before the wanted one stops extraction. */
    const tent_t bad[] = {
        {"../../etc/passwd", 'f', "root", 0, NULL},
        {"data/train.csv", 'f', good_csv, 0, NULL},
    };
    b = make_archive(bad, 2, FILT_GZIP);
    s = (memsrc_t){b.buf, b.len, 0, 0, 0, 0};
    err_clear(&e);
    ck_assert_int_eq(bundle_extract(mem_read, &s, NULL, "data/train.csv", collect_sink, &c, &e),
                     -1);
    ck_assert_ptr_nonnull(strstr(e.items[0].message, "path escapes the bundle"));
    ck_assert_uint_eq(c.len, 0);
    free(b.buf);
    free(c.buf);
}
END_TEST

START_TEST(bundle_read_errors_propagate)
{
    size_t csv_len;
    char *csv = make_csv(100000, &csv_len);
    const tent_t ents[] = {
        {"trainyard.json", 'f', good_spec, 0, NULL},
        {"data/train.csv", 'f', csv, csv_len, NULL},
    };
    blob_t b = make_archive(ents, 2, FILT_GZIP);
    ck_assert_uint_gt(b.len, 1000);
    bundle_info_t info;
    err_t e;
    memsrc_t s = {b.buf, b.len, 0, 100, b.len / 2, 0};
    err_clear(&e);
    ck_assert_int_eq(bundle_inspect(mem_read, &s, NULL, &info, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_str_eq(e.items[0].code, "too_large");
    ck_assert_str_eq(e.items[0].message, "request body exceeds the route limit");
    ck_assert_ptr_null(info.spec);

    collect_t c = {0};
    s = (memsrc_t){b.buf, b.len, 0, 100, b.len / 2, 0};
    err_clear(&e);
    ck_assert_int_eq(bundle_extract(mem_read, &s, NULL, "data/train.csv", collect_sink, &c, &e),
                     -1);
    ck_assert_int_eq(e.status, 413);
    free(c.buf);
    free(b.buf);
    free(csv);
}
END_TEST

/* --- KAOS's bundles (bundle/kaos.h) ----------------------------------------- */

static int kaos_scan_blob(const blob_t *b, kaos_kind_t kind, kaos_scan_t *out, err_t *e)
{
    memsrc_t s = {b->buf, b->len, 0, 0, 0, 0};
    err_clear(e);
    return kaos_bundle_scan(mem_read, &s, kind, out, e);
}

static void kaos_expect(const tent_t *ents, size_t n, kaos_kind_t kind, const char *message)
{
    blob_t b = make_archive_fmt(ents, n, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    kaos_scan_t scan;
    err_t e;
    int rc = kaos_scan_blob(&b, kind, &scan, &e);
    if (message == NULL) {
        ck_assert_msg(rc == 0, "%s", err_message(&e));
        json_object_put(scan.files);
        json_object_put(scan.folders);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err_message(&e), message) != NULL, "%s", err_message(&e));
    }
    free(b.buf);
}

START_TEST(bundle_kaos_source_layout_checked)
{
    const tent_t good[] = {
        {"proj/Dockerfile", 'f', "FROM x\n", 0, NULL},
        {"proj/model/__init__.py", 'f', " ", 0, NULL},
        {"proj/model/requirements.txt", 'f', "numpy\n", 0, NULL},
        {"proj/model/train", 'f', "#!/bin/sh\n", 0, NULL},
    };
    blob_t b = make_archive_fmt(good, 4, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    kaos_scan_t scan;
    err_t e;
    ck_assert_int_eq(kaos_scan_blob(&b, KAOS_CODE, &scan, &e), 0);
    ck_assert_str_eq(scan.root, "proj");
    ck_assert_int_eq(scan.zip, 1);
    ck_assert_int_eq(scan.spec_bundle, 0);
    free(b.buf);
    kaos_expect(good, 3, KAOS_CODE, "Missing file train in model directory of source-code bundle");
    kaos_expect(good + 1, 3, KAOS_CODE, "Missing Dockerfile in source-code bundle");
    kaos_expect(good, 1, KAOS_CODE, "Missing model directory in source-code bundle");
    const tent_t two[] = {{"a/Dockerfile", 'f', "x", 0, NULL}, {"b/Dockerfile", 'f', "y", 0, NULL}};
    kaos_expect(two, 2, KAOS_CODE, "Too many directories in source-code bundle");
    const tent_t loose[] = {{"Dockerfile", 'f', "x", 0, NULL}};
    kaos_expect(loose, 1, KAOS_CODE, "Missing root directory in source-code bundle");
    /* KAOS counts folders only: a file beside the one root folder is accepted */
    const tent_t beside[] = {
        {"README.md", 'f', "notes", 0, NULL},         {"proj/Dockerfile", 'f', "FROM x\n", 0, NULL},
        {"proj/model/__init__.py", 'f', " ", 0, NULL}, {"proj/model/requirements.txt", 'f', "x\n", 0, NULL},
        {"proj/model/train", 'f', "#!/bin/sh\n", 0, NULL},
    };
    blob_t bb = make_archive_fmt(beside, 5, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    err_clear(&e);
    ck_assert_msg(kaos_scan_blob(&bb, KAOS_CODE, &scan, &e) == 0, "%s", err_message(&e));
    ck_assert_str_eq(scan.root, "proj");
    free(bb.buf);
    kaos_expect(good, 0, KAOS_CODE, "Bundle must be non-empty");
    const tent_t spec[] = {{"trainyard.json", 'f', good_spec, 0, NULL}};
    blob_t sb = make_archive_fmt(spec, 1, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    ck_assert_int_eq(kaos_scan_blob(&sb, KAOS_CODE, &scan, &e), 0);
    ck_assert_int_eq(scan.spec_bundle, 1);
    free(sb.buf);
    const tent_t evil[] = {{"p/../../x", 'f', "x", 0, NULL}};
    kaos_expect(evil, 1, KAOS_CODE, "escapes");
}
END_TEST

START_TEST(bundle_kaos_data_and_params_checked)
{
    const tent_t data[] = {
        {"feat/training/a.csv", 'f', "a\n1\n", 0, NULL},
        {"feat/test/a.csv", 'f', "a\n1\n", 0, NULL},
    };
    kaos_expect(data, 2, KAOS_DATA, NULL);
    kaos_expect(data + 1, 1, KAOS_DATA, "Missing training directory in data bundle");
    const tent_t params[] = {
        {"grid/a.json", 'f', "{\"depth\": 3}", 0, NULL},
        {"grid/b.json", 'f', "{\"depth\": 4}", 0, NULL},
        {"grid/README", 'f', "ignored", 0, NULL},
    };
    blob_t b = make_archive_fmt(params, 3, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    kaos_scan_t scan;
    err_t e;
    ck_assert_int_eq(kaos_scan_blob(&b, KAOS_PARAMS, &scan, &e), 0);
    ck_assert_uint_eq(json_object_array_length(scan.files), 2);
    json_object_put(scan.files);
    free(b.buf);
    const tent_t bad[] = {{"a.json", 'f', "[1, 2]", 0, NULL}};
    kaos_expect(bad, 1, KAOS_PARAMS, "is not a JSON object");
    const tent_t dup[] = {{"x/a.json", 'f', "{}", 0, NULL}, {"y/a.json", 'f', "{}", 0, NULL}};
    kaos_expect(dup, 2, KAOS_PARAMS, "Duplicate hyperparameter file name");
    kaos_expect(params + 2, 1, KAOS_PARAMS, "Bundle must be non-empty");
}
END_TEST

START_TEST(bundle_kaos_extract_makes_no_links)
{
    const tent_t ents[] = {
        {"proj/Dockerfile", 'f', "FROM x\n", 0, NULL},
        {"proj/model/train", 'f', "#!/bin/sh\n", 0, NULL},
        {"proj/model/link", 's', NULL, 0, "/etc/passwd"},
    };
    blob_t b = make_archive_fmt(ents, 3, FILT_NONE, ARCHIVE_FORMAT_ZIP);
    char dir[] = "/tmp/ty-unit-kaos.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int dfd = open(dir, O_DIRECTORY | O_RDONLY);
    memsrc_t s = {b.buf, b.len, 0, 0, 0, 0};
    err_t e;
    err_clear(&e);
    int rc = kaos_bundle_extract(mem_read, &s, dfd, &e);
    struct stat st;
    if (rc == 0) { /* a zip's local header has no type: at worst a file holding the target */
        ck_assert_int_eq(fstatat(dfd, "proj/model/link", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert(!S_ISLNK(st.st_mode));
    }
    ck_assert_int_eq(fstatat(dfd, "proj/model/train", &st, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert(S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0);
    close(dfd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(b.buf);
}
END_TEST

/* KAOS's own hyperparameter upload: a JSON object of lists, one run per
 * combination (the last parameter fastest), named k=v_k=v.json, zipped as
 * a params bundle the scan accepts. */
START_TEST(bundle_kaos_grid_expanded)
{
    const char grid[] = "{\"alpha\": [0.1, 1], \"act\": [\"relu\", \"tanh\"], \"seed\": 7}";
    FILE *zip = tmpfile();
    ck_assert_ptr_nonnull(zip);
    json_object *runs;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(kaos_params_grid(grid, strlen(grid), "abc", zip, &runs, &e), 0);
    ck_assert_int_eq((int)json_object_array_length(runs), 4);
    ck_assert_str_eq(json_object_to_json_string_ext(json_object_array_get_idx(runs, 1),
                                                    JSON_C_TO_STRING_PLAIN),
                     "{\"alpha\":0.1,\"act\":\"tanh\",\"seed\":7}");
    json_object_put(runs);
    fseek(zip, 0, SEEK_END);
    long n = ftell(zip);
    rewind(zip);
    blob_t b = {malloc((size_t)n), (size_t)n};
    ck_assert_int_eq((long)fread(b.buf, 1, (size_t)n, zip), n);
    fclose(zip);
    kaos_scan_t scan;
    ck_assert_int_eq(kaos_scan_blob(&b, KAOS_PARAMS, &scan, &e), 0);
    ck_assert_int_eq((int)json_object_array_length(scan.files), 4);
    json_object *name;
    json_object_object_get_ex(json_object_array_get_idx(scan.files, 0), "path", &name);
    ck_assert_str_eq(json_object_get_string(name), "abc/alpha=0.1_act=relu_seed=7.json");
    json_object_put(scan.files);
    json_object_put(scan.folders);
    free(b.buf);

    /* {} is no grid at all: one empty run, nothing written */
    ck_assert_int_eq(kaos_params_grid("{}", 2, "x", NULL, &runs, &e), 0);
    ck_assert_str_eq(json_object_to_json_string_ext(runs, JSON_C_TO_STRING_PLAIN), "[{}]");
    json_object_put(runs);
    /* refusals name the parameter and the reason */
    static const struct { const char *json, *message; int status; } bad[] = {
        {"{\"lr\": []}", "hyperparameter \"lr\" has an empty list of values", 400},
        {"[1, 2]", "a JSON object of parameter -> list of values", 400},
        {"{\"a\": [1,", "a JSON object", 400},
        {"{\"a\": [1,2,3,4,5,6,7,8,9,10], \"b\": [1,2,3,4,5,6,7,8,9,10],"
         " \"c\": [1,2,3,4,5,6,7,8,9,10], \"d\": [1, 2]}", "more than 1000 runs", 400},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        ck_assert_int_eq(kaos_params_grid(bad[i].json, strlen(bad[i].json), "x", NULL, &runs, &e),
                         -1);
        ck_assert_int_eq(e.status, bad[i].status);
        ck_assert_msg(strstr(err_message(&e), bad[i].message) != NULL, "%s", err_message(&e));
        ck_assert_ptr_null(runs);
    }
    ck_assert(kaos_params_is_grid(" \n{\"a\": 1}", 9));
    ck_assert(!kaos_params_is_grid("PK\003\004", 4));
}
END_TEST

Suite *suite_bundle(void)
{
    const TTest *const t[] = {
        bundle_good_bundle_inspected,
        bundle_plain_tar_xz_and_gnutar_accepted,
        bundle_non_ascii_names_accepted,
        bundle_zip_accepted_garbage_refused,
        bundle_traversal_refused,
        bundle_backslash_and_control_refused,
        bundle_ustar_prefix_trick_refused,
        bundle_links_and_specials_refused,
        bundle_spec_problems_refused,
        bundle_duplicates_refused,
        bundle_too_many_entries_refused,
        bundle_bomb_refused,
        bundle_spec_size_capped,
        bundle_chunked_reads_agree,
        bundle_extract_streams_exact_content,
        bundle_extract_refuses_missing_and_unsafe,
        bundle_read_errors_propagate,
        bundle_kaos_source_layout_checked,
        bundle_kaos_data_and_params_checked,
        bundle_kaos_extract_makes_no_links,
        bundle_kaos_grid_expanded,
    };
    return unit_suite("bundle", t, sizeof(t) / sizeof(t[0]));
}
