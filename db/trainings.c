/*
 * trainings.c — the Strapi-style /trainings collection (see trainings.h).
 *
 * Documents are rendered by PostgreSQL (json_build_object) so that number
 * and time formatting is the same in every answer. Lists take filters and a
 * sort from the query string: field names are looked up in a static table
 * and only the table's SQL fragments enter the statement text; every value
 * is a parameter. A list's conditions arrive as a tree (AND/OR groups of
 * field-operator-value, from Strapi's _where) and are rendered the same way:
 * fixed fragments, $n for every value. Writes use fixed prepared statements (an update carries a
 * "given" flag per field) so that no SQL text depends on input at all.
 */
#include "db/trainings.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum tfield_type { TF_ID, TF_TEXT, TF_NUM, TF_TIME } tfield_type_t;

typedef struct tfield {
    const char *name;      /* as in the API */
    const char *column;    /* SQL fragment (quoted where the seed's spelling needs it) */
    tfield_type_t type;
} tfield_t;

static const tfield_t tfields[] = {
    {"id", "id", TF_ID},
    {"uuid", "uuid", TF_TEXT},
    {"accuracy", "accuracy", TF_NUM},
    {"precission", "precission", TF_NUM},
    {"mae", "mae", TF_NUM},
    {"rmse", "rmse", TF_NUM},
    {"binaryPath", "\"binaryPath\"", TF_TEXT},
    {"version", "version", TF_TEXT},
    {"meta", "meta", TF_TEXT},
    {"published_at", "published_at", TF_TIME},
    {"created_by", "created_by", TF_TEXT},
    {"updated_by", "updated_by", TF_TEXT},
    {"created_at", "created_at", TF_TIME},
    {"updated_at", "updated_at", TF_TIME},
};

/* Operators: how each compares; the SQL fragments are fixed text. */
typedef enum top_kind { OP_CMP, OP_IN, OP_LIKE, OP_NULL } top_kind_t;

typedef struct top {
    const char *name;
    const char *sql;
    top_kind_t kind;
} top_t;

/* Strapi v3 on PostgreSQL: _contains is case-insensitive, _containss is
 * not; ne keeps nulls (IS DISTINCT FROM), as trainyard always did. */
static const top_t tops[] = {
    {"eq", "=", OP_CMP},          {"ne", "IS DISTINCT FROM", OP_CMP},
    {"lt", "<", OP_CMP},          {"gt", ">", OP_CMP},
    {"lte", "<=", OP_CMP},        {"gte", ">=", OP_CMP},
    {"in", "IN", OP_IN},          {"nin", "NOT IN", OP_IN},
    {"contains", "ILIKE", OP_LIKE}, {"ncontains", "NOT ILIKE", OP_LIKE},
    {"containss", "LIKE", OP_LIKE}, {"ncontainss", "NOT LIKE", OP_LIKE},
    {"null", NULL, OP_NULL},
};

/* A parameter as a LIKE pattern matching it anywhere, its own wildcards
 * escaped (backslash is LIKE's default escape). */
#define LIKE_ANYWHERE(p) \
    "('%%' || replace(replace(replace(" p ", '\\', '\\\\'), '%%', '\\%%'), '_', '\\_') || '%%')"

static const char *const type_cast[] = {"::bigint", "::text", "::float8", "::timestamptz"};

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TRAINING_DOC                                                                         \
    "json_build_object('id', id::text, 'uuid', uuid, 'accuracy', accuracy, 'precission', "   \
    "precission, 'mae', mae, 'rmse', rmse, 'binaryPath', \"binaryPath\", 'version', version, " \
    "'meta', meta, 'published_at', " TS("published_at") ", 'created_by', created_by, "        \
    "'updated_by', updated_by, 'created_at', " TS("created_at") ", 'updated_at', "            \
    TS("updated_at") ", 'job_id', job_id)::text AS doc"

/* The writable fields, in the order of the create/update parameters. */
static const char *const writable[] = {"uuid", "accuracy", "precission", "mae", "rmse",
                                       "binaryPath", "version", "meta", "published_at"};
#define N_WRITABLE 9

static const db_stmt_t stmt_create = {
    "training_create",
    "INSERT INTO trainings (workspace_id, uuid, accuracy, precission, mae, rmse, \"binaryPath\","
    " version, meta, published_at, job_id, created_by, updated_by) VALUES ($1, $2, $3::float8,"
    " $4::float8, $5::float8, $6::float8, $7, $8, $9, coalesce($10::timestamptz, now()),"
    " $11::uuid, $12, $12) ON CONFLICT (workspace_id, uuid) DO NOTHING RETURNING " TRAINING_DOC,
    12};
static const db_stmt_t stmt_same = {
    "training_same",
    "SELECT " TRAINING_DOC ", (accuracy IS NOT DISTINCT FROM $3::float8"
    " AND precission IS NOT DISTINCT FROM $4::float8 AND mae IS NOT DISTINCT FROM $5::float8"
    " AND rmse IS NOT DISTINCT FROM $6::float8 AND \"binaryPath\" IS NOT DISTINCT FROM $7"
    " AND version IS NOT DISTINCT FROM $8 AND meta IS NOT DISTINCT FROM $9) AS same"
    " FROM trainings WHERE workspace_id = $1 AND uuid = $2",
    9};
static const db_stmt_t stmt_get = {
    "training_get",
    "SELECT " TRAINING_DOC " FROM trainings WHERE workspace_id = $1 AND id = $2::bigint", 2};
static const db_stmt_t stmt_update = {
    "training_update",
    "UPDATE trainings SET"
    " uuid = CASE WHEN $3::bool THEN $4 ELSE uuid END,"
    " accuracy = CASE WHEN $5::bool THEN $6::float8 ELSE accuracy END,"
    " precission = CASE WHEN $7::bool THEN $8::float8 ELSE precission END,"
    " mae = CASE WHEN $9::bool THEN $10::float8 ELSE mae END,"
    " rmse = CASE WHEN $11::bool THEN $12::float8 ELSE rmse END,"
    " \"binaryPath\" = CASE WHEN $13::bool THEN $14 ELSE \"binaryPath\" END,"
    " version = CASE WHEN $15::bool THEN $16 ELSE version END,"
    " meta = CASE WHEN $17::bool THEN $18 ELSE meta END,"
    " published_at = CASE WHEN $19::bool THEN $20::timestamptz ELSE published_at END,"
    " updated_by = $21, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2::bigint RETURNING " TRAINING_DOC,
    21};
static const db_stmt_t stmt_delete = {
    "training_delete",
    "DELETE FROM trainings WHERE workspace_id = $1 AND id = $2::bigint RETURNING " TRAINING_DOC,
    2};
static const db_stmt_t stmt_job_finished = {
    "training_job_finished",
    "UPDATE trainings SET accuracy = coalesce($2::float8, accuracy),"
    " precission = coalesce($3::float8, precission), mae = coalesce($4::float8, mae),"
    " rmse = coalesce($5::float8, rmse), \"binaryPath\" = coalesce($6, \"binaryPath\"),"
    " version = coalesce($7, version), updated_at = now() WHERE job_id = $1",
    7};

static void json_put(void *p)
{
    json_object_put(p);
}

/* Parses a rendered document; drops job_id when the document has none. */
static json_object *training_doc(arena_t *arena, const PGresult *res, int row)
{
    json_object *doc = json_tokener_parse(db_get(res, row, "doc"));
    arena_defer(arena, json_put, doc);
    json_object *job;
    if (doc && json_object_object_get_ex(doc, "job_id", &job) && job == NULL)
        json_object_object_del(doc, "job_id");
    return doc;
}

static int training_not_found(err_t *e, const char *id)
{
    return err_set(e, 404, "not_found", "Not Found: no training with id %s", id ? id : "");
}

static int training_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

/* A JSON value as the text parameter PostgreSQL will cast; NULL for null.
 * Numbers keep full precision; meta, if not a string, is stored as JSON. */
static const char *field_param(arena_t *arena, json_object *v)
{
    if (v == NULL)
        return NULL;
    switch (json_object_get_type(v)) {
    case json_type_null: return NULL;
    case json_type_string: return json_object_get_string(v);
    case json_type_double: return arena_sprintf(arena, "%.17g", json_object_get_double(v));
    case json_type_int: return arena_sprintf(arena, "%lld", (long long)json_object_get_int64(v));
    case json_type_boolean: return json_object_get_boolean(v) ? "true" : "false";
    default: return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    }
}

static const tfield_t *tfield_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(tfields) / sizeof(tfields[0]); i++)
        if (strcmp(tfields[i].name, name) == 0)
            return &tfields[i];
    return NULL;
}

int db_training_create(db_t *db, arena_t *arena, long long workspace_id, json_object *fields,
                       const char *job_id, const char *created_by, json_object **out,
                       int *existing, err_t *e)
{
    if (existing)
        *existing = 0;
    const char *p[12];
    p[0] = arena_sprintf(arena, "%lld", workspace_id);
    for (int i = 0; i < N_WRITABLE; i++) {
        json_object *v = NULL;
        if (fields)
            json_object_object_get_ex(fields, writable[i], &v);
        p[1 + i] = field_param(arena, v);
    }
    p[10] = job_id;
    p[11] = created_by;
    PGresult *res;
    if (db_query(db, arena, &stmt_create, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 1) {
        *out = training_doc(arena, res, 0);
        return 0;
    }
    /* The uuid exists: the same document again is fine, a different one is not. */
    if (db_query(db, arena, &stmt_same, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return err_set(e, 409, "conflict", "a training with this uuid was just deleted");
    const char *same = db_get(res, 0, "same");
    if (same == NULL || strcmp(same, "t") != 0)
        return err_add(e, 409, "conflict", "body/uuid",
                       "a different training with uuid \"%s\" exists", p[1]);
    *out = training_doc(arena, res, 0);
    if (existing)
        *existing = 1;
    return 0;
}

int db_training_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    json_object **out, err_t *e)
{
    if (!training_id_ok(id))
        return training_not_found(e, id);
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_get, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return training_not_found(e, id);
    *out = training_doc(arena, res, 0);
    return 0;
}

/* The SQL of one list query under construction: text in an arena buffer,
 * values in p. Overflow of either is a 400 (the query is too large), never
 * a truncated statement. */
#define WHERE_SQL_MAX (32 * 1024)
#define WHERE_PARAMS_MAX 300

typedef struct wsql {
    arena_t *arena;
    char *sql;
    size_t used;
    const char *p[WHERE_PARAMS_MAX];
    int np;
    int overflow;
    err_t *e;
} wsql_t;

__attribute__((format(printf, 2, 3))) static void w_put(wsql_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->sql + w->used, WHERE_SQL_MAX - w->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= WHERE_SQL_MAX - w->used)
        w->overflow = 1;
    else
        w->used += (size_t)n;
}

/* Adds a value; returns its number ($n), 0 when full. */
static int w_param(wsql_t *w, const char *v)
{
    if (w->np >= WHERE_PARAMS_MAX) {
        w->overflow = 1;
        return 0;
    }
    w->p[w->np++] = v;
    return w->np;
}

/* A value the field's type must accept, checked here so that a typo is a
 * 400 naming the parameter rather than a bare cast error. */
static int value_ok(const tfield_t *tf, const char *v)
{
    if (tf->type != TF_NUM && tf->type != TF_ID)
        return 1;
    char *end;
    errno = 0;
    if (tf->type == TF_NUM)
        (void)strtod(v, &end);
    else
        (void)strtoll(v, &end, 10);
    return *v != '\0' && *end == '\0' && errno == 0;
}

static int w_cond(wsql_t *w, const training_node_t *n)
{
    char param[ERR_FIELD_MAX] = "query";
    err_path_append(param, sizeof(param), n->param ? n->param : "");
    const tfield_t *tf = tfield_find(n->field);
    if (tf == NULL)
        return err_add(w->e, 400, "value_error", param, "unknown field \"%s\"",
                       n->field ? n->field : "");
    const top_t *op = NULL;
    for (size_t k = 0; k < sizeof(tops) / sizeof(tops[0]); k++)
        if (n->op != NULL && strcmp(tops[k].name, n->op) == 0)
            op = &tops[k];
    if (op == NULL)
        return err_add(w->e, 400, "value_error", param, "unknown operator \"%s\"",
                       n->op ? n->op : "");
    if (n->n_values < 1 || (op->kind != OP_IN && n->n_values != 1))
        return err_add(w->e, 400, "value_error", param, "\"%s\" takes one value", n->param);
    switch (op->kind) {
    case OP_NULL: {
        const char *v = n->values[0];
        int is_null;
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            is_null = 1;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            is_null = 0;
        else
            return err_add(w->e, 400, "value_error", param, "_null takes true or false, not \"%s\"",
                           v);
        w_put(w, "%s IS %sNULL", tf->column, is_null ? "" : "NOT ");
        return 0;
    }
    case OP_LIKE: {
        /* Numbers and times match on their text, as Strapi's LIKE does. */
        int k = w_param(w, n->values[0]);
        w_put(w, "%s::text %s " LIKE_ANYWHERE("$%d"), tf->column, op->sql, k);
        return 0;
    }
    case OP_IN:
        if (n->n_values == 0) {
            w_put(w, "%s", strcmp(op->name, "in") == 0 ? "FALSE" : "TRUE");
            return 0;
        }
        w_put(w, "%s %s (", tf->column, op->sql);
        for (int i = 0; i < n->n_values; i++) {
            if (!value_ok(tf, n->values[i]))
                return err_add(w->e, 400, "value_error", param, "not a number: \"%s\"",
                               n->values[i]);
            w_put(w, "%s$%d%s", i ? ", " : "", w_param(w, n->values[i]), type_cast[tf->type]);
        }
        w_put(w, ")");
        return 0;
    case OP_CMP:
        if (!value_ok(tf, n->values[0]))
            return err_add(w->e, 400, "value_error", param, "not a number: \"%s\"", n->values[0]);
        w_put(w, "%s %s $%d%s", tf->column, op->sql, w_param(w, n->values[0]),
              type_cast[tf->type]);
        return 0;
    }
    return 0;
}

/* AND/OR nodes in parentheses; an empty AND holds, an empty OR does not. */
static int w_node(wsql_t *w, const training_node_t *n, int depth)
{
    if (depth > 32)
        return err_set(w->e, 400, "value_error", "query nested too deeply");
    if (n->kind == TRAINING_COND)
        return w_cond(w, n);
    if (n->first == NULL) {
        w_put(w, "%s", n->kind == TRAINING_AND ? "TRUE" : "FALSE");
        return 0;
    }
    w_put(w, "(");
    for (const training_node_t *k = n->first; k != NULL; k = k->next) {
        if (k != n->first)
            w_put(w, "%s", n->kind == TRAINING_AND ? " AND " : " OR ");
        if (w_node(w, k, depth + 1) != 0)
            return -1;
    }
    w_put(w, ")");
    return 0;
}

/* _q: a substring of any text field, or the text of a number or time. */
static void w_fulltext(wsql_t *w, const char *text)
{
    int k = w_param(w, text);
    w_put(w, " AND (");
    for (size_t i = 0; i < sizeof(tfields) / sizeof(tfields[0]); i++) {
        if (i > 0)
            w_put(w, " OR ");
        if (tfields[i].type == TF_TEXT)
            w_put(w, "%s ILIKE " LIKE_ANYWHERE("$%d"), tfields[i].column, k);
        else
            w_put(w, "%s::text = $%d", tfields[i].column, k);
    }
    w_put(w, ")");
}

/* Starts w with head and appends the WHERE clause of q. */
static int training_where(wsql_t *w, arena_t *arena, long long workspace_id,
                          const training_query_t *q, const char *head, err_t *e)
{
    memset(w, 0, sizeof(*w));
    w->arena = arena;
    w->e = e;
    w->sql = arena_alloc(arena, WHERE_SQL_MAX);
    w->sql[0] = '\0';
    w_put(w, "%s WHERE workspace_id = $%d", head,
          w_param(w, arena_sprintf(arena, "%lld", workspace_id)));
    /* live (Strapi's default) shows published documents only. */
    if (q == NULL || !q->preview)
        w_put(w, " AND published_at IS NOT NULL");
    if (q != NULL && q->q != NULL)
        w_fulltext(w, q->q);
    if (q != NULL && q->where != NULL) {
        w_put(w, " AND ");
        if (w_node(w, q->where, 0) != 0)
            return -1;
    }
    if (w->overflow)
        return err_set(e, 400, "value_error", "query too large");
    return 0;
}

int db_training_list(db_t *db, arena_t *arena, long long workspace_id,
                     const training_query_t *q, json_object **out_array, err_t *e)
{
    wsql_t w;
    if (training_where(&w, arena, workspace_id, q, "SELECT " TRAINING_DOC " FROM trainings", e) !=
        0)
        return -1;
    /* No NULLS clause: PostgreSQL's default (last ascending, first
     * descending) is what Strapi on PostgreSQL answers. id breaks ties in
     * the first key's direction. */
    const char *tie = q && q->n_sorts > 0 && q->sorts[0].desc ? "DESC" : "ASC";
    w_put(&w, " ORDER BY ");
    for (int i = 0; q != NULL && i < q->n_sorts; i++) {
        const tfield_t *sort = tfield_find(q->sorts[i].field);
        if (sort == NULL)
            return err_add(e, 400, "value_error", "query/_sort", "cannot sort by \"%s\"",
                           q->sorts[i].field ? q->sorts[i].field : "");
        w_put(&w, "%s %s, ", sort->column, q->sorts[i].desc ? "DESC" : "ASC");
    }
    int lim = w_param(&w, q && q->limit >= 0 ? arena_sprintf(arena, "%d", q->limit) : NULL);
    int off = w_param(&w, arena_sprintf(arena, "%d", q && q->start > 0 ? q->start : 0));
    w_put(&w, "id %s LIMIT $%d OFFSET $%d", tie, lim, off);
    if (w.overflow)
        return err_set(e, 400, "value_error", "query too large");
    PGresult *res;
    if (db_query_sql(db, arena, w.sql, w.np, w.p, &res, e) != 0)
        return -1;
    json_object *arr = json_object_new_array();
    arena_defer(arena, json_put, arr);
    for (int i = 0; i < PQntuples(res); i++)
        json_object_array_add(arr, json_object_get(training_doc(arena, res, i)));
    *out_array = arr;
    return 0;
}

int db_training_count(db_t *db, arena_t *arena, long long workspace_id,
                      const training_query_t *q, long long *count, err_t *e)
{
    wsql_t w;
    if (training_where(&w, arena, workspace_id, q, "SELECT count(*) AS n FROM trainings", e) != 0)
        return -1;
    PGresult *res;
    if (db_query_sql(db, arena, w.sql, w.np, w.p, &res, e) != 0)
        return -1;
    *count = db_get_ll(res, 0, "n", 0);
    return 0;
}

int db_training_update(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       json_object *fields, const char *updated_by, json_object **out,
                       err_t *e)
{
    if (!training_id_ok(id))
        return training_not_found(e, id);
    const char *p[21];
    p[0] = arena_sprintf(arena, "%lld", workspace_id);
    p[1] = id;
    for (int i = 0; i < N_WRITABLE; i++) {
        json_object *v = NULL;
        int given = fields != NULL && json_object_object_get_ex(fields, writable[i], &v);
        p[2 + 2 * i] = given ? "true" : "false";
        p[3 + 2 * i] = given ? field_param(arena, v) : NULL;
    }
    p[20] = updated_by;
    PGresult *res;
    if (db_query(db, arena, &stmt_update, p, &res, e) != 0) {
        if (e->status == 409) {
            err_clear(e);
            return err_add(e, 409, "conflict", "body/uuid", "another training has this uuid");
        }
        return -1;
    }
    if (PQntuples(res) == 0)
        return training_not_found(e, id);
    *out = training_doc(arena, res, 0);
    return 0;
}

int db_training_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       json_object **out, err_t *e)
{
    if (!training_id_ok(id))
        return training_not_found(e, id);
    const char *p[2] = {arena_sprintf(arena, "%lld", workspace_id), id};
    PGresult *res;
    if (db_query(db, arena, &stmt_delete, p, &res, e) != 0)
        return -1;
    if (PQntuples(res) == 0)
        return training_not_found(e, id);
    *out = training_doc(arena, res, 0);
    return 0;
}

/* The first of the keys that holds a number, as text; NULL if none. */
static const char *metric(arena_t *arena, json_object *metrics, const char *const *keys)
{
    for (; *keys != NULL; keys++) {
        json_object *v;
        if (metrics && json_object_object_get_ex(metrics, *keys, &v) &&
            (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
            return arena_sprintf(arena, "%.17g", json_object_get_double(v));
    }
    return NULL;
}

int db_training_job_finished(db_t *db, arena_t *arena, const char *job_id, json_object *metrics,
                             const char *binary_path, const char *version, err_t *e)
{
    static const char *const k_acc[] = {"accuracy", NULL};
    static const char *const k_prec[] = {"precision", "precission", NULL};
    static const char *const k_mae[] = {"mae", NULL};
    static const char *const k_rmse[] = {"rmse", NULL};
    const char *p[7] = {job_id,
                        metric(arena, metrics, k_acc),
                        metric(arena, metrics, k_prec),
                        metric(arena, metrics, k_mae),
                        metric(arena, metrics, k_rmse),
                        binary_path,
                        version};
    return db_query(db, arena, &stmt_job_finished, p, NULL, e);
}
