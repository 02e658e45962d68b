#!/bin/sh
# ml_memory.sh — the trainer's peak memory on a big dataset against the
# issue's bar: peak RSS <= 3 x the dataset's float matrix + 64 MB.
# Prints figures; never fails.
#
#   bench/ml_memory.sh [rows] [duration] [build dir]
#
# Generates a mixed CSV (numbers, a category, a boolean, missing cells and
# a binary target that depends on them) of ROWS rows x 8 columns under
# /tmp (2.5M rows: ~100 MB, an 80 MB float matrix), trains it with
# bench/ml_bench (which ingests and trains as the trainer child does) and
# reads the peak RSS of the whole process from /usr/bin/time -v.
set -u
ROWS=${1:-2500000}
DUR=${2:-10}
BUILD=${3:-${BUILD:-build}}
BENCH=$BUILD/bench/ml_bench
# Always through make: a binary older than the engine would measure the old engine.
make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
CSV=/tmp/trainyard-ml-mem-$$.csv
TEST=/tmp/trainyard-ml-mem-$$-test.csv
OUT=/tmp/trainyard-ml-mem-$$
trap 'rm -rf "$CSV" "$TEST" "$OUT" "$OUT.time"' EXIT INT TERM

/usr/bin/python3 - "$CSV" "$TEST" "$ROWS" <<'PYEOF'
import math, random, sys
rnd = random.Random(0)
cities = ["Berlin", "Paris", "Rome", "Oslo", "Lisbon", "Vienna", "Prague", "Dublin"]
def row():
    x, c, age = rnd.gauss(0, 1), rnd.randrange(8), rnd.randint(0, 99)
    flag, ratio, g = rnd.random() < 0.5, rnd.random(), rnd.choice("ABCD")
    amount = rnd.uniform(0, 1000)
    z = 1.2 * x + 0.4 * (c % 3) - 0.02 * (age - 50) + (0.8 if flag else 0) - amount / 800
    y = "yes" if rnd.random() < 1 / (1 + math.exp(-z)) else "no"
    return "%.4f,%s,%d,%s,%s,%s,%.2f,%s\n" % (
        x, cities[c], age, "true" if flag else "false",
        "" if rnd.random() < 0.05 else "%.3f" % ratio, g, amount, y)
head = "x,city,age,flag,ratio,grade,amount,y\n"
for path, n in ((sys.argv[1], int(sys.argv[3])), (sys.argv[2], 20000)):
    with open(path, "w") as f:
        f.write(head)
        block = []
        for i in range(n):
            block.append(row())
            if len(block) == 100000:
                f.write("".join(block))
                block = []
        f.write("".join(block))
PYEOF
echo "--- peak memory ($(du -m "$CSV" | cut -f1) MB CSV, $ROWS rows x 8 columns, duration $DUR s)"
ML_BENCH_QUIET=1 ML_BENCH_OUT=$OUT /usr/bin/time -v -o "$OUT.time" "$BENCH" "$CSV" y "$DUR" 0 "$TEST" \
    | tail -1
peak=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$OUT.time")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$OUT.time")
awk -v kb="$peak" -v rows="$ROWS" -v wall="$wall" 'BEGIN {
    fm = rows * 8 * 4 / 1e6; bar = 3 * fm + 64; mb = kb / 1024
    printf "peak RSS %.0f MB (whole process: ingest, training, test predictions), wall %s\n", mb, wall
    printf "bar: 3 x float matrix (%.1f MB) + 64 MB = %.0f MB: %s\n", fm, bar, mb <= bar ? "ok" : "OVER" }'
