#!/bin/sh
# ml_quality.sh — the training engine's test-split quality on every shared
# dataset at a 10 s budget, next to the best reference figure of
# /work/shared/datasets/README.md. Prints figures; never fails on quality.
# ml_bench runs itself with OMP_WAIT_POLICY=passive, as the trainer does.
#
#   bench/ml_quality.sh [duration] [build dir]
set -u
DUR=${1:-10}
BUILD=${2:-${BUILD:-build}}
DATASETS=${TRAINYARD_DATASETS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}
BENCH=$BUILD/bench/ml_bench
[ -x "$BENCH" ] || make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
# dataset target metric best-reference direction(1 = higher is better)
cat <<'LIST' | while read -r ds target metric ref dir; do
diamonds price rmse 543.4 0
wa_churn churn auc 0.852 1
credit_data Status auc 0.837 1
letter lettr accuracy 0.963 1
digits target accuracy 0.969 1
breast_cancer target auc 0.996 1
wine target accuracy 1.000 1
LIST
    out=$(ML_BENCH_QUIET=1 ML_BENCH_OUT=/tmp/ml_quality_$ds "$BENCH" \
        "$DATASETS/${ds}_train.csv" "$target" "$DUR" 0 2>&1 | tail -1)
    val=$(printf '%s\n' "$out" | sed -n "s/.*test_${metric}=\([0-9.]*\).*/\1/p")
    verdict=$(awk -v v="${val:-nan}" -v r="$ref" -v d="$dir" 'BEGIN {
        if (v == "nan") { print "ERROR"; exit }
        if ((d == 1 && v + 1e-9 >= r) || (d == 0 && v <= r + 1e-9)) print "ok"; else print "below" }')
    printf '%-14s %-9s ours=%-8s best_ref=%-7s %-5s | %s\n' "$ds" "$metric" "${val:-?}" "$ref" \
        "$verdict" "$out"
done
