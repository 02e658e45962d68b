/*
 * num.c — number parsing for CSV cells, and float text (see num.h).
 *
 * The common case (up to 19 significant digits, exponent within ±22) is
 * computed exactly from an integer mantissa and a power of ten, which is
 * correctly rounded and several times faster than strtod; anything else
 * falls back to strtod on a NUL-terminated copy.
 *
 * Writing a float is the other way round: the exact reference (snprintf,
 * then strtof to check it reads back) costs about a microsecond, and a
 * 10,000-row multiclass answer writes 110,000 of them; format_float_fast
 * gets the same bytes from double arithmetic wherever that is sure.
 */
#include "ml/num.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

const char *num_trim(const char *p, size_t n, size_t *out_len)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    *out_len = n;
    return p;
}

static int slow_parse(const char *p, size_t n, double *out)
{
    char tmp[128];
    if (n >= sizeof(tmp))
        return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

int num_parse_double(const char *p, size_t n, double *out)
{
    p = num_trim(p, n, &n);
    if (n == 0)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (p[i] == '-' || p[i] == '+') {
        neg = p[i] == '-';
        i++;
    }
    uint64_t mant = 0;
    int digits = 0, frac = 0, any = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (digits < 19) {
            mant = mant * 10 + (uint64_t)(p[i] - '0');
            if (mant)
                digits++;
        } else {
            return slow_parse(p, n, out);
        }
        any = 1;
        i++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (digits >= 19)
                return slow_parse(p, n, out);
            mant = mant * 10 + (uint64_t)(p[i] - '0');
            if (mant)
                digits++;
            frac++;
            any = 1;
            i++;
        }
    }
    if (!any)
        return 0;
    int exp10 = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (p[i] == '-' || p[i] == '+')) {
            eneg = p[i] == '-';
            i++;
        }
        if (i >= n || p[i] < '0' || p[i] > '9')
            return 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (exp10 < 10000)
                exp10 = exp10 * 10 + (p[i] - '0');
            i++;
        }
        if (eneg)
            exp10 = -exp10;
    }
    if (i != n)
        return 0;
    exp10 -= frac;
    if (mant >= (1ULL << 53) || exp10 > 22 || exp10 < -22)
        return slow_parse(p, n, out);
    double v = (double)mant;
    v = exp10 < 0 ? v / pow10_tab[-exp10] : v * pow10_tab[exp10];
    *out = neg ? -v : v;
    return 1;
}

int num_parse_float(const char *p, size_t n, float *out)
{
    double d;
    if (!num_parse_double(p, n, &d))
        return 0;
    if (fabs(d) > 3.0e38)
        return 0;
    *out = (float)d;
    return 1;
}

int num_bool_word(const char *p, size_t n)
{
    p = num_trim(p, n, &n);
    if ((n == 4 && strncasecmp(p, "true", 4) == 0) || (n == 3 && strncasecmp(p, "yes", 3) == 0))
        return 1;
    if ((n == 5 && strncasecmp(p, "false", 5) == 0) || (n == 2 && strncasecmp(p, "no", 2) == 0))
        return 0;
    return -1;
}

/* The reference: the first precision from 6 to 9 whose "%g" text reads
 * back (strtof) as v. Exact, and about a microsecond a number. */
static int format_float_slow(float v, char *buf, size_t n)
{
    for (int prec = 6; prec <= 9; prec++) {
        int k = snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return k;
    }
    return snprintf(buf, n, "%.9g", (double)v);
}

/* 10^e for e in [-50, 50], each literal correctly rounded (relative error
 * at most 2^-53; exact for e in [0, 22]). */
static const double pow10_wide[] = {
    1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43,
    1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35,
    1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27,
    1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19,
    1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11,
    1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3,
    1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
    1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
    1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
    1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
    1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37,
    1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45,
    1e46, 1e47, 1e48, 1e49, 1e50,
};
#define POW10(e) pow10_wide[(e) + 50]

/* "%g" layout of digits (nd of them, no trailing zeros) times 10^x, read at
 * precision prec, sign first when neg: the C standard's rule (fixed when
 * -4 <= x < prec, else d.ddde+XX with at least two exponent digits). */
static int layout_g(int neg, const char *digits, int nd, int x, int prec, char *buf)
{
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (x >= -4 && x < prec) {
        if (x >= 0) {
            for (int i = 0; i <= x; i++)
                *o++ = i < nd ? digits[i] : '0';
            if (nd > x + 1) {
                *o++ = '.';
                for (int i = x + 1; i < nd; i++)
                    *o++ = digits[i];
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -x - 1; i++)
                *o++ = '0';
            for (int i = 0; i < nd; i++)
                *o++ = digits[i];
        }
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            for (int i = 1; i < nd; i++)
                *o++ = digits[i];
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 10)
            *o++ = (char)('0' + ax / 10);
        else
            *o++ = '0';
        *o++ = (char)('0' + ax % 10);
    }
    *o = '\0';
    return (int)(o - buf);
}

/* format_float_slow's text, computed in double arithmetic: for each
 * precision, v scaled by a power of ten is rounded to an integer D, and
 * D x 10^(x - prec + 1) must fall strictly between the midpoints to v's
 * float neighbours (exact in double) to read back as v. The double
 * figures are within 2^-51 of the exact ones, so a decision is sure
 * unless a quantity lies within a wide margin of its threshold (a scaled
 * value within 1e-6 of a half, a candidate within 1e-14 of a midpoint, v
 * within 1e-12 of an inexact power of ten): then -1, and the caller takes
 * the reference. Zero, subnormals, the top binade, infinities and NaN go
 * there too. tests/fuzz/fuzz_numfmt.c holds the two to the same bytes. */
static int format_float_fast(float v, char *buf)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    int neg = (int)(bits >> 31);
    uint32_t be = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
    if (be == 0 || be >= 254)
        return -1;
    double a = fabs((double)v);
    double ulp = ldexp(1.0, (int)be - 150);
    double hi = a + ulp / 2, lo = frac == 0 ? a - ulp / 4 : a - ulp / 2;
    /* The decimal exponent from the binary one (log10(2) = 0.30103),
     * then moved to where 10^x <= a < 10^(x+1). */
    int x = (int)floor(((int)be - 127) * 0.30102999566398120);
    while (a < POW10(x))
        x--;
    while (a >= POW10(x + 1))
        x++;
    /* Negative powers of ten are inexact: too close to one, x is unsure. */
    if ((x < 0 && a - POW10(x) <= 1e-12 * a) || (x + 1 < 0 && POW10(x + 1) - a <= 1e-12 * a))
        return -1;
    for (int prec = 6; prec <= 9; prec++) {
        double y = a * POW10(prec - 1 - x);
        double whole = floor(y), part = y - whole;
        if (fabs(part - 0.5) < 1e-6)
            return -1;
        uint64_t d = (uint64_t)whole + (part > 0.5);
        int xd = x;
        if ((double)d >= POW10(prec)) { /* 9.9999996 at 6 digits: 10.0000 */
            d /= 10;
            xd++;
        }
        double c = (double)d * POW10(xd - prec + 1);
        double margin = 1e-14 * a;
        if (fabs(c - hi) <= margin || fabs(c - lo) <= margin)
            return -1;
        if (c <= lo || c >= hi)
            continue;
        while (d % 10 == 0 && d >= 10) /* %g drops trailing zeros */
            d /= 10;
        char digits[24];
        int nd = 0;
        for (uint64_t t = d; t > 0; t /= 10)
            nd++;
        for (int i = nd - 1; i >= 0; i--, d /= 10)
            digits[i] = (char)('0' + d % 10);
        return layout_g(neg, digits, nd, xd, prec, buf);
    }
    return -1;
}

int num_format_float(float v, char *buf, size_t n)
{
    /* Both write whole into a buffer that always holds the text: the
     * reference's read-back check must never see a cut text. */
    char tmp[NUM_FLOAT_TEXT_MAX];
    int whole = n >= sizeof(tmp);
    char *to = whole ? buf : tmp;
    int k = format_float_fast(v, to);
    if (k < 0)
        k = format_float_slow(v, to, sizeof(tmp));
    return whole ? k : snprintf(buf, n, "%s", tmp);
}

int num_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}
