/*
 * body_xml.c — application/xml bodies: <item><field>value</field>...</item>.
 *
 * libxml2 2.9 parses with no network, no DTD loading, no entity substitution
 * (XML_PARSE_NOENT is never set: despite its name it *enables* substitution)
 * and no XInclude. A document with any DOCTYPE or entity declaration is
 * refused twice over: by a scan of the raw bytes before parsing (so a
 * billion-laughs DTD is never even read) and by a check of the parsed tree
 * (for encodings the scan cannot see through, such as UTF-16). An entity
 * reference node anywhere in the tree is refused too.
 *
 * The tree becomes JSON: an element with element children is an object (a
 * repeated name becomes an array); an element whose children all share one
 * name that repeats, or are all <item>, is an array; a leaf is a string.
 * Attributes, comments and processing instructions are ignored.
 */
#include "fcgi/body.h"

#include <limits.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "fcgi/body_internal.h"

typedef struct xml_conv {
    const body_limits_t *lim;
    int fields;
    err_t *e;
} xml_conv_t;

static int is_blank(const xmlChar *s)
{
    for (; s != NULL && *s; s++)
        if (strchr(" \t\r\n", *s) == NULL)
            return 0;
    return 1;
}

static json_object *element_value(xmlNode *el, int depth, xml_conv_t *c);

/* Levels of objects and arrays in a decoded tree (a leaf is 0). Bounded
 * recursion: each element level adds at most two, and elements are capped. */
static int tree_height(json_object *o)
{
    int h = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            (void)k;
            int d = tree_height(v);
            h = d > h ? d : h;
        }
        return h + 1;
    }
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            int d = tree_height(json_object_array_get_idx(o, i));
            h = d > h ? d : h;
        }
        return h + 1;
    }
    return 0;
}

/* Fills obj from the element children of el. */
static int element_fields(xmlNode *el, json_object *obj, int depth, xml_conv_t *c)
{
    for (xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        json_object *v = element_value(ch, depth + 1, c);
        if (v == NULL)
            return -1;
        if (body_tree_add(obj, (const char *)ch->name, v, &c->fields, c->lim->max_fields, "xml",
                          c->e) != 0)
            return -1;
    }
    return 0;
}

static json_object *element_value(xmlNode *el, int depth, xml_conv_t *c)
{
    if (depth > c->lim->max_depth) {
        err_set(c->e, 413, "too_large", "xml: nesting deeper than %d levels",
                c->lim->max_depth);
        return NULL;
    }
    int n_elements = 0, same_name = 1, text_only = 1;
    const xmlChar *first = NULL;
    for (xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
        switch (ch->type) {
        case XML_ELEMENT_NODE:
            if (first == NULL)
                first = ch->name;
            else if (!xmlStrEqual(first, ch->name))
                same_name = 0;
            n_elements++;
            text_only = 0;
            break;
        case XML_ENTITY_REF_NODE:
        case XML_ENTITY_NODE:
        case XML_ENTITY_DECL:
            err_add(c->e, 400, "xml_invalid", "body", "xml: entity references are not allowed");
            return NULL;
        default:
            break;
        }
    }
    if (text_only) {
        xmlChar *text = xmlNodeGetContent(el);
        json_object *s = json_object_new_string(text ? (const char *)text : "");
        xmlFree(text);
        return s;
    }
    for (xmlNode *ch = el->children; ch != NULL; ch = ch->next)
        if ((ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) &&
            !is_blank(ch->content)) {
            err_add(c->e, 400, "xml_invalid", "body",
                    "xml: element <%.60s> mixes text with child elements", (const char *)el->name);
            return NULL;
        }
    if (same_name && (n_elements >= 2 || xmlStrEqual(first, BAD_CAST "item"))) {
        json_object *arr = json_object_new_array();
        for (xmlNode *ch = el->children; ch != NULL; ch = ch->next) {
            if (ch->type != XML_ELEMENT_NODE)
                continue;
            if (++c->fields > c->lim->max_fields) {
                json_object_put(arr);
                err_set(c->e, 413, "too_large", "xml: more than %d fields", c->lim->max_fields);
                return NULL;
            }
            json_object *v = element_value(ch, depth + 1, c);
            if (v == NULL) {
                json_object_put(arr);
                return NULL;
            }
            json_object_array_add(arr, v);
        }
        return arr;
    }
    json_object *obj = json_object_new_object();
    if (element_fields(el, obj, depth, c) != 0) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Walks the whole tree once for entity nodes (including inside attributes,
 * which element_value does not look at). */
static int has_entity_nodes(xmlNode *n)
{
    for (; n != NULL; n = n->next) {
        if (n->type == XML_ENTITY_REF_NODE || n->type == XML_ENTITY_NODE ||
            n->type == XML_ENTITY_DECL || n->type == XML_DTD_NODE)
            return 1;
        if (n->type == XML_ELEMENT_NODE) {
            for (xmlAttr *a = n->properties; a != NULL; a = a->next)
                if (has_entity_nodes(a->children))
                    return 1;
        }
        if (n->children != NULL && n->type != XML_ATTRIBUTE_NODE && has_entity_nodes(n->children))
            return 1;
    }
    return 0;
}

static int raw_has(const char *buf, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (buf[i] == '<' && memcmp(buf + i, needle, k) == 0)
            return 1;
    return 0;
}

int body_decode_xml(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                    err_t *e)
{
    if (lim == NULL)
        lim = &body_limits_default;
    *out = NULL;
    /* xmlReadMemory takes an int size. */
    if (n > lim->max_bytes || n > INT_MAX / 2)
        return err_set(e, 413, "too_large", "xml: body larger than %zu bytes", lim->max_bytes);
    /* The DOCTYPE pre-scan below reads bytes as ASCII: a UTF-16 or UTF-32
     * body (whose ASCII characters carry NUL bytes) would hide "<!DOCTYPE"
     * from it. Only UTF-8 is accepted, and the parser is told so. */
    if (memchr(buf, '\0', n) != NULL)
        return err_add(e, 400, "xml_invalid", "body", "xml: only UTF-8 bodies are accepted");
    if (raw_has(buf, n, "<!DOCTYPE") || raw_has(buf, n, "<!doctype"))
        return err_add(e, 400, "xml_invalid", "body", "xml: DOCTYPE is not allowed");
    if (raw_has(buf, n, "<!ENTITY"))
        return err_add(e, 400, "xml_invalid", "body", "xml: entity declarations are not allowed");

    static int initialised;
    if (!initialised) {
        xmlInitParser();
        initialised = 1;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return err_set(e, 500, "internal_error", "xml: out of memory");
    const int options = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)n, "body.xml", "UTF-8", options);
    int rc = -1;
    if (doc == NULL) {
        const xmlError *xe = xmlCtxtGetLastError(ctxt);
        char msg[200] = "not well-formed";
        int line = 0;
        if (xe != NULL && xe->message != NULL) {
            snprintf(msg, sizeof(msg), "%s", xe->message);
            size_t len = strlen(msg);
            while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
                msg[--len] = '\0';
            line = xe->line;
        }
        err_add(e, 400, "xml_invalid", "body", "xml: %s at line %d", msg, line);
        goto out;
    }
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        err_add(e, 400, "xml_invalid", "body", "xml: DOCTYPE is not allowed");
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL) {
        err_add(e, 400, "xml_invalid", "body", "xml: no root element");
        goto out;
    }
    if (has_entity_nodes(doc->children)) {
        err_add(e, 400, "xml_invalid", "body", "xml: entity references are not allowed");
        goto out;
    }
    xml_conv_t c = {.lim = lim, .fields = 0, .e = e};
    json_object *obj = json_object_new_object();
    /* The root is always an object (its name is free), so that
     * <item><tags><item>a</item></tags></item> reads as {"tags":["a"]}. */
    for (xmlNode *ch = root->children; ch != NULL; ch = ch->next)
        if ((ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) &&
            !is_blank(ch->content)) {
            json_object_put(obj);
            err_add(e, 400, "xml_invalid", "body",
                    "xml: the root element must hold field elements, not text");
            goto out;
        }
    if (element_fields(root, obj, 1, &c) != 0) {
        json_object_put(obj);
        goto out;
    }
    /* Elements are counted as they are read, but a repeated name turns
     * into an array, one level more in the tree than in the document: the
     * tree handed on obeys the same nesting limit as a JSON body's (found
     * by fuzz_xml: 16 levels of elements made a tree 21 deep). */
    if (tree_height(obj) > lim->max_depth) {
        json_object_put(obj);
        err_set(e, 413, "too_large", "xml: nesting deeper than %d levels", lim->max_depth);
        goto out;
    }
    *out = obj;
    rc = 0;
out:
    if (doc != NULL)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
