/*
 * bodyscan.c — counting a body's shape byte by byte (bodyscan.h).
 *
 * A small state machine per format, fed chunk by chunk, so that its memory
 * is this struct whatever the body's size. JSON: a stack of open brackets,
 * string and escape state, one field counted on each ',' and on the first
 * item of a non-empty container (exactly body_decode_json's count of members
 * and items), and at depth 1 of an object the key and string value being
 * read. Form: pairs split on '&' and '=', percent and '+' decoding for the
 * picked member. XML: one field per element start tag ('<' before a name).
 *
 * A wanted member given twice is ambiguous and counts as absent, like one
 * whose value is not a plain string: the request is then unauthenticated
 * rather than authenticated by a guess.
 */
#include "fcgi/bodyscan.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

enum { ROLE_NONE, ROLE_NAME, ROLE_VALUE };
enum { M_KEY_NEXT, M_IN_KEY, M_COLON_NEXT, M_VALUE_NEXT, M_IN_VALUE, M_AFTER_VALUE };

void bodyscan_init(bodyscan_t *s, body_format_t f, const body_limits_t *lim, const char *want)
{
    memset(s, 0, sizeof(*s));
    s->format = f;
    /* One level of slack: the decoder owns the exact depth refusal and its
     * message; this only guards against bodies no decoder should hold. */
    s->max_depth = lim->max_depth + 1 < BODYSCAN_MAX_DEPTH ? lim->max_depth + 1
                                                           : BODYSCAN_MAX_DEPTH;
    s->max_fields = lim->max_fields;
    if (want != NULL)
        snprintf(s->want, sizeof(s->want), "%s", want);
}

static void count_field(bodyscan_t *s)
{
    if (++s->fields > s->max_fields && s->problem == BODYSCAN_OK)
        s->problem = BODYSCAN_TOO_MANY;
}

/* --- the member being read ------------------------------------------------ */

static void member_reset_name(bodyscan_t *s)
{
    s->name_len = 0;
    s->name_long = 0;
    s->name[0] = '\0';
}

static void member_begin_value(bodyscan_t *s)
{
    s->capturing = s->want[0] != '\0' && !s->name_long && strcmp(s->name, s->want) == 0;
    s->value_len = 0;
    s->value_bad = 0;
}

static void member_name_byte(bodyscan_t *s, unsigned char c)
{
    if (s->name_len + 1 < sizeof(s->name) && c != '\0') {
        s->name[s->name_len++] = (char)c;
        s->name[s->name_len] = '\0';
    } else {
        s->name_long = 1;
    }
}

static void member_value_byte(bodyscan_t *s, unsigned char c)
{
    if (!s->capturing)
        return;
    if (s->value_len + 1 < sizeof(s->value) && c >= 0x20 && c != 0x7f)
        s->value[s->value_len++] = (char)c;
    else
        s->value_bad = 1;
}

/* A value of the wanted member ended: remember it, or forget what an
 * earlier one said (twice is ambiguous). */
static void member_end_value(bodyscan_t *s, int plain_string)
{
    if (!s->capturing)
        return;
    s->capturing = 0;
    if (s->has_found || !plain_string || s->value_bad) {
        s->has_found = -1; /* seen, unusable: stays absent */
        return;
    }
    memcpy(s->found, s->value, s->value_len);
    s->found[s->value_len] = '\0';
    s->has_found = 1;
}

/* --- JSON ------------------------------------------------------------------ */

static int json_at_top_object(const bodyscan_t *s)
{
    return s->depth == 1 && s->stack[0] == '{';
}

static int json_role(const bodyscan_t *s)
{
    if (!json_at_top_object(s))
        return ROLE_NONE;
    if (s->member_state == M_IN_KEY)
        return ROLE_NAME;
    if (s->member_state == M_IN_VALUE)
        return ROLE_VALUE;
    return ROLE_NONE;
}

static void json_string_byte(bodyscan_t *s, unsigned char c)
{
    int role = json_role(s);
    if (role == ROLE_NAME)
        member_name_byte(s, c);
    else if (role == ROLE_VALUE)
        member_value_byte(s, c);
}

static void json_escape(bodyscan_t *s, unsigned char c)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *p = c != '\0' ? strchr(from, c) : NULL;
    if (p != NULL) {
        json_string_byte(s, (unsigned char)to[p - from]);
        return;
    }
    /* \uXXXX and the like: never in a key we pick out. */
    int role = json_role(s);
    if (role == ROLE_NAME)
        s->name_long = 1;
    else if (role == ROLE_VALUE)
        s->value_bad = 1;
}

static void json_string_start(bodyscan_t *s)
{
    s->in_string = 1;
    if (!json_at_top_object(s))
        return;
    if (s->member_state == M_KEY_NEXT) {
        s->member_state = M_IN_KEY;
        member_reset_name(s);
    } else if (s->member_state == M_VALUE_NEXT) {
        s->member_state = M_IN_VALUE;
        member_begin_value(s);
    }
}

static void json_string_end(bodyscan_t *s)
{
    s->in_string = 0;
    if (!json_at_top_object(s))
        return;
    if (s->member_state == M_IN_KEY) {
        s->member_state = M_COLON_NEXT;
    } else if (s->member_state == M_IN_VALUE) {
        member_end_value(s, 1);
        s->member_state = M_AFTER_VALUE;
    }
}

/* A value that is not a string starts at depth 1 of the top object. */
static void json_other_value(bodyscan_t *s)
{
    if (json_at_top_object(s) && s->member_state == M_VALUE_NEXT) {
        member_begin_value(s);
        member_end_value(s, 0);
        s->member_state = M_AFTER_VALUE;
    }
}

static void json_byte(bodyscan_t *s, unsigned char c)
{
    if (s->in_string) {
        if (s->escape) {
            s->escape = 0;
            json_escape(s, c);
        } else if (c == '\\') {
            s->escape = 1;
        } else if (c == '"') {
            json_string_end(s);
        } else {
            json_string_byte(s, c);
        }
        return;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return;
    if (s->first_pending && c != ']' && c != '}')
        count_field(s);
    s->first_pending = 0;
    switch (c) {
    case '"':
        json_string_start(s);
        break;
    case '{':
    case '[':
        json_other_value(s);
        if (s->depth >= s->max_depth) {
            if (s->problem == BODYSCAN_OK)
                s->problem = BODYSCAN_TOO_DEEP;
            return;
        }
        s->stack[s->depth++] = c;
        s->first_pending = 1;
        if (json_at_top_object(s))
            s->member_state = M_KEY_NEXT;
        break;
    case '}':
    case ']':
        if (s->depth > 0)
            s->depth--;
        break;
    case ',':
        count_field(s);
        if (json_at_top_object(s))
            s->member_state = M_KEY_NEXT;
        break;
    case ':':
        if (json_at_top_object(s) && s->member_state == M_COLON_NEXT)
            s->member_state = M_VALUE_NEXT;
        break;
    default:
        json_other_value(s); /* a number, true, false, null (or junk) */
        break;
    }
}

/* --- form ------------------------------------------------------------------- */

static void form_decoded_byte(bodyscan_t *s, unsigned char c)
{
    if (s->form_in_value)
        member_value_byte(s, c);
    else
        member_name_byte(s, c);
}

static void form_pair_end(bodyscan_t *s)
{
    if (s->pct != 0) { /* "%4" at the end: malformed */
        s->pct = 0;
        if (s->form_in_value)
            s->value_bad = 1;
    }
    if (s->form_in_value)
        member_end_value(s, 1);
    else if (s->want[0] != '\0' && !s->name_long && strcmp(s->name, s->want) == 0)
        s->has_found = -1; /* "api_key" without '=': present, unusable */
    s->form_in_value = 0;
    s->capturing = 0;
    member_reset_name(s);
}

static void form_byte(bodyscan_t *s, unsigned char c)
{
    if (c == '&') {
        if (s->name_len > 0 || s->name_long || s->form_in_value)
            form_pair_end(s);
        return;
    }
    if (s->name_len == 0 && !s->name_long && !s->form_in_value)
        count_field(s); /* the first byte of a non-empty pair */
    if (s->pct > 0) {
        int h = util_hex_value((char)c);
        if (h < 0) {
            s->pct = 0;
            if (s->form_in_value)
                s->value_bad = 1;
            else
                s->name_long = 1;
            return;
        }
        s->pct_val = s->pct_val * 16 + h;
        if (--s->pct == 0)
            form_decoded_byte(s, (unsigned char)s->pct_val);
        return;
    }
    if (c == '=' && !s->form_in_value) {
        s->form_in_value = 1;
        member_begin_value(s);
    } else if (c == '%') {
        s->pct = 2;
        s->pct_val = 0;
    } else {
        form_decoded_byte(s, c == '+' ? ' ' : c);
    }
}

/* --- XML -------------------------------------------------------------------- */

static void xml_byte(bodyscan_t *s, unsigned char c)
{
    if (s->after_lt) {
        s->after_lt = 0;
        if (c != '/' && c != '!' && c != '?')
            count_field(s);
    }
    if (c == '<')
        s->after_lt = 1;
}

/* --- interface ------------------------------------------------------------- */

/* JSON, with a fast path: inside a string nobody reads (everything but the
 * top object's keys and the picked value), only '"' and '\\' matter, so
 * the bytes in between are skipped in a tight loop. Long strings are what
 * a body that is big but within the field cap is made of. */
static size_t json_feed(bodyscan_t *s, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && s->problem == BODYSCAN_OK) {
        if (s->in_string && !s->escape && json_role(s) == ROLE_NONE) {
            while (i < n && p[i] != '"' && p[i] != '\\')
                i++;
            if (i == n)
                break;
        }
        json_byte(s, p[i++]);
    }
    return i;
}

int bodyscan_feed(bodyscan_t *s, const char *buf, size_t n)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    while (!s->started && i < n && s->problem == BODYSCAN_OK) {
        unsigned char c = p[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        s->started = 1;
        if (s->format == BODY_FORM && c == '{')
            s->format = BODY_JSON; /* as body_decode_form decides */
    }
    switch (s->format) {
    case BODY_JSON:
        json_feed(s, p + i, n - i);
        break;
    case BODY_FORM:
        for (; i < n && s->problem == BODYSCAN_OK; i++)
            form_byte(s, p[i]);
        break;
    case BODY_XML:
        for (; i < n && s->problem == BODYSCAN_OK; i++)
            xml_byte(s, p[i]);
        break;
    default:
        return 0; /* multipart and others: their decoders count */
    }
    return s->problem == BODYSCAN_OK ? 0 : -1;
}

void bodyscan_finish(bodyscan_t *s)
{
    if (s->format == BODY_FORM && (s->name_len > 0 || s->name_long || s->form_in_value))
        form_pair_end(s);
}

const char *bodyscan_found(const bodyscan_t *s)
{
    return s->has_found == 1 && s->found[0] != '\0' ? s->found : NULL;
}

int bodyscan_error(const bodyscan_t *s, err_t *e)
{
    /* Worded as the decoders word the same refusal. */
    const char *what = s->format == BODY_XML ? "xml" : s->format == BODY_FORM ? "form" : "json";
    if (s->problem == BODYSCAN_TOO_DEEP)
        return err_set(e, 413, "too_large", "%s: nesting deeper than %d levels", what,
                       s->max_depth - 1);
    return err_set(e, 413, "too_large", "%s: more than %ld fields", what, s->max_fields);
}
