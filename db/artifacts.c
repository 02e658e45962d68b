/*
 * artifacts.c — chunked blobs in PostgreSQL (see artifacts.h).
 *
 * Writing: the artifacts row is inserted first (the chunks reference it),
 * then one COPY ... FROM STDIN (FORMAT binary) carries every chunk: binary
 * COPY sends bytea as raw bytes (no hex or escape pass on either side).
 * Chunks are 64 KiB and the connection's send buffer is deep: the server
 * stops reading while it stores a chunk, and with 1 MiB chunks the uploader
 * and the server took turns (62 MB/s) instead of working at once (~100).
 * The writer holds one chunk and the running SHA-256; nothing else.
 *
 * Reading: one prepared query per chunk with a binary result, so a reader
 * holds at most one chunk too, and the connection is free between chunks.
 */
#include "db/artifacts.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARTIFACT_CHUNK (64 * 1024)

struct artifact_writer {
    db_t *db;
    char id[UUID_STR_LEN + 1];
    unsigned char uuid_raw[16];      /* id in COPY's binary form */
    unsigned char *buf;              /* the chunk being filled */
    size_t used;
    int seq;                         /* next chunk number */
    unsigned long long size;
    sha256_t *hash;
};

static const db_stmt_t stmt_insert = {
    "artifact_insert",
    "INSERT INTO artifacts (workspace_id, kind) VALUES ($1, $2) RETURNING id", 2};
static const db_stmt_t stmt_finish = {
    "artifact_finish", "UPDATE artifacts SET size = $2, sha256 = $3, chunks = $4 WHERE id = $1",
    4};
static const db_stmt_t stmt_chunk = {
    "artifact_chunk", "SELECT data FROM artifact_chunks WHERE artifact_id = $1 AND seq = $2", 2};
/* Readers that stream a whole artifact take ARTIFACT_READ_BATCH chunks per
 * round trip (1 MiB): chunks are small for the writer's sake, not theirs. */
#define ARTIFACT_READ_BATCH 16
#define ARTIFACT_STR(x) #x
#define ARTIFACT_XSTR(x) ARTIFACT_STR(x)
static const db_stmt_t stmt_chunks = {
    "artifact_chunks",
    "SELECT seq, data FROM artifact_chunks WHERE artifact_id = $1 AND seq >= $2 "
    "ORDER BY seq LIMIT " ARTIFACT_XSTR(ARTIFACT_READ_BATCH),
    2};
static const db_stmt_t stmt_stat = {
    "artifact_stat", "SELECT size, sha256, chunks FROM artifacts WHERE id = $1", 1};

static const unsigned char copy_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r',
                                              '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};

static void uuid_to_raw(const char *s, unsigned char out[16])
{
    int k = 0;
    for (const char *p = s; *p && k < 16; p++) {
        if (*p == '-')
            continue;
        out[k++] = (unsigned char)(util_hex_value(p[0]) << 4 | util_hex_value(p[1]));
        p++;
    }
}

static int copy_put(artifact_writer_t *w, const void *buf, size_t n, err_t *e)
{
    if (PQputCopyData(db_pg(w->db), buf, (int)n) != 1)
        return err_set(e, 503, "unavailable", "artifact upload: %s",
                       PQerrorMessage(db_pg(w->db)));
    return 0;
}

/* Sends the buffered chunk as one COPY tuple (artifact_id, seq, data). */
static int writer_flush(artifact_writer_t *w, err_t *e)
{
    if (w->used == 0)
        return 0;
    unsigned char head[2 + 4 + 16 + 4 + 4 + 4];
    unsigned char *p = head;
    uint16_t nf = htons(3);
    uint32_t v;
    memcpy(p, &nf, 2), p += 2;
    v = htonl(16), memcpy(p, &v, 4), p += 4;
    memcpy(p, w->uuid_raw, 16), p += 16;
    v = htonl(4), memcpy(p, &v, 4), p += 4;
    v = htonl((uint32_t)w->seq), memcpy(p, &v, 4), p += 4;
    v = htonl((uint32_t)w->used), memcpy(p, &v, 4), p += 4;
    if (copy_put(w, head, sizeof(head), e) != 0 || copy_put(w, w->buf, w->used, e) != 0)
        return -1;
    w->seq++;
    w->used = 0;
    return 0;
}

artifact_writer_t *db_artifact_begin(db_t *db, long long workspace_id, const char *kind,
                                     err_t *e)
{
    char ws[32];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    const char *p[2] = {ws, kind};
    PGresult *res = NULL;
    if (db_query(db, NULL, &stmt_insert, p, &res, e) != 0)
        return NULL;
    artifact_writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();
    w->db = db;
    snprintf(w->id, sizeof(w->id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    uuid_to_raw(w->id, w->uuid_raw);
    res = PQexec(db_pg(db), "COPY artifact_chunks (artifact_id, seq, data) FROM STDIN "
                            "(FORMAT binary)");
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        err_set(e, 503, "unavailable", "artifact upload: could not start COPY");
        PQclear(res);
        free(w);
        return NULL;
    }
    PQclear(res);
    /* A deep send buffer lets the uploader keep parsing while the server
     * stores the previous chunks (best effort: the kernel may cap it). */
    int sndbuf = 4 * 1024 * 1024;
    setsockopt(PQsocket(db_pg(db)), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    w->buf = malloc(ARTIFACT_CHUNK);
    w->hash = sha256_new();
    if (w->buf == NULL || w->hash == NULL)
        abort();
    if (copy_put(w, copy_header, sizeof(copy_header), e) != 0) {
        db_artifact_abort(w);
        return NULL;
    }
    return w;
}

int db_artifact_write(artifact_writer_t *w, const void *buf, size_t n, err_t *e)
{
    const unsigned char *p = buf;
    sha256_update(w->hash, buf, n);
    w->size += n;
    while (n > 0) {
        size_t take = ARTIFACT_CHUNK - w->used;
        if (take > n)
            take = n;
        memcpy(w->buf + w->used, p, take);
        w->used += take;
        p += take;
        n -= take;
        if (w->used == ARTIFACT_CHUNK && writer_flush(w, e) != 0)
            return -1;
    }
    return 0;
}

static void writer_free(artifact_writer_t *w)
{
    if (w->hash != NULL) {
        unsigned char discard[32];
        sha256_finish_raw(w->hash, discard);
    }
    free(w->buf);
    free(w);
}

int db_artifact_finish(artifact_writer_t *w, artifact_info_t *out, err_t *e)
{
    const unsigned char trailer[2] = {0xff, 0xff};
    if (writer_flush(w, e) != 0 || copy_put(w, trailer, 2, e) != 0) {
        db_artifact_abort(w);
        return -1;
    }
    PGconn *c = db_pg(w->db);
    int rc = -1;
    if (PQputCopyEnd(c, NULL) != 1) {
        err_set(e, 503, "unavailable", "artifact upload: %s", PQerrorMessage(c));
    } else {
        PGresult *res = PQgetResult(c);
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
            rc = 0;
        else if (PQstatus(c) != CONNECTION_OK || state == NULL ||
                 strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)
            /* The server went away (a restart): the caller may try again,
             * a trainer child waits for it rather than failing the job. */
            err_set(e, 503, "unavailable", "artifact upload: connection lost");
        else
            err_set(e, 500, "internal", "artifact upload failed: %s",
                    res ? PQresultErrorMessage(res) : PQerrorMessage(c));
        PQclear(res);
        while ((res = PQgetResult(c)) != NULL)
            PQclear(res);
    }
    artifact_info_t info;
    memset(&info, 0, sizeof(info));
    memcpy(info.id, w->id, sizeof(info.id));
    info.size = w->size;
    sha256_finish_hex(w->hash, info.sha256);
    w->hash = NULL;
    int chunks = w->seq;
    db_t *db = w->db;
    writer_free(w);
    if (rc != 0)
        return -1;
    char size[32], nchunks[16];
    snprintf(size, sizeof(size), "%llu", info.size);
    snprintf(nchunks, sizeof(nchunks), "%d", chunks);
    const char *p[4] = {info.id, size, info.sha256, nchunks};
    if (db_query(db, NULL, &stmt_finish, p, NULL, e) != 0)
        return -1;
    if (out)
        *out = info;
    return 0;
}

void db_artifact_abort(artifact_writer_t *w)
{
    if (w == NULL)
        return;
    PGconn *c = db_pg(w->db);
    if (c != NULL && PQputCopyEnd(c, "upload abandoned") == 1) {
        PGresult *res;
        while ((res = PQgetResult(c)) != NULL)
            PQclear(res);
    }
    writer_free(w);
}

int db_artifact_stat(db_t *db, arena_t *arena, const char *artifact_id, artifact_info_t *out,
                     err_t *e)
{
    (void)arena; /* nothing allocated outlives the call */
    if (!util_is_uuid(artifact_id))
        return err_set(e, 404, "not_found", "no artifact with id %s",
                       artifact_id ? artifact_id : "");
    const char *p[1] = {artifact_id};
    PGresult *res;
    if (db_query(db, NULL, &stmt_stat, p, &res, e) != 0)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 0) {
        rc = err_set(e, 404, "not_found", "no artifact with id %s", artifact_id);
    } else {
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", artifact_id);
        out->size = (unsigned long long)db_get_ll(res, 0, "size", 0);
        const char *h = db_get(res, 0, "sha256");
        snprintf(out->sha256, sizeof(out->sha256), "%s", h ? h : "");
    }
    PQclear(res);
    return rc;
}

int db_artifact_read(db_t *db, const char *artifact_id,
                     int (*sink)(void *ctx, const void *buf, size_t n, err_t *e), void *ctx,
                     err_t *e)
{
    artifact_info_t info;
    if (db_artifact_stat(db, NULL, artifact_id, &info, e) != 0)
        return -1;
    unsigned long long seen = 0;
    for (int seq = 0;;) {
        char s[16];
        snprintf(s, sizeof(s), "%d", seq);
        const char *p[2] = {artifact_id, s};
        PGresult *res = NULL;
        if (db_query_ex(db, NULL, &stmt_chunks, p, NULL, NULL, 1, &res, e) != 0)
            return -1;
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
            /* Binary results: seq is a big-endian int4. */
            uint32_t got_seq;
            memcpy(&got_seq, PQgetvalue(res, i, 0), sizeof(got_seq));
            if ((int)ntohl(got_seq) != seq) {
                PQclear(res);
                return err_set(e, 500, "internal", "artifact %s: chunk %d is missing",
                               artifact_id, seq);
            }
            size_t n = (size_t)PQgetlength(res, i, 1);
            if (sink(ctx, PQgetvalue(res, i, 1), n, e) != 0) {
                PQclear(res);
                return -1;
            }
            seen += n;
            seq++;
        }
        PQclear(res);
        if (rows < ARTIFACT_READ_BATCH)
            break;
    }
    if (seen != info.size)
        return err_set(e, 500, "internal", "artifact %s: read %llu bytes, expected %llu",
                       artifact_id, seen, info.size);
    return 0;
}

typedef struct load_ctx {
    unsigned char *buf;
    size_t used, cap;
} load_ctx_t;

static int load_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    load_ctx_t *l = ctx;
    if (n > l->cap - l->used)
        return err_set(e, 500, "internal", "artifact grew while being read");
    memcpy(l->buf + l->used, buf, n);
    l->used += n;
    return 0;
}

int db_artifact_load(db_t *db, arena_t *arena, const char *artifact_id, void **buf, size_t *n,
                     err_t *e)
{
    artifact_info_t info;
    if (db_artifact_stat(db, arena, artifact_id, &info, e) != 0)
        return -1;
    load_ctx_t l = {arena_alloc(arena, (size_t)info.size + 1), 0, (size_t)info.size};
    if (db_artifact_read(db, artifact_id, load_sink, &l, e) != 0)
        return -1;
    l.buf[l.used] = 0; /* convenient for JSON specs; not counted */
    *buf = l.buf;
    *n = l.used;
    return 0;
}

struct artifact_reader {
    db_t *db;
    char id[UUID_STR_LEN + 1];
    int seq;                 /* next chunk to fetch */
    PGresult *chunk;         /* current chunk, NULL when none */
    size_t off;              /* bytes of chunk already handed out */
    int done;
};

artifact_reader_t *db_artifact_open(db_t *db, const char *artifact_id, err_t *e)
{
    artifact_info_t info;
    if (db_artifact_stat(db, NULL, artifact_id, &info, e) != 0)
        return NULL;
    artifact_reader_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->db = db;
    snprintf(r->id, sizeof(r->id), "%s", artifact_id);
    return r;
}

long db_artifact_pull(artifact_reader_t *r, void *buf, size_t n, err_t *e)
{
    while (!r->done) {
        if (r->chunk != NULL && r->off < (size_t)PQgetlength(r->chunk, 0, 0)) {
            size_t left = (size_t)PQgetlength(r->chunk, 0, 0) - r->off;
            size_t take = left < n ? left : n;
            memcpy(buf, PQgetvalue(r->chunk, 0, 0) + r->off, take);
            r->off += take;
            return (long)take;
        }
        PQclear(r->chunk);
        r->chunk = NULL;
        r->off = 0;
        char s[16];
        snprintf(s, sizeof(s), "%d", r->seq++);
        const char *p[2] = {r->id, s};
        if (db_query_ex(r->db, NULL, &stmt_chunk, p, NULL, NULL, 1, &r->chunk, e) != 0) {
            r->chunk = NULL;
            return -1;
        }
        if (PQntuples(r->chunk) == 0)
            r->done = 1;
    }
    return 0;
}

void db_artifact_close(artifact_reader_t *r)
{
    if (r == NULL)
        return;
    PQclear(r->chunk);
    free(r);
}
