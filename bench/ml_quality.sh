#!/bin/sh
# ml_quality.sh — the training engine's test-split quality on every shared
# dataset at a budget (default 10 s), next to the best of the five
# baselines of /work/shared/datasets/README.md recomputed at full precision
# on the same splits (bench/ml_baselines.py; the README rounds to 3 digits,
# which hides a loss in the 4th). The baselines are computed once and
# cached in $BUILD/ml_baselines.tsv (~15 min on a loaded 2-core box: exact
# XGBoost on letter); the cache is rebuilt when the script is newer.
# "ok" = at or above the best baseline, "above" = strictly above, "below".
# Prints figures; never fails on quality. ml_bench runs itself with
# OMP_WAIT_POLICY=passive, as the trainer does.
#
#   bench/ml_quality.sh [duration] [build dir]
set -u
DUR=${1:-10}
BUILD=${2:-${BUILD:-build}}
HERE=$(cd "$(dirname "$0")" && pwd)
DATASETS=${TRAINYARD_DATASETS:-$(cd "$HERE/../.." && pwd)/shared/datasets}
BENCH=$BUILD/bench/ml_bench
BASE=$BUILD/ml_baselines.tsv
# Always through make: a binary older than the engine would measure the old engine.
make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
if [ ! -s "$BASE" ] || [ "$HERE/ml_baselines.py" -nt "$BASE" ]; then
    echo "computing the baselines once into $BASE (bench/ml_baselines.py)..." >&2
    /usr/bin/python3 "$HERE/ml_baselines.py" "$DATASETS" "$BASE" >/dev/null || exit 1
fi
echo "# uptime: $(uptime)"
# dataset target metric README-best(3 digits)
cat <<'LIST' | while read -r ds target metric readme; do
diamonds price rmse 543.4
wa_churn churn auc 0.852
credit_data Status auc 0.837
letter lettr accuracy 0.963
digits target accuracy 0.969
breast_cancer target auc 0.996
wine target accuracy 1.000
LIST
    # columns: dataset metric higher xgb xgb_hist xgb_cat hgb linear best best_of
    set -- $(awk -F'\t' -v d="$ds" '$1 == d { print $3, $9, $10 }' "$BASE")
    dir=${1:-1} ref=${2:-nan} refof=${3:-?}
    out=$(ML_BENCH_QUIET=1 ML_BENCH_OUT=/tmp/ml_quality_$ds "$BENCH" \
        "$DATASETS/${ds}_train.csv" "$target" "$DUR" 0 2>&1 | tail -1)
    val=$(printf '%s\n' "$out" | sed -n "s/.*test_${metric}=\([0-9.]*\).*/\1/p")
    verdict=$(awk -v v="${val:-nan}" -v r="$ref" -v d="$dir" 'BEGIN {
        if (v == "nan" || r == "nan") { print "ERROR"; exit }
        if (v == r) print "ok"
        else if ((d == 1) == (v > r)) print "above"; else print "below" }')
    printf '%-14s %-9s ours=%-9s best=%-10.6g(%s, README %s) %-5s | %s\n' "$ds" "$metric" \
        "${val:-?}" "$ref" "$refof" "$readme" "$verdict" "$out"
done
