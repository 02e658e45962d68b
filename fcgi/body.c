/*
 * body.c — media type dispatch for the body decoders, and the shared tree
 * building rule (see body_internal.h). The decoders themselves live in
 * body_json.c, body_xml.c, body_form.c and body_multipart.c.
 */
#include "fcgi/body.h"

#include <stdio.h>
#include <string.h>

#include "fcgi/body_internal.h"

const body_limits_t body_limits_default = {
    .max_bytes = 1024 * 1024,
    .max_depth = 16,
    .max_fields = 10000,
};

body_format_t body_format_of(const char *media_type)
{
    static const struct {
        const char *type;
        body_format_t format;
    } map[] = {
        {"application/json", BODY_JSON},
        {"application/xml", BODY_XML},
        {"text/xml", BODY_XML},
        {"application/x-www-form-urlencoded", BODY_FORM},
        {"multipart/form-data", BODY_MULTIPART},
    };
    if (media_type == NULL)
        return BODY_UNSUPPORTED;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(media_type, map[i].type) == 0)
            return map[i].format;
    /* Structured syntax suffixes (RFC 6839): application/problem+json etc. */
    size_t n = strlen(media_type);
    if (n > 5 && strcmp(media_type + n - 5, "+json") == 0)
        return BODY_JSON;
    if (n > 4 && strcmp(media_type + n - 4, "+xml") == 0)
        return BODY_XML;
    return BODY_UNSUPPORTED;
}

int body_decode(const char *media_type, const char *content_type, const char *buf, size_t n,
                const body_limits_t *lim, json_object **out, int *untyped, err_t *e)
{
    if (lim == NULL)
        lim = &body_limits_default;
    *out = NULL;
    if (untyped != NULL)
        *untyped = 0;
    switch (body_format_of(media_type)) {
    case BODY_JSON:
        return body_decode_json(buf, n, lim, out, e);
    case BODY_XML:
        if (untyped != NULL)
            *untyped = 1;
        return body_decode_xml(buf, n, lim, out, e);
    case BODY_FORM: {
        size_t i = 0;
        while (i < n && strchr(" \t\r\n", buf[i]) != NULL)
            i++;
        if (untyped != NULL)
            *untyped = !(i < n && buf[i] == '{');
        return body_decode_form(buf, n, lim, out, e);
    }
    case BODY_MULTIPART:
        if (untyped != NULL)
            *untyped = 1;
        return body_decode_multipart(buf, n, content_type, lim, out, e);
    case BODY_UNSUPPORTED:
        break;
    }
    return err_set(e, 415, "unsupported_media_type",
                   "unsupported media type \"%.60s\": send application/json, application/xml, "
                   "application/x-www-form-urlencoded or multipart/form-data",
                   media_type && *media_type ? media_type : "(none)");
}

int body_tree_add(json_object *obj, const char *name, json_object *value, int *fields,
                  int max_fields, const char *what, err_t *e)
{
    if (++*fields > max_fields) {
        json_object_put(value);
        return err_set(e, 413, "too_large", "%s: more than %d fields", what, max_fields);
    }
    size_t len = strlen(name);
    int force_array = len > 2 && strcmp(name + len - 2, "[]") == 0;
    char key[256];
    if (force_array)
        len -= 2;
    if (len >= sizeof(key)) {
        json_object_put(value);
        char code[32];
        snprintf(code, sizeof(code), "%s_invalid", what);
        return err_set(e, 400, code, "%s: field name longer than %zu bytes", what,
                       sizeof(key) - 1);
    }
    memcpy(key, name, len);
    key[len] = '\0';

    json_object *cur = NULL;
    int present = json_object_object_get_ex(obj, key, &cur);
    if (!present) {
        if (force_array) {
            json_object *arr = json_object_new_array();
            json_object_array_add(arr, value);
            value = arr;
        }
        json_object_object_add(obj, key, value);
        return 0;
    }
    if (!json_object_is_type(cur, json_type_array)) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(cur));
        json_object_object_add(obj, key, arr); /* releases the old reference */
        cur = arr;
    }
    json_object_array_add(cur, value);
    return 0;
}
