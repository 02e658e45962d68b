/*
 * extmem_gen.c — a CSV of a given size with a learnable signal, for
 * bench/ml_extmem.sh (data larger than memory).
 *
 *   extmem_gen out.csv bytes seed [test.csv test_rows]
 *
 * 198 numeric columns (two decimals) and 2 categories, a binary target "y"
 * from a logistic law with interactions, a threshold effect and WEAK weak
 * pairwise interactions, so that more rows keep helping a boosted model
 * (the 10 GB model should beat one trained on a 1 GB sample): a 100,000-row
 * model stops some 0.013 AUC below the law's own (measured without the weak
 * pairs, which widen the gap). Rows are independent and identically drawn:
 * the file's first N rows are a random sample of it. Wide rows keep the
 * row count low for the bytes: XGBoost keeps ~32 bytes per row in memory
 * (labels, gradients, predictions, row partition), 10 GB is 9 M rows here.
 * Prints "rows bytes" of the training file. Written in C because Python
 * formats ~1 M cells a second and 10 GB holds 1.7 G of them.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM 198
#define WEAK 30 /* weak pairwise interactions, on f24..f83 */

static uint64_t rng;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double unif(void)
{
    return (double)(next() >> 11) / 9007199254740992.0;
}

/* v in (-10, 10) as "-1.23": two decimals, no locale, no printf. */
static char *put2(char *p, double v)
{
    long k = lround(v * 100);
    if (k < 0) {
        *p++ = '-';
        k = -k;
    }
    long ip = k / 100, fp = k % 100;
    if (ip >= 10)
        *p++ = (char)('0' + ip / 10);
    *p++ = (char)('0' + ip % 10);
    *p++ = '.';
    *p++ = (char)('0' + fp / 10);
    *p++ = (char)('0' + fp % 10);
    return p;
}

static size_t row(char *buf)
{
    double x[NUM];
    char *p = buf;
    for (int i = 0; i < NUM; i++) {
        x[i] = unif() * 6 - 3;
        p = put2(p, x[i]);
        *p++ = ',';
    }
    int c0 = (int)(next() % 8), c1 = (int)(next() % 30);
    p += sprintf(p, "k%d,g%d,", c0, c1);
    double z = 0;
    for (int i = 0; i < 24; i++)
        z += (i % 2 ? -0.35 : 0.3) * x[i] / (1 + i / 8);
    z += 0.45 * x[0] * x[1] - 0.4 * x[2] * x[3] + 0.35 * x[4] * x[5] * (x[6] > 0);
    z += 0.8 * sin(1.7 * x[7]) + 0.5 * fabs(x[8]) - 0.75 + (x[9] > 1.2 ? 0.9 : 0);
    z += (c0 - 3.5) * 0.18 + ((c1 % 7) - 3) * 0.12;
    /* Many weak interactions: each pair alone moves the odds little, and
     * a split on it gains little on a few rows, so a model finds more of
     * them the more rows it sees (what a larger-than-memory table is for). */
    for (int i = 24; i + 1 < 24 + 2 * WEAK; i += 2)
        z += (i % 4 ? -0.12 : 0.12) * x[i] * x[i + 1];
    int y = unif() < 1 / (1 + exp(-z));
    p += sprintf(p, "%s\n", y ? "yes" : "no");
    return (size_t)(p - buf);
}

static int write_file(const char *path, unsigned long long bytes, unsigned long long rows,
                      unsigned long long *rows_out, unsigned long long *bytes_out)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    static char buf[1 << 20];
    size_t used = 0;
    for (int i = 0; i < NUM; i++)
        used += (size_t)sprintf(buf + used, "f%d,", i);
    used += (size_t)sprintf(buf + used, "c0,c1,y\n");
    unsigned long long total = used, n = 0;
    while ((bytes && total < bytes) || (rows && n < rows)) {
        if (used > sizeof(buf) - 4096) {
            if (fwrite(buf, 1, used, f) != used) {
                perror(path);
                fclose(f);
                return -1;
            }
            used = 0;
        }
        size_t k = row(buf + used);
        used += k;
        total += k;
        n++;
    }
    if (fwrite(buf, 1, used, f) != used || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    *rows_out = n;
    *bytes_out = total;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: %s out.csv bytes seed [test.csv test_rows]\n", argv[0]);
        return 2;
    }
    unsigned long long rows = 0, bytes = 0;
    rng = 0x9e3779b97f4a7c15ULL ^ strtoull(argv[3], NULL, 10);
    if (write_file(argv[1], strtoull(argv[2], NULL, 10), 0, &rows, &bytes) < 0)
        return 1;
    unsigned long long tr, tb;
    if (argc == 6 && write_file(argv[4], 0, strtoull(argv[5], NULL, 10), &tr, &tb) < 0)
        return 1;
    printf("%llu %llu\n", rows, bytes);
    return 0;
}
