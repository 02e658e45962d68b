/*
 * kaos.c — KAOS's code, data and hyperparameter bundles (see kaos.h).
 *
 * The walk (bundle.c) has already refused links, devices, traversal,
 * duplicates and bombs by the time a path reaches us; here we only look at
 * the shape of the tree. The paths of one bundle are kept in a JSON array
 * while it is walked (at most max_entries of them), and judged at the end.
 */
#include "bundle/kaos.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct scan_ctx {
    kaos_kind_t kind;
    json_object *paths;     /* [[path, is_dir], ...] */
    json_object *files;     /* params */
    char *buf;              /* the current hyperparameter file */
    size_t len;
    const char *cur;        /* its path */
} scan_ctx_t;

static int param_sink(void *p, const void *buf, size_t n, err_t *e)
{
    scan_ctx_t *s = p;
    if (buf == NULL) { /* the end of the file: parse it */
        json_tokener *tok = json_tokener_new_ex(32);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        json_object *doc = s->len ? json_tokener_parse_ex(tok, s->buf, (int)s->len) : NULL;
        int ok = doc != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                 json_object_is_type(doc, json_type_object);
        json_tokener_free(tok);
        if (!ok) {
            json_object_put(doc);
            return err_set(e, 400, "INVALID_BUNDLE",
                           "Hyperparameter file %s is not a JSON object", s->cur);
        }
        const char *base = strrchr(s->cur, '/');
        base = base ? base + 1 : s->cur;
        for (size_t i = 0; i < json_object_array_length(s->files); i++) {
            json_object *f = json_object_array_get_idx(s->files, i), *nm;
            json_object_object_get_ex(f, "name", &nm);
            if (strcmp(json_object_get_string(nm), base) == 0) {
                json_object_put(doc);
                return err_set(e, 400, "INVALID_BUNDLE",
                               "Duplicate hyperparameter file name: %s", base);
            }
        }
        json_object *f = json_object_new_object();
        json_object_object_add(f, "name", json_object_new_string(base));
        json_object_object_add(f, "path", json_object_new_string(s->cur));
        json_object_object_add(f, "params", doc);
        json_object_array_add(s->files, f);
        s->len = 0;
        return 0;
    }
    if (n > KAOS_PARAM_MAX - s->len)
        return err_set(e, 413, "INVALID_BUNDLE",
                       "Hyperparameter file %s is larger than %d bytes", s->cur, KAOS_PARAM_MAX);
    memcpy(s->buf + s->len, buf, n);
    s->len += n;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Clutter archivers add: never part of a layout. */
static int is_clutter(const char *path)
{
    return strncmp(path, "__MACOSX", 8) == 0 || strstr(path, ".DS_Store") != NULL;
}

static int scan_visit(void *p, const char *path, int is_dir,
                      int (**sink)(void *, const void *, size_t, err_t *), void **sink_ctx,
                      err_t *e)
{
    (void)e;
    scan_ctx_t *s = p;
    if (is_clutter(path))
        return 0;
    json_object *pair = json_object_new_array();
    json_object_array_add(pair, json_object_new_string(path));
    json_object_array_add(pair, json_object_new_boolean(is_dir));
    json_object_array_add(s->paths, pair);
    if (s->kind == KAOS_PARAMS && !is_dir && ends_with(path, ".json")) {
        s->cur = json_object_get_string(json_object_array_get_idx(pair, 0));
        s->len = 0;
        *sink = param_sink;
        *sink_ctx = s;
    }
    return 0;
}

/* Does the tree hold path (as a file when want_dir is 0, a directory when
 * 1)? Directories are also implied by the files under them. */
static int tree_has(json_object *paths, const char *path, int want_dir)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < json_object_array_length(paths); i++) {
        json_object *pair = json_object_array_get_idx(paths, i);
        const char *p = json_object_get_string(json_object_array_get_idx(pair, 0));
        int d = json_object_get_boolean(json_object_array_get_idx(pair, 1));
        if (strcmp(p, path) == 0 && d == want_dir)
            return 1;
        if (want_dir && strncmp(p, path, n) == 0 && p[n] == '/')
            return 1;
    }
    return 0;
}

/* The one root folder of the tree, into root: -1 with "Too many
 * directories" (two root folders) or "Missing root directory" (none). As
 * in KAOS's validator, only folders count: a file beside the root folder
 * is left alone (and never reaches the sandbox, which binds the folder). */
static int tree_root(json_object *paths, char *root, size_t cap, const char *what, err_t *e)
{
    root[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(paths); i++) {
        json_object *pair = json_object_array_get_idx(paths, i);
        const char *p = json_object_get_string(json_object_array_get_idx(pair, 0));
        int d = json_object_get_boolean(json_object_array_get_idx(pair, 1));
        const char *slash = strchr(p, '/');
        size_t seg = slash ? (size_t)(slash - p) : strlen(p);
        if (!slash && !d)
            continue; /* a loose file at the top */
        if (seg >= cap)
            return err_set(e, 400, "INVALID_BUNDLE", "Folder name too long in %s bundle", what);
        if (root[0] == '\0') {
            memcpy(root, p, seg);
            root[seg] = '\0';
        } else if (strlen(root) != seg || strncmp(root, p, seg) != 0) {
            return err_set(e, 400, "INVALID_BUNDLE", "Too many directories in %s bundle", what);
        }
    }
    if (root[0] == '\0')
        return err_set(e, 400, "INVALID_BUNDLE", "Missing root directory in %s bundle", what);
    return 0;
}

static int check_code(scan_ctx_t *s, kaos_scan_t *out, err_t *e)
{
    if (tree_root(s->paths, out->root, sizeof(out->root), "source-code", e) != 0)
        return -1;
    char p[KAOS_NAME_MAX + 64];
    snprintf(p, sizeof(p), "%s/Dockerfile", out->root);
    if (!tree_has(s->paths, p, 0))
        return err_set(e, 400, "INVALID_BUNDLE", "Missing Dockerfile in source-code bundle");
    snprintf(p, sizeof(p), "%s/model", out->root);
    if (!tree_has(s->paths, p, 1))
        return err_set(e, 400, "INVALID_BUNDLE", "Missing model directory in source-code bundle");
    static const char *const need[] = {"__init__.py", "requirements.txt", "train"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/model/%s", out->root, need[i]);
        if (!tree_has(s->paths, p, 0))
            return err_set(e, 400, "INVALID_BUNDLE",
                           "Missing file %s in model directory of source-code bundle",
                           need[i]);
    }
    return 0;
}

static int check_data(scan_ctx_t *s, kaos_scan_t *out, err_t *e)
{
    if (tree_root(s->paths, out->root, sizeof(out->root), "data", e) != 0)
        return -1;
    static const char *const sub[] = {"training", "validation", "test"};
    out->folders = json_object_new_array();
    char p[KAOS_NAME_MAX + 64];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", out->root, sub[i]);
        if (tree_has(s->paths, p, 1))
            json_object_array_add(out->folders, json_object_new_string(sub[i]));
    }
    snprintf(p, sizeof(p), "%s/training", out->root);
    if (!tree_has(s->paths, p, 1))
        return err_set(e, 400, "INVALID_BUNDLE", "Missing training directory in data bundle");
    return 0;
}

int kaos_bundle_scan(bundle_read_fn read_fn, void *ctx, kaos_kind_t kind, kaos_scan_t *out,
                     err_t *e)
{
    memset(out, 0, sizeof(*out));
    scan_ctx_t s = {kind, json_object_new_array(), json_object_new_array(), NULL, 0, NULL};
    s.buf = malloc(KAOS_PARAM_MAX);
    if (s.buf == NULL)
        abort();
    bundle_walk_stats_t st;
    int rc = -1;
    if (bundle_walk(read_fn, ctx, &bundle_limits_default, scan_visit, &s, &st, e) != 0)
        goto out;
    out->zip = st.zip;
    out->entries = st.entries;
    out->total_bytes = st.total_bytes;
    if (json_object_array_length(s.paths) == 0) {
        err_set(e, 400, "INVALID_BUNDLE", "Bundle must be non-empty");
        goto out;
    }
    switch (kind) {
    case KAOS_CODE:
        if (tree_has(s.paths, "trainyard.json", 0)) {
            out->spec_bundle = 1;
            rc = 0;
        } else {
            rc = check_code(&s, out, e);
        }
        break;
    case KAOS_DATA:
        rc = check_data(&s, out, e);
        break;
    case KAOS_PARAMS:
        if (json_object_array_length(s.files) == 0) {
            err_set(e, 400, "INVALID_BUNDLE",
                    "Bundle must be non-empty: no hyperparameter (.json) files");
            goto out;
        }
        out->files = json_object_get(s.files);
        rc = 0;
        break;
    }
out:
    if (rc != 0 && out->folders != NULL) {
        json_object_put(out->folders);
        out->folders = NULL;
    }
    json_object_put(s.paths);
    json_object_put(s.files);
    free(s.buf);
    return rc;
}

/* --- KAOS's hyperparameter grid ------------------------------------------------ */

int kaos_params_is_grid(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')
            continue;
        return buf[i] == '{';
    }
    return 0;
}

/* Appends v to a file name as KAOS does (str() of the value), keeping only
 * characters safe in a file name: the others become '_'. Returns 1 when
 * it had to change or cut the text (two runs might then share a name). */
static int grid_name_add(char *name, size_t cap, size_t *o, const char *s)
{
    int changed = 0;
    for (; *s && *o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        int ok = isalnum(c) || c == '.' || c == '=' || c == '-' || c == '_';
        name[(*o)++] = ok ? (char)c : '_';
        changed |= !ok;
    }
    name[*o] = '\0';
    return changed || *s != '\0';
}

static int grid_zip_add(struct archive *a, const char *path, const char *data, err_t *e)
{
    struct archive_entry *en = archive_entry_new();
    archive_entry_set_pathname(en, path);
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_size(en, (la_int64_t)strlen(data));
    int ok = archive_write_header(a, en) == ARCHIVE_OK &&
             archive_write_data(a, data, strlen(data)) == (la_ssize_t)strlen(data);
    archive_entry_free(en);
    return ok ? 0 : err_set(e, 500, "internal", "could not write the grid's zip: %s",
                            archive_error_string(a));
}

int kaos_params_grid(const char *json, size_t len, const char *folder, FILE *zip,
                     json_object **runs, err_t *e)
{
    *runs = NULL;
    if (len > KAOS_GRID_MAX_BYTES)
        return err_set(e, 413, "INVALID_BUNDLE",
                       "data: a hyperparameter grid is at most %d bytes", KAOS_GRID_MAX_BYTES);
    json_tokener *tok = json_tokener_new_ex(32);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *grid = json_tokener_parse_ex(tok, json, (int)len);
    int ok = grid != NULL && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(grid, json_type_object);
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(grid);
        return err_set(e, 400, "INVALID_BUNDLE",
                       "data: a hyperparameter grid is a JSON object of parameter -> list of "
                       "values");
    }
    size_t nkeys = (size_t)json_object_object_length(grid);
    const char **keys = calloc(nkeys + 1, sizeof(*keys));
    json_object **vals = calloc(nkeys + 1, sizeof(*vals));
    size_t *count = calloc(nkeys + 1, sizeof(*count)), *at = calloc(nkeys + 1, sizeof(*at));
    if (keys == NULL || vals == NULL || count == NULL || at == NULL)
        abort();
    int rc = -1;
    size_t k = 0, total = 1;
    struct archive *a = NULL;
    json_object *seen = NULL;
    json_object_object_foreach(grid, key, val) {
        keys[k] = key;
        vals[k] = val;
        count[k] = json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 1;
        if (count[k] == 0) {
            err_set(e, 400, "INVALID_BUNDLE",
                    "data: hyperparameter \"%.100s\" has an empty list of values", key);
            goto out;
        }
        if (total > KAOS_GRID_MAX_RUNS / count[k]) {
            err_set(e, 400, "INVALID_BUNDLE",
                    "data: the hyperparameter grid makes more than %d runs", KAOS_GRID_MAX_RUNS);
            goto out;
        }
        total *= count[k];
        k++;
    }
    *runs = json_object_new_array();
    seen = json_object_new_object(); /* the runs' file names, as a set */
    if (zip != NULL && nkeys > 0) {
        a = archive_write_new();
        if (a == NULL || archive_write_set_format_zip(a) != ARCHIVE_OK ||
            archive_write_open_FILE(a, zip) != ARCHIVE_OK) {
            err_set(e, 500, "internal", "could not start the grid's zip");
            goto out;
        }
    }
    for (size_t run = 0; run < total; run++) {
        json_object *one = json_object_new_object();
        char name[KAOS_NAME_MAX];
        size_t o = 0, cap = sizeof(name) - 16;
        int changed = 0;
        name[0] = '\0';
        for (size_t i = 0; i < nkeys; i++) {
            json_object *v = json_object_is_type(vals[i], json_type_array)
                                 ? json_object_array_get_idx(vals[i], at[i])
                                 : vals[i];
            json_object_object_add(one, keys[i], json_object_get(v));
            if (i > 0)
                changed |= grid_name_add(name, cap, &o, "_");
            changed |= grid_name_add(name, cap, &o, keys[i]);
            changed |= grid_name_add(name, cap, &o, "=");
            changed |= grid_name_add(name, cap, &o,
                                     json_object_is_type(v, json_type_string)
                                         ? json_object_get_string(v)
                                         : json_object_to_json_string_ext(
                                               v, JSON_C_TO_STRING_PLAIN));
        }
        /* ".DS_Store" marks clutter the scan skips (is_clutter): never in a
         * run's name. */
        for (char *ds = strstr(name, ".DS_Store"); ds != NULL; ds = strstr(ds, ".DS_Store")) {
            *ds = '_';
            changed = 1;
        }
        /* A name that had to be changed or cut, or that an earlier run
         * already has (a value listed twice, or values holding '_' and '='),
         * gets the run's number after a '~', which no unchanged name holds:
         * every run keeps a file of its own. */
        if (changed || json_object_object_get_ex(seen, name, NULL))
            snprintf(name + o, sizeof(name) - o, "~%zu", run);
        json_object_object_add(seen, name, NULL);
        json_object_array_add(*runs, one);
        if (a != NULL) {
            char path[KAOS_NAME_MAX * 2];
            snprintf(path, sizeof(path), "%s/%s.json", folder, name);
            if (grid_zip_add(a, path, json_object_to_json_string_ext(one, JSON_C_TO_STRING_PLAIN),
                             e) != 0)
                goto out;
        }
        /* the next combination: the last parameter varies fastest */
        for (size_t i = nkeys; i-- > 0;) {
            if (++at[i] < count[i])
                break;
            at[i] = 0;
        }
    }
    if (a != NULL && (archive_write_close(a) != ARCHIVE_OK || fflush(zip) != 0)) {
        err_set(e, 500, "internal", "could not finish the grid's zip");
        goto out;
    }
    rc = 0;
out:
    if (a != NULL)
        archive_write_free(a);
    if (rc != 0) {
        json_object_put(*runs);
        *runs = NULL;
    }
    free(keys);
    free(vals);
    free(count);
    free(at);
    json_object_put(seen);
    json_object_put(grid); /* *runs holds its own references */
    return rc;
}

/* --- extraction ------------------------------------------------------------- */

typedef struct extract_ctx {
    int dirfd;
    int fd;                 /* the file being written, -1 between files */
    char root[KAOS_NAME_MAX];
} extract_ctx_t;

static int file_sink(void *p, const void *buf, size_t n, err_t *e)
{
    extract_ctx_t *x = p;
    if (buf == NULL) {
        int rc = close(x->fd);
        x->fd = -1;
        return rc == 0 ? 0 : err_set(e, 500, "internal", "writing the bundle: %s",
                                     strerror(errno));
    }
    const char *q = buf;
    while (n > 0) {
        ssize_t k = write(x->fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 500, "internal", "writing the bundle: %s", strerror(errno));
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

/* mkdir -p of path's directories under dirfd (all ours: never a link). */
static int make_parents(int dirfd, const char *path, int with_last, err_t *e)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *s = tmp; (s = strchr(s, '/')) != NULL || with_last; ) {
        if (s != NULL)
            *s = '\0';
        if (mkdirat(dirfd, tmp, 0755) != 0 && errno != EEXIST)
            return err_set(e, 500, "internal", "mkdir %s: %s", tmp, strerror(errno));
        fchmodat(dirfd, tmp, 0755, 0); /* whatever the umask (only ours: no links) */
        if (s == NULL)
            break;
        *s++ = '/';
    }
    return 0;
}

static int extract_visit(void *p, const char *path, int is_dir,
                         int (**sink)(void *, const void *, size_t, err_t *), void **sink_ctx,
                         err_t *e)
{
    extract_ctx_t *x = p;
    if (is_dir)
        return make_parents(x->dirfd, path, 1, e);
    if (make_parents(x->dirfd, path, 0, e) != 0)
        return -1;
    const char *slash = strchr(path, '/');
    int exec = slash != NULL && strcmp(slash, "/model/train") == 0;
    x->fd = openat(x->dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   exec ? 0755 : 0644);
    if (x->fd < 0)
        return err_set(e, 500, "internal", "create %s: %s", path, strerror(errno));
    fchmod(x->fd, exec ? 0755 : 0644); /* whatever the umask */
    *sink = file_sink;
    *sink_ctx = x;
    return 0;
}

int kaos_bundle_extract(bundle_read_fn read_fn, void *ctx, int dirfd, err_t *e)
{
    extract_ctx_t x = {dirfd, -1, ""};
    int rc = bundle_walk(read_fn, ctx, &bundle_limits_default, extract_visit, &x, NULL, e);
    if (x.fd >= 0)
        close(x.fd);
    return rc;
}
