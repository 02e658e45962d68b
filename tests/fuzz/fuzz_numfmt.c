/*
 * fuzz_numfmt.c — the float writer (ml/num.c num_format_float) against its
 * reference, on arbitrary bit patterns.
 *
 * Every 4 bytes of input are one float, read as its bits (NaN, infinities,
 * subnormals and negative zero included). The text must be byte for byte
 * the reference's: the first precision from 6 to 9 whose "%g" text strtof
 * reads back as the float. It must read back as that float (or be "nan"),
 * and a short buffer must get snprintf's contract: the same length
 * returned, the text cut and terminated.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/num.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int reference(float v, char *buf, size_t n)
{
    for (int prec = 6; prec <= 9; prec++) {
        int k = snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return k;
    }
    return snprintf(buf, n, "%.9g", (double)v);
}

static void check(float v, size_t cut)
{
    char got[NUM_FLOAT_TEXT_MAX], want[64];
    int k = num_format_float(v, got, sizeof(got));
    int kw = reference(v, want, sizeof(want));
    FUZZ_CHECK(k == kw && strcmp(got, want) == 0, "%a: \"%s\", reference \"%s\"", (double)v,
               got, want);
    FUZZ_CHECK(k < NUM_FLOAT_TEXT_MAX, "%a: %d bytes", (double)v, k);
    FUZZ_CHECK(isnan(v) || strtof(got, NULL) == v, "%a: \"%s\" reads back otherwise",
               (double)v, got);
    char small[NUM_FLOAT_TEXT_MAX];
    memset(small, 'x', sizeof(small));
    size_t n = cut % (size_t)(k + 2);
    int ks = num_format_float(v, small, n);
    FUZZ_CHECK(ks == k, "%a: %d bytes into %zu, %d whole", (double)v, ks, n, k);
    if (n > 0)
        FUZZ_CHECK(strlen(small) == (n - 1 < (size_t)k ? n - 1 : (size_t)k) &&
                       strncmp(small, got, strlen(small)) == 0,
                   "%a: cut to %zu: \"%s\"", (double)v, n, small);
    else
        FUZZ_CHECK(small[0] == 'x', "%a: wrote into an empty buffer", (double)v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t bits;
        memcpy(&bits, data + i, 4);
        float v;
        memcpy(&v, &bits, 4);
        check(v, data[i] ^ data[i + 3]);
        /* Its neighbours: where rounding and read-back decisions flip. */
        check(nextafterf(v, INFINITY), data[i + 1]);
        check(nextafterf(v, -INFINITY), data[i + 2]);
    }
    return 0;
}
