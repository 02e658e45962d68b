/*
 * keyorder.h — which of a fixed set of names each key of a JSON row object
 * is, at the cost of a string compare per key.
 *
 * A prediction batch is thousands of row objects that nearly always carry
 * the same keys in the same order. A key order remembers, for each key
 * position, the name the last row had there: the next row's key at that
 * position is compared with it, and only a key out of that order costs a
 * hash lookup (which then updates the position). Reading a row's entries
 * in order also walks its memory once, where a lookup per name walks the
 * hash buckets. The prediction input's encoding (ml/model.c), its warnings
 * (handlers/predict_check.c) and the plain batch reader (ml/rowjson.c, keys
 * compared in place) read rows this way.
 *
 * Not thread-safe: one per model in a single-threaded worker.
 */
#ifndef TRAINYARD_ML_KEYORDER_H
#define TRAINYARD_ML_KEYORDER_H

#include <stddef.h>

typedef struct keyorder keyorder_t;

/* An order over n names (the strings are borrowed and must outlive it;
 * the array is copied). A name given twice keeps its first index. NULL
 * when out of memory. */
keyorder_t *keyorder_new(const char *const *names, size_t n);
void keyorder_free(keyorder_t *ko);

/* The index of key among the names, or -1; k is the key's position in its
 * row (0-based), which only steers the guess. */
long keyorder_find(keyorder_t *ko, size_t k, const char *key);

/* The same for a key of n bytes that is not NUL-terminated (read in place
 * from a request's text); a key holding a NUL byte is no name. */
long keyorder_find_n(keyorder_t *ko, size_t k, const char *key, size_t n);

#endif
