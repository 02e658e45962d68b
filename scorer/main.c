/*
 * scorer/main.c — trainyard-score, the C scorer: rows of a CSV scored with a
 * downloaded model (the .tar.gz of GET /api/v1/models/{id}/download, or the
 * folder it was unpacked in), with nothing of the service running.
 *
 *   trainyard-score MODEL.tar.gz|DIR [ROWS.csv] > predictions.csv
 *
 * It reads only model.ubj and preprocess.json, and scores with the engine's
 * own code over libxgboost (ml/model.h: the encoding of preprocess.json,
 * in-place prediction; ml/csv.h: the reader, delimiter sniffed), so its
 * answers are the API's bit for bit. Output: a header, then one line per
 * input row in order, `<target>[,Probability <target> is <class>...],error`,
 * the numbers printed with 9 significant digits (a float32 round-trips).
 * A row the model refuses (a value of the wrong type) has an empty
 * prediction and its reason in `error`; a malformed CSV stops with exit 1.
 *
 * Memory is one batch of rows (SCORE_BATCH) whatever the file's size.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/csv.h"
#include "ml/model.h"

#define SCORE_BATCH 1024
#define SCORE_MAX_FILE (1024L * 1024 * 1024) /* model.ubj, preprocess.json */

typedef struct score {
    ml_model_t *model;
    const char *target;
    int regression;
    size_t k;
    char **prob_keys;        /* "Probability <target> is <class>" */
    size_t ncols;
    char **names;            /* the CSV's header */
    json_object *rows;       /* the pending batch */
    size_t queued;
    unsigned long long scored;
} score_t;

static int die(const char *what, const char *detail)
{
    fprintf(stderr, "trainyard-score: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* A whole file into a malloc'd, NUL-terminated buffer. */
static char *read_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > (size_t)SCORE_MAX_FILE + 65536 + 1) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* model.ubj and preprocess.json from a folder or a tar.gz (libarchive:
 * regular entries only, matched by their base name). */
static int load_files(const char *src, char **ubj, size_t *ubj_len, char **pre, size_t *pre_len)
{
    struct stat st;
    *ubj = *pre = NULL;
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/model.ubj", src);
        *ubj = read_path(path, ubj_len);
        snprintf(path, sizeof(path), "%s/preprocess.json", src);
        *pre = read_path(path, pre_len);
        return *ubj != NULL && *pre != NULL ? 0 : -1;
    }
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, src, 65536) != ARCHIVE_OK) {
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *en;
    while (archive_read_next_header(a, &en) == ARCHIVE_OK) {
        if (archive_entry_filetype(en) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(en);
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        char **dst = strcmp(base, "model.ubj") == 0         ? ubj
                     : strcmp(base, "preprocess.json") == 0 ? pre
                                                            : NULL;
        la_int64_t size = archive_entry_size(en);
        if (dst == NULL || *dst != NULL || size < 0 || size > SCORE_MAX_FILE)
            continue;
        *dst = malloc((size_t)size + 1);
        if (*dst == NULL ||
            archive_read_data(a, *dst, (size_t)size) != (la_ssize_t)size) {
            archive_read_free(a);
            return -1;
        }
        (*dst)[size] = '\0';
        *(dst == ubj ? ubj_len : pre_len) = (size_t)size;
    }
    archive_read_free(a);
    return *ubj != NULL && *pre != NULL ? 0 : -1;
}

/* One CSV cell: quoted when it holds a comma, quote or line end. */
static void put_cell(int first, const char *s)
{
    if (!first)
        fputc(',', stdout);
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, stdout);
        return;
    }
    fputc('"', stdout);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', stdout);
        fputc(*s, stdout);
    }
    fputc('"', stdout);
}

static void put_number(json_object *v)
{
    char buf[64];
    fputc(',', stdout);
    if (v == NULL)
        return;
    snprintf(buf, sizeof(buf), "%.9g", (double)(float)json_object_get_double(v));
    fputs(buf, stdout);
}

static void put_prediction(const score_t *s, json_object *p, const char *error)
{
    json_object *v = NULL;
    if (p != NULL)
        json_object_object_get_ex(p, s->target, &v);
    if (s->regression) {
        if (v != NULL) {
            char buf[64];
            snprintf(buf, sizeof(buf), "%.9g", (double)(float)json_object_get_double(v));
            fputs(buf, stdout);
        }
    } else {
        put_cell(1, v ? json_object_get_string(v) : NULL);
        for (size_t c = 0; c < s->k; c++) {
            v = NULL;
            if (p != NULL)
                json_object_object_get_ex(p, s->prob_keys[c], &v);
            put_number(v);
        }
    }
    put_cell(0, error);
    fputc('\n', stdout);
}

/* Scores the pending batch; a batch the engine refuses (a bad value) is
 * scored row by row, so that only the bad rows go without. */
static int flush(score_t *s, err_t *e)
{
    if (s->queued == 0)
        return 0;
    json_object *preds = NULL;
    err_t pe;
    err_clear(&pe);
    if (ml_model_predict(s->model, s->rows, &preds, &pe) == 0) {
        for (size_t i = 0; i < s->queued; i++)
            put_prediction(s, json_object_array_get_idx(preds, i), NULL);
        json_object_put(preds);
    } else if (pe.status == 422) {
        for (size_t i = 0; i < s->queued; i++) {
            json_object *one = json_object_new_array(), *p = NULL;
            json_object_array_add(one, json_object_get(json_object_array_get_idx(s->rows, i)));
            err_clear(&pe);
            if (ml_model_predict(s->model, one, &p, &pe) == 0) {
                put_prediction(s, json_object_array_get_idx(p, 0), NULL);
                json_object_put(p);
            } else if (pe.status == 422) {
                const char *field = pe.count > 0 ? strrchr(pe.items[0].field, '/') : NULL;
                char msg[ERR_MESSAGE_MAX + 200];
                snprintf(msg, sizeof(msg), "%s: %s", field ? field + 1 : "row",
                         pe.count > 0 ? pe.items[0].message : err_message(&pe));
                put_prediction(s, NULL, msg);
            } else {
                json_object_put(one);
                *e = pe;
                return -1;
            }
            json_object_put(one);
        }
    } else {
        *e = pe;
        return -1;
    }
    s->scored += s->queued;
    json_object_put(s->rows);
    s->rows = json_object_new_array();
    s->queued = 0;
    return 0;
}

static int on_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                     err_t *e)
{
    (void)line;
    score_t *s = ctx;
    if (s->names == NULL) {
        s->ncols = n;
        s->names = calloc(n + 1, sizeof(char *));
        if (s->names == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < n; i++)
            if ((s->names[i] = strndup(cells[i].ptr, cells[i].len)) == NULL)
                return err_set(e, 500, "internal", "out of memory");
        return 0;
    }
    json_object *row = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        json_object_object_add(row, s->names[i],
                               csv_cell_is_missing(cells[i].ptr, cells[i].len)
                                   ? NULL
                                   : json_object_new_string_len(cells[i].ptr, (int)cells[i].len));
    json_object_array_add(s->rows, row);
    return ++s->queued == SCORE_BATCH ? flush(s, e) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: trainyard-score MODEL.tar.gz|DIR [ROWS.csv] > predictions.csv\n"
                        "  scores the CSV's rows (stdin without a file) as the API does\n");
        return 2;
    }
    char *ubj, *pre_text;
    size_t ubj_len = 0, pre_len = 0;
    if (load_files(argv[1], &ubj, &ubj_len, &pre_text, &pre_len) != 0)
        return die("no model.ubj and preprocess.json in", argv[1]);
    json_object *pre = json_tokener_parse(pre_text);
    json_object *v = NULL;
    if (pre == NULL || !json_object_object_get_ex(pre, "version", &v) ||
        (json_object_get_int(v) != 1 && json_object_get_int(v) != 2))
        return die("preprocess.json: not version 1 or 2 of the schema (scorer/README.md)", NULL);
    err_t e;
    err_clear(&e);
    score_t s = {.rows = json_object_new_array()};
    s.model = ml_model_load(ubj, ubj_len, pre, &e);
    if (s.model == NULL)
        return die("could not load the model", err_message(&e));
    json_object *task = NULL, *target = NULL, *classes = NULL;
    json_object_object_get_ex(pre, "task", &task);
    json_object_object_get_ex(pre, "target", &target);
    json_object_object_get_ex(pre, "classes", &classes);
    s.target = json_object_get_string(target);
    s.regression = task != NULL && strcmp(json_object_get_string(task), "regression") == 0;
    s.k = s.regression || classes == NULL ? 0 : json_object_array_length(classes);
    s.prob_keys = calloc(s.k + 1, sizeof(char *));
    put_cell(1, s.target);
    for (size_t c = 0; c < s.k; c++) {
        const char *name = json_object_get_string(json_object_array_get_idx(classes, c));
        size_t n = strlen(s.target) + strlen(name) + 32;
        s.prob_keys[c] = malloc(n);
        snprintf(s.prob_keys[c], n, "Probability %s is %s", s.target, name);
        put_cell(0, s.prob_keys[c]);
    }
    put_cell(0, "error");
    fputc('\n', stdout);

    FILE *in = argc == 3 ? fopen(argv[2], "rb") : stdin;
    if (in == NULL)
        return die("could not open", argv[2]);
    csv_reader_t *rd = csv_reader_new(NULL, on_record, &s);
    char buf[65536];
    int rc = 0;
    size_t got;
    while (rc == 0 && (got = fread(buf, 1, sizeof(buf), in)) > 0)
        rc = csv_reader_feed(rd, buf, got, &e);
    if (rc == 0)
        rc = csv_reader_finish(rd, &e);
    if (rc == 0)
        rc = flush(&s, &e);
    csv_reader_free(rd);
    if (in != stdin)
        fclose(in);
    int status = 0;
    if (rc != 0)
        status = die("stopped", err_message(&e));
    for (size_t i = 0; i < s.ncols; i++)
        free(s.names[i]);
    free(s.names);
    for (size_t c = 0; c < s.k; c++)
        free(s.prob_keys[c]);
    free(s.prob_keys);
    json_object_put(s.rows);
    ml_model_free(s.model);
    json_object_put(pre);
    free(ubj);
    free(pre_text);
    if (fflush(stdout) != 0)
        return die("could not write", strerror(errno));
    return status;
}
