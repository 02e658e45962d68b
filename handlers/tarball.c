/*
 * tarball.c — streaming tar.gz responses (see tarball.h).
 */
#include "handlers/tarball.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "db/artifacts.h"

struct tarball {
    request_t *r;
    struct archive *a;   /* owned; freed by tarball_end */
    int failed;          /* the client went away or libarchive failed */
};

static la_ssize_t tarball_write_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
    (void)a;
    tarball_t *t = ctx;
    if (req_reply_write(t->r, buf, n) != 0) {
        t->failed = 1;
        return -1;
    }
    return (la_ssize_t)n;
}

tarball_t *tarball_begin(request_t *r, const char *filename, err_t *e)
{
    return tarball_begin_as(r, filename, 0, e);
}

tarball_t *tarball_begin_as(request_t *r, const char *filename, int zip, err_t *e)
{
    tarball_t *t = arena_calloc(r->arena, 1, sizeof(*t));
    t->r = r;
    t->a = archive_write_new();
    if (t->a == NULL ||
        (zip ? archive_write_set_format_zip(t->a) != ARCHIVE_OK
             : archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
                   archive_write_add_filter_gzip(t->a) != ARCHIVE_OK) ||
        archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK) {
        if (t->a)
            archive_write_free(t->a);
        err_set(e, 500, "internal", "could not create an archive writer");
        return NULL;
    }
    req_header_add(r, "Content-Disposition",
                   arena_sprintf(r->arena, "attachment; filename=\"%s\"", filename));
    if (req_reply_begin(r, 200, zip ? "application/zip" : "application/gzip", -1) != 0 ||
        archive_write_open(t->a, t, NULL, tarball_write_cb, NULL) != ARCHIVE_OK) {
        archive_write_free(t->a);
        err_set(e, 500, "internal", "could not start the archive");
        return NULL;
    }
    return t;
}

const char *tarball_safe_name(arena_t *arena, const char *name)
{
    size_t n = strlen(name);
    if (n > 100)
        n = 100;
    char *out = arena_alloc(arena, n + 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = (isalnum(c) || c == '-' || c == '_' || c == '.') ? (char)c : '_';
    }
    out[n] = '\0';
    /* "", "." and ".." would name no directory or the parent. */
    if (n == 0 || strspn(out, ".") == n) {
        out[0] = '_';
        out[1] = '\0';
    }
    return out;
}

/* An entry path this module writes never leaves the archive's root, even
 * if a caller built it from untrusted text. */
static int tarball_path_ok(const char *path)
{
    if (path[0] == '/' || path[0] == '\0')
        return 0;
    for (const char *p = path; *p != '\0';) {
        size_t seg = strcspn(p, "/");
        if ((seg == 2 && p[0] == '.' && p[1] == '.') || seg == 0)
            return 0;
        p += seg;
        if (*p == '/')
            p++;
    }
    return 1;
}

int tarball_add_header(tarball_t *t, const char *path, size_t size, err_t *e)
{
    if (!tarball_path_ok(path))
        return err_set(e, 500, "internal", "archive: refusing the entry path \"%s\"", path);
    struct archive_entry *entry = archive_entry_new();
    archive_entry_set_pathname(entry, path);
    archive_entry_set_size(entry, (la_int64_t)size);
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, time(NULL), 0);
    int rc = archive_write_header(t->a, entry);
    archive_entry_free(entry);
    if (rc != ARCHIVE_OK)
        return err_set(e, 500, "internal", "archive: %s", archive_error_string(t->a));
    return 0;
}

int tarball_add_bytes(tarball_t *t, const char *path, const void *buf, size_t n, err_t *e)
{
    if (tarball_add_header(t, path, n, e) != 0)
        return -1;
    if (n > 0 && archive_write_data(t->a, buf, n) != (la_ssize_t)n)
        return err_set(e, 500, "internal", "archive: %s", archive_error_string(t->a));
    return 0;
}

int tarball_write(tarball_t *t, const void *buf, size_t n, err_t *e)
{
    if (archive_write_data(t->a, buf, n) != (la_ssize_t)n)
        return err_set(e, 500, "internal", "archive: %s", archive_error_string(t->a));
    return 0;
}

static int tarball_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    return tarball_write(ctx, buf, n, e);
}

int tarball_add_artifact(tarball_t *t, db_t *db, const char *path, const char *artifact_id,
                         err_t *e)
{
    artifact_info_t info;
    if (db_artifact_stat(db, t->r->arena, artifact_id, &info, e) != 0)
        return -1;
    if (tarball_add_header(t, path, (size_t)info.size, e) != 0)
        return -1;
    return db_artifact_read(db, artifact_id, tarball_sink, t, e);
}

int tarball_end(tarball_t *t, err_t *e)
{
    int rc = archive_write_close(t->a) == ARCHIVE_OK && !t->failed ? 0 : -1;
    archive_write_free(t->a);
    if (rc != 0)
        err_set(e, 500, "internal", "the archive could not be completed");
    req_reply_end(t->r);
    return rc;
}
