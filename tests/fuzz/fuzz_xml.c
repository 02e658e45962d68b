/*
 * fuzz_xml.c — body_decode_xml on arbitrary bytes, and proof that no entity
 * is ever expanded.
 *
 * Every input is decoded as sent, and a second time behind a prolog whose
 * internal subset defines an entity &m; (and a parameter entity) holding a
 * marker. Any document with a DOCTYPE must be refused; if one were accepted,
 * the marker in its output would show an expansion (the marker is checked
 * only when the fuzzed bytes do not carry it themselves). The fuzzed bytes
 * are also tried wrapped in <r>...</r> so that text and references inside an
 * element are reached without the fuzzer first finding a root element.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi/body.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARKER "XXE_MARKER_5f2c"

static const char prolog[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE r [\n"
    "  <!ENTITY m \"" MARKER "\">\n"
    "  <!ENTITY % p \"<!ENTITY q '" MARKER "'>\">\n"
    "  %p;\n"
    "]>\n";

static int has(const void *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* True if the bytes can spell the marker in the decoded text without holding
 * it: a character reference, or a comment, CDATA section or processing
 * instruction (past a leading XML declaration) between two halves of it,
 * since the decoder joins the text around them. Found by the fuzzer:
 * "XXE_MARKER_<!---->5f2c" is not an expansion. */
static int markup_joins_text(const char *p, size_t n)
{
    if (has(p, n, "&#") || has(p, n, "<!--") || has(p, n, "<![CDATA["))
        return 1;
    const char *pi = memmem(p, n, "<?", 2);
    if (pi != NULL && pi == p) /* the XML declaration */
        pi = memmem(p + 2, n - 2, "<?", 2);
    return pi != NULL;
}

/* True if the prolog (after a BOM, spaces, the XML declaration, PIs and
 * comments) reaches a DOCTYPE: the one place XML allows one. */
static int prolog_has_doctype(const char *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    for (;;) {
        while (i < n && strchr(" \t\r\n", p[i]) != NULL && p[i] != '\0')
            i++;
        if (n - i >= 2 && memcmp(p + i, "<?", 2) == 0) {
            const char *end = memmem(p + i + 2, n - i - 2, "?>", 2);
            if (end == NULL)
                return 0;
            i = (size_t)(end - p) + 2;
        } else if (n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
            const char *end = memmem(p + i + 4, n - i - 4, "-->", 3);
            if (end == NULL)
                return 0;
            i = (size_t)(end - p) + 3;
        } else {
            return n - i >= 9 && memcmp(p + i, "<!DOCTYPE", 9) == 0;
        }
    }
}

/* Decodes buf; returns 1 if accepted. dtd says whether buf holds a DOCTYPE
 * for sure, marker_free whether the fuzzed bytes lack the marker. */
static int decode(const char *buf, size_t n, const body_limits_t *lim, int dtd, int marker_free)
{
    json_object *out = NULL;
    err_t e;
    err_clear(&e);
    if (body_decode_xml(buf, n, lim, &out, &e) < 0) {
        fuzz_check_err(&e, "xml");
        FUZZ_CHECK(out == NULL, "tree returned with an error");
        return 0;
    }
    FUZZ_CHECK(out != NULL && json_object_is_type(out, json_type_object),
               "xml must decode to an object");
    const char *text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    FUZZ_CHECK(text != NULL, "unserialisable tree");
    FUZZ_CHECK(!(marker_free && strstr(text, MARKER) != NULL), "entity expanded: %s", text);
    FUZZ_CHECK(!dtd, "a document with a DOCTYPE was accepted: %s", text);
    long fields = 0;
    int depth = fuzz_tree_measure(out, &fields);
    FUZZ_CHECK(depth <= lim->max_depth + 1, "depth %d", depth);
    /* The cap counts (name, value) pairs; a repeated name becomes one key
     * plus an array of values, so the tree may hold up to twice as many. */
    FUZZ_CHECK(fields <= 2L * lim->max_fields, "%ld fields past %d", fields, lim->max_fields);
    json_object_put(out);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const body_limits_t tight = {.max_bytes = 8192, .max_depth = 4, .max_fields = 40};
    if (size > 64 * 1024)
        return 0;
    const char *in = (const char *)data;
    int marker_free = !has(data, size, MARKER) && !markup_joins_text(in, size);
    int dtd = prolog_has_doctype(in, size);
    decode(in, size, &body_limits_default, dtd, marker_free);
    decode(in, size, &tight, dtd, marker_free);

    /* Behind the entity-defining prolog, inside a root element. */
    size_t cap = sizeof(prolog) + size + 16;
    char *buf = malloc(cap);
    if (buf == NULL)
        abort();
    size_t n = 0;
    memcpy(buf + n, prolog, sizeof(prolog) - 1);
    n += sizeof(prolog) - 1;
    memcpy(buf + n, "<r>", 3);
    n += 3;
    memcpy(buf + n, data, size);
    n += size;
    memcpy(buf + n, "&m;&q;</r>", 10);
    n += 10;
    decode(buf, n, &body_limits_default, 1, marker_free);

    /* The same bytes wrapped without a prolog: references to undefined
     * entities must not turn into anything either. */
    n = 0;
    memcpy(buf + n, "<r>", 3);
    n += 3;
    memcpy(buf + n, data, size);
    n += size;
    memcpy(buf + n, "</r>", 4);
    n += 4;
    decode(buf, n, &body_limits_default, 0, marker_free);
    free(buf);
    return 0;
}
