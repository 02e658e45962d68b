/*
 * validate.c — checks a decoded body against a route's field table.
 *
 * The codes and messages are pydantic v2's, word for word, because the Akkio
 * dialect shows them verbatim and clients of the original API match on them.
 * Every field is checked and every problem reported (up to err.h's item cap),
 * as pydantic does. Scalars follow pydantic v2's lax mode (its conversion
 * table), which is what FastAPI clients meet: "60" and 60.0 are integers,
 * "yes"/"on"/"1"/1 are booleans, "0.5" and true are numbers; strings stay
 * strict (5 is not a string). Converted values replace the originals in
 * place, so that handlers read the same json-c types whatever the client
 * sent. XML/form input ("coerce") carries only strings and additionally
 * turns a lone value into a one-element list.
 */
#include "fcgi/validate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void field_path(char *buf, size_t n, const char *name, long index)
{
    snprintf(buf, n, "body");
    err_path_append(buf, n, name);
    if (index >= 0)
        err_path_append_index(buf, n, index);
}

static int add(err_t *e, const char *name, long index, const char *code, const char *msg)
{
    char path[ERR_FIELD_MAX];
    field_path(path, sizeof(path), name, index);
    return err_add(e, 422, code, path, "%s", msg);
}

/* Formats a bound the way pydantic prints it: integral values without a
 * fraction. */
static void format_number(char *buf, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%lld", (long long)v);
    else
        snprintf(buf, n, "%g", v);
}

/* "Input should be 10, 60, 300 or 1800" / "'a', 'b' or 'c'" */
static void literal_message(char *buf, size_t n, const field_spec_t *f)
{
    size_t count = f->type == FIELD_INT ? f->n_allowed_ints : f->n_allowed_strings;
    size_t len = (size_t)snprintf(buf, n, "Input should be ");
    for (size_t i = 0; i < count && len < n; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
        if (f->type == FIELD_INT)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep, f->allowed_ints[i]);
        else
            len += (size_t)snprintf(buf + len, n - len, "%s'%s'", sep, f->allowed_strings[i]);
    }
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

/* pydantic's str -> int: surrounding whitespace, a sign, digits with single
 * underscores between them (as Python's int()), and a fraction of zeros only
 * ("60.0", "60.") are accepted; "1e3" and "60.5" are not. */
static int parse_ll(const char *s, long long *out)
{
    char digits[32];
    size_t n = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '+' || *s == '-')
        digits[n++] = *s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s) || *s == '_'; s++) {
        if (*s == '_') {
            if (!isdigit((unsigned char)s[1]))
                return -1;
            continue;
        }
        if (n + 1 >= sizeof(digits))
            return -1;
        digits[n++] = *s;
    }
    digits[n] = '\0';
    if (*s == '.')
        for (s++; *s == '0'; s++)
            ;
    while (isspace((unsigned char)*s))
        s++;
    if (*s != '\0')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(digits, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return -1;
    /* strtod also reads hex floats and "nan(...)"; only decimal numbers are
     * numbers here. */
    for (const char *p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || strchr("+-.eE \t\r\n", *p) != NULL))
            return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int check_range(const field_spec_t *f, double v, long index, err_t *e)
{
    char num[48], msg[96];
    if (!(f->min < f->max))
        return 0;
    if (v < f->min) {
        format_number(num, sizeof(num), f->min);
        snprintf(msg, sizeof(msg), "Input should be greater than or equal to %s", num);
        return add(e, f->name, index, "greater_than_equal", msg);
    }
    if (v > f->max) {
        format_number(num, sizeof(num), f->max);
        snprintf(msg, sizeof(msg), "Input should be less than or equal to %s", num);
        return add(e, f->name, index, "less_than_equal", msg);
    }
    return 0;
}

/* Checks one string value (a field or an array item). */
static int check_string(const field_spec_t *f, json_object *v, long index, err_t *e)
{
    if (!json_object_is_type(v, json_type_string))
        return add(e, f->name, index, "string_type", "Input should be a valid string");
    const char *s = json_object_get_string(v);
    size_t chars = utf8_chars(s, (size_t)json_object_get_string_len(v));
    char msg[ERR_MESSAGE_MAX];
    if (f->n_allowed_strings > 0) {
        for (size_t i = 0; i < f->n_allowed_strings; i++)
            if (strcmp(s, f->allowed_strings[i]) == 0)
                return 0;
        literal_message(msg, sizeof(msg), f);
        return add(e, f->name, index, "literal_error", msg);
    }
    /* Length rules apply to the field itself; array items only get types
     * and allowed values. */
    if (index >= 0)
        return 0;
    if ((f->flags & FIELD_NONEMPTY) && chars == 0)
        return add(e, f->name, index, "string_too_short",
                   "String should have at least 1 character");
    if (f->max_len > 0 && chars > f->max_len) {
        snprintf(msg, sizeof(msg), "String should have at most %zu character%s", f->max_len,
                 f->max_len == 1 ? "" : "s");
        return add(e, f->name, index, "string_too_long", msg);
    }
    return 0;
}

/* Lax int (pydantic v2): an int, a float without fraction, a bool, or a
 * string of an integer; the value is replaced by the integer in parent. */
static int check_int(json_object *parent, const field_spec_t *f, json_object *v, err_t *e)
{
    long long n;
    if (json_object_is_type(v, json_type_int)) {
        n = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (!isfinite(d))
            return add(e, f->name, -1, "finite_number", "Input should be a finite number");
        if (d != floor(d))
            return add(e, f->name, -1, "int_from_float",
                       "Input should be a valid integer, got a number with a fractional part");
        if (fabs(d) > 9.2e18)
            return add(e, f->name, -1, "int_parsing",
                       "Input should be a valid integer, unable to parse string as an integer");
        n = (long long)d;
        json_object_object_add(parent, f->name, json_object_new_int64(n));
    } else if (json_object_is_type(v, json_type_boolean)) {
        n = json_object_get_boolean(v) ? 1 : 0;
        json_object_object_add(parent, f->name, json_object_new_int64(n));
    } else if (json_object_is_type(v, json_type_string)) {
        if (parse_ll(json_object_get_string(v), &n) != 0)
            return add(e, f->name, -1, "int_parsing",
                       "Input should be a valid integer, unable to parse string as an integer");
        json_object_object_add(parent, f->name, json_object_new_int64(n));
    } else {
        return add(e, f->name, -1, "int_type", "Input should be a valid integer");
    }
    if (f->n_allowed_ints > 0) {
        for (size_t i = 0; i < f->n_allowed_ints; i++)
            if (f->allowed_ints[i] == n)
                return 0;
        char msg[ERR_MESSAGE_MAX];
        literal_message(msg, sizeof(msg), f);
        return add(e, f->name, -1, "literal_error", msg);
    }
    return check_range(f, (double)n, -1, e);
}

/* Lax float: a number, a bool, or a string of a decimal number. */
static int check_number(json_object *parent, const field_spec_t *f, json_object *v, err_t *e)
{
    double d;
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        d = json_object_get_double(v);
    } else if (json_object_is_type(v, json_type_boolean)) {
        d = json_object_get_boolean(v) ? 1.0 : 0.0;
        json_object_object_add(parent, f->name, json_object_new_double(d));
    } else if (json_object_is_type(v, json_type_string)) {
        if (parse_double(json_object_get_string(v), &d) != 0)
            return add(e, f->name, -1, "float_parsing",
                       "Input should be a valid number, unable to parse string as a number");
        json_object_object_add(parent, f->name, json_object_new_double(d));
    } else {
        return add(e, f->name, -1, "float_type", "Input should be a valid number");
    }
    if (!isfinite(d))
        return add(e, f->name, -1, "finite_number", "Input should be a finite number");
    return check_range(f, d, -1, e);
}

/* Lax bool: a bool, the ints 0 and 1, the floats 0.0 and 1.0, or one of
 * pydantic's spellings (parse_bool). Other numbers and strings are
 * bool_parsing, other types bool_type, as pydantic says. */
static int check_bool(json_object *parent, const field_spec_t *f, json_object *v, err_t *e)
{
    int b;
    if (json_object_is_type(v, json_type_boolean))
        return 0;
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d != 0.0 && d != 1.0)
            return add(e, f->name, -1, "bool_parsing",
                       "Input should be a valid boolean, unable to interpret input");
        json_object_object_add(parent, f->name, json_object_new_boolean(d == 1.0));
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        if (parse_bool(json_object_get_string(v), &b) != 0)
            return add(e, f->name, -1, "bool_parsing",
                       "Input should be a valid boolean, unable to interpret input");
        json_object_object_add(parent, f->name, json_object_new_boolean(b));
        return 0;
    }
    return add(e, f->name, -1, "bool_type", "Input should be a valid boolean");
}

/* In coerce mode, turns what XML and forms produce for a list into a JSON
 * array: {"item": x} (an element wrapping <item> children) unwraps to x, and
 * a lone value becomes a one-element array. Returns the (possibly new) value
 * stored in parent. */
static json_object *coerce_array(json_object *parent, const char *name, json_object *v)
{
    if (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 1) {
        json_object *inner;
        if (json_object_object_get_ex(v, "item", &inner)) {
            json_object_get(inner);
            json_object_object_add(parent, name, inner); /* drops v */
            v = inner;
        }
    }
    if (json_object_is_type(v, json_type_array))
        return v;
    if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0) {
        /* An empty form value or <x/> is an empty list. */
        json_object *arr = json_object_new_array();
        json_object_object_add(parent, name, arr);
        return arr;
    }
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_get(v));
    json_object_object_add(parent, name, arr);
    return arr;
}

static int check_array(json_object *parent, const field_spec_t *f, json_object *v, err_t *e,
                       int coerce)
{
    if (coerce && !json_object_is_type(v, json_type_null))
        v = coerce_array(parent, f->name, v);
    if (!json_object_is_type(v, json_type_array))
        return add(e, f->name, -1, "list_type", "Input should be a valid list");
    size_t len = json_object_array_length(v);
    char msg[ERR_MESSAGE_MAX];
    int rc = 0;
    if (f->type == FIELD_STRING_ARRAY)
        for (size_t i = 0; i < len; i++)
            if (check_string(f, json_object_array_get_idx(v, i), (long)i, e) != 0)
                rc = -1;
    if (rc != 0)
        return rc;
    if ((f->flags & FIELD_NONEMPTY) && len == 0)
        return add(e, f->name, -1, "too_short",
                   "List should have at least 1 item after validation, not 0");
    if (f->max_len > 0 && len > f->max_len) {
        snprintf(msg, sizeof(msg), "List should have at most %zu item%s after validation, not %zu",
                 f->max_len, f->max_len == 1 ? "" : "s", len);
        return add(e, f->name, -1, "too_long", msg);
    }
    return 0;
}

static int check_field(json_object *obj, const field_spec_t *f, int coerce, err_t *e)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, f->name, &v)) {
        if (f->flags & FIELD_REQUIRED)
            return add(e, f->name, -1, "missing", "Field required");
        return 0;
    }
    if (v == NULL) { /* JSON null */
        if (f->flags & FIELD_NULLABLE)
            return 0;
        switch (f->type) {
        case FIELD_STRING:
            return add(e, f->name, -1, "string_type", "Input should be a valid string");
        case FIELD_INT:
            return add(e, f->name, -1, "int_type", "Input should be a valid integer");
        case FIELD_NUMBER:
            return add(e, f->name, -1, "float_type", "Input should be a valid number");
        case FIELD_BOOL:
            return add(e, f->name, -1, "bool_type", "Input should be a valid boolean");
        case FIELD_STRING_ARRAY:
        case FIELD_ARRAY:
            return add(e, f->name, -1, "list_type", "Input should be a valid list");
        case FIELD_OBJECT:
            return add(e, f->name, -1, "dict_type", "Input should be a valid dictionary");
        case FIELD_ANY:
            return 0;
        }
        return 0;
    }
    switch (f->type) {
    case FIELD_STRING:
        return check_string(f, v, -1, e);
    case FIELD_INT:
        return check_int(obj, f, v, e);
    case FIELD_NUMBER:
        return check_number(obj, f, v, e);
    case FIELD_BOOL:
        return check_bool(obj, f, v, e);
    case FIELD_STRING_ARRAY:
    case FIELD_ARRAY:
        return check_array(obj, f, v, e, coerce);
    case FIELD_OBJECT:
        if (!json_object_is_type(v, json_type_object))
            return add(e, f->name, -1, "dict_type", "Input should be a valid dictionary");
        return 0;
    case FIELD_ANY:
        return 0;
    }
    return 0;
}

int validate_body(json_object *obj, const field_spec_t *spec, size_t n, int coerce, err_t *e)
{
    if (!json_object_is_type(obj, json_type_object))
        return err_add(e, 422, "model_attributes_type", "body",
                       "Input should be a valid dictionary or object to extract fields from");
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (check_field(obj, &spec[i], coerce, e) != 0)
            rc = -1;
    return rc;
}
