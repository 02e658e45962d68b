/*
 * num.c — number parsing for CSV cells (see num.h).
 *
 * The common case (up to 19 significant digits, exponent within ±22) is
 * computed exactly from an integer mantissa and a power of ten, which is
 * correctly rounded and several times faster than strtod; anything else
 * falls back to strtod on a NUL-terminated copy.
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

int num_format_float(float v, char *buf, size_t n)
{
    for (int prec = 6; prec <= 9; prec++) {
        int k = snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return k;
    }
    return snprintf(buf, n, "%.9g", (double)v);
}
