#!/bin/sh
# ml_extmem.sh — data larger than memory (issue 14, item 4): a generated CSV
# of EXTMEM_GB gigabytes trained with the training process capped at
# EXTMEM_CAP of address space (RLIMIT_AS, as TRAINYARD_CHILD_MEMORY caps a
# trainer's worker), beside a model trained in memory on an EXTMEM_SAMPLE_GB
# sample of the same data (its first rows: the rows are drawn i.i.d.), both
# scored on the same EXTMEM_TEST_ROWS fresh rows (python3-xgboost reading
# model.ubj + preprocess.json, as the round-trip test does: the API's JSON
# path would hold 10 M cells as JSON objects), with a paired bootstrap
# interval on the difference. Prints figures; never fails on them.
#
#   bench/ml_extmem.sh [build dir]
#   EXTMEM_GB=2            size of the CSV (the issue's run: EXTMEM_GB=10)
#   EXTMEM_DURATION=600    training budget of each model, seconds (issue: 1800)
#   EXTMEM_CAP=1g          the capped run's address-space limit
#   EXTMEM_SAMPLE_GB=1     the in-memory model's sample
#   EXTMEM_DIR=$TMPDIR     where the CSV, the page files and XGBoost's cache go
#   EXTMEM_TEST_ROWS=50000 fresh rows both models are scored on
#   EXTMEM_SAMPLE_MODEL=dir  reuse the sample model of an earlier run with the
#                          same EXTMEM_GB, EXTMEM_SAMPLE_GB and EXTMEM_DURATION
#                          (the generator is seeded: same rows, same test
#                          rows); dir holds out-sample/, sample.out,
#                          sample.time as this script leaves them in its work
#                          directory. Saves the half hour of the sample run
#                          when only the whole-file path changed.
#
# The capped run is bench/ml_bench with ML_BENCH_SPILL: the worker's code
# path past its cap (ml_data_spill, then ml_train from pages on disk), minus
# the upload through the API (10 GB through PostgreSQL would measure that
# instead). Disk: the CSV, ~0.8x its size of pages and ~1.5x of XGBoost's
# cache at the peak; everything is removed at the end, also on Ctrl-C.
set -u
BUILD=${1:-${BUILD:-build}}
GB=${EXTMEM_GB:-2}
DUR=${EXTMEM_DURATION:-600}
CAP=${EXTMEM_CAP:-1g}
SAMPLE_GB=${EXTMEM_SAMPLE_GB:-1}
BASE=${EXTMEM_DIR:-${TMPDIR:-/tmp}}
TEST_ROWS=${EXTMEM_TEST_ROWS:-50000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$BUILD/bench/ml_bench
GEN=$BUILD/bench/extmem_gen
make --no-print-directory -s BUILD="$BUILD" "$BENCH" "$GEN" >/dev/null || exit 1

cap_bytes=$(echo "$CAP" | awk '{ n = $1 + 0; u = tolower(substr($1, length($1)));
  m = u == "k" ? 1024 : u == "m" ? 1048576 : u == "g" ? 1073741824 : 1; printf "%.0f", n * m }')
need_mb=$(awk -v gb="$GB" -v s="$SAMPLE_GB" 'BEGIN { printf "%.0f", (gb * 3.5 + s) * 1000 }')
avail_mb=$(df -Pm "$BASE" | awk 'NR == 2 { print $4 }')
if [ "$avail_mb" -lt "$need_mb" ]; then
  echo "ml_extmem: $BASE has $avail_mb MB free, the run needs about $need_mb MB: skipped" >&2
  exit 1
fi
WORK=$(mktemp -d "$BASE/trainyard-extmem.XXXXXX") || exit 1
SAMPLER=
cleanup() { [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$WORK/pages" "$WORK/out-ext" "$WORK/out-sample"

t0=$(date +%s)
set -- $("$GEN" "$WORK/data.csv" "$(awk -v g="$GB" 'BEGIN { printf "%.0f", g * 1e9 }')" 1 \
         "$WORK/test.csv" "$TEST_ROWS") || exit 1
# ml_bench's own predict path (JSON rows through ml_model_predict) on the
# first 5000: its figure, not the score.
head -n 5001 "$WORK/test.csv" > "$WORK/test5k.csv"
rows=$1 bytes=$2
echo "--- data: $(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }') GB CSV, $rows rows x 201 columns" \
     "(float matrix $(awk -v r="$rows" 'BEGIN { printf "%.0f", r * 200 * 4 / 1e6 }') MB)," \
     "generated in $(( $(date +%s) - t0 )) s; test: $TEST_ROWS fresh rows"
srows=$(awk -v r="$rows" -v s="$SAMPLE_GB" -v g="$GB" 'BEGIN { n = r * s / g; printf "%d", n < r ? n : r }')
[ -n "${EXTMEM_SAMPLE_MODEL:-}" ] || head -n $((srows + 1)) "$WORK/data.csv" > "$WORK/sample.csv"

# Disk in use on the scratch filesystem, sampled: the page file is unlinked
# while open, so only the filesystem sees it.
df_used() { df -Pk "$BASE" | awk 'NR == 2 { print $3 }'; }
base_kb=$(df_used)
( peak=0; while :; do u=$(df_used); [ "$u" -gt "$peak" ] && peak=$u && echo "$peak" > "$WORK/df.peak"; sleep 2; done ) &
SAMPLER=$!

echo "--- external memory: the whole file, address space capped at $CAP, duration $DUR s"
# MALLOC_ARENA_MAX=2 as the trainer gives its workers (trainer/child.c):
# glibc's per-thread arenas reserve 64 MB of address space each.
ML_BENCH_OUT=$WORK/out-ext ML_BENCH_SPILL=$WORK/pages OMP_WAIT_POLICY=passive \
  MALLOC_ARENA_MAX=2 \
  /usr/bin/time -v -o "$WORK/ext.time" prlimit --as="$cap_bytes" \
  "$BENCH" "$WORK/data.csv" y "$DUR" 1 "$WORK/test5k.csv" > "$WORK/ext.out" 2> "$WORK/ext.err"
ext_rc=$?
kill "$SAMPLER" 2>/dev/null; SAMPLER=
tail -1 "$WORK/ext.out"
# Its engine log's last lines: the blocks, the rounds, what was skipped.
grep -E "external memory|block|candidate|page cache|best" "$WORK/ext.err" | tail -8
[ $ext_rc -eq 0 ] || { echo "ml_extmem: the capped run failed (status $ext_rc):" >&2; tail -5 "$WORK/ext.err" >&2; }
rm -f "$WORK/data.csv"

echo "--- in memory: a $SAMPLE_GB GB sample ($srows rows), no cap, duration $DUR s"
if [ -n "${EXTMEM_SAMPLE_MODEL:-}" ]; then
  echo "(the model of an earlier run: $EXTMEM_SAMPLE_MODEL)"
  cp -r "$EXTMEM_SAMPLE_MODEL/out-sample/." "$WORK/out-sample/" &&
    cp "$EXTMEM_SAMPLE_MODEL/sample.out" "$EXTMEM_SAMPLE_MODEL/sample.time" "$WORK/" || exit 1
  sample_rc=0
else
ML_BENCH_QUIET=1 ML_BENCH_OUT=$WORK/out-sample OMP_WAIT_POLICY=passive \
  /usr/bin/time -v -o "$WORK/sample.time" \
  "$BENCH" "$WORK/sample.csv" y "$DUR" 1 "$WORK/test5k.csv" > "$WORK/sample.out" 2> "$WORK/sample.err"
sample_rc=$?
fi
tail -1 "$WORK/sample.out"
[ $sample_rc -eq 0 ] || { echo "ml_extmem: the sample run failed (status $sample_rc):" >&2; tail -5 "$WORK/sample.err" >&2; }

# Peak RSS of training (ingest + ml_train): ml_bench's figure, taken before
# it loads the test rows as JSON for the API's predict path (which, 200
# fields a row, would be the process's real peak, and not the trainer's).
peak_kb() { sed -n 's/.* train_peak_rss=\([0-9]*\)MB.*/\1/p' "$1" | awk '{ print $1 * 1024 }'; }
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$1"; }
auc() { sed -n 's/.* test_auc=\([0-9.]*\).*/\1/p' "$1"; }
/usr/bin/python3 - "$WORK/out-ext/result.json" "$(peak_kb "$WORK/ext.out")" "$(wall "$WORK/ext.time")" \
  "$(auc "$WORK/ext.out")" "$(peak_kb "$WORK/sample.out")" "$(wall "$WORK/sample.time")" \
  "$(auc "$WORK/sample.out")" "$cap_bytes" "$DUR" "$(cat "$WORK/df.peak" 2>/dev/null || echo 0)" \
  "$base_kb" "$SAMPLE_GB" "$WORK" "$HERE/tests/e2e" <<'PYEOF'
import csv, json, sys
import numpy as np
(res, ext_kb, ext_wall, ext_auc5k, s_kb, s_wall, s_auc5k, cap, dur, df_peak, df_base, sgb, work,
 pre_dir) = sys.argv[1:]
sys.path.insert(0, pre_dir)
import trainyard_preprocess as tp
from sklearn.metrics import roc_auc_score

def mb(kb):
    return float(kb or 0) / 1024

with open(work + "/test.csv", newline="") as f:
    rows = list(csv.DictReader(f))
truth = np.array([1 if r["y"] == "yes" else 0 for r in rows])

def score(out):
    """P(y = yes) of each test row, or None when the run left no model."""
    try:
        pre = json.load(open(out + "/preprocess.json"))
        p = tp.predict(out + "/model.ubj", pre, rows)
    except (OSError, ValueError) as e:
        print("scoring %s: %s" % (out, e))
        return None
    return p[:, pre["classes"].index("yes")]

pe, ps = score(work + "/out-ext"), score(work + "/out-sample")
auc_e = roc_auc_score(truth, pe) if pe is not None else None
auc_s = roc_auc_score(truth, ps) if ps is not None else None
xm = {}
try:
    xm = json.load(open(res)).get("external_memory", {})
except (OSError, ValueError):
    pass
fmt = lambda v: "%.4f" % v if v is not None else "-"
print("%-34s %12s %12s" % ("", "whole file", "%s GB sample" % sgb))
print("%-34s %12s %12s" % ("test AUC (%d fresh rows)" % len(rows), fmt(auc_e), fmt(auc_s)))
print("%-34s %12s %12s" % ("  (ml_bench, first 5000 via JSON)", ext_auc5k or "-", s_auc5k or "-"))
print("%-34s %12.0f %12.0f" % ("peak RSS of training, MB", mb(ext_kb), mb(s_kb)))
print("%-34s %12s %12s" % ("wall clock (ingest+train+test)", ext_wall, s_wall))
print("peak RSS of the capped run: %.0f MB against its cap of %.0f MB: %s" % (
    mb(ext_kb), int(cap) / 1048576, "ok" if mb(ext_kb) <= int(cap) / 1048576 else "OVER"))
if xm:
    print("whole file: %d training rows, %d held out; %d blocks of <= %d rows (%d quantised); "
          "pages %.0f MB, XGBoost's cache %.0f MB%s" % (
          xm["training_rows"], xm["validation_rows"], xm.get("blocks", 0), xm.get("block_rows", 0),
          xm.get("blocks_quantised", 0), xm["page_bytes"] / 1e6, xm["cache_bytes"] / 1e6,
          "; " + xm["skipped"] if xm.get("skipped") else ""))
print("disk: the scratch filesystem's peak over its start: %.0f MB (other processes included)" % (
    (int(df_peak) - int(df_base)) / 1024 if int(df_peak) else 0))
if auc_e is not None and auc_s is not None:
    # Paired bootstrap over the test rows: both models on the same draws.
    rng = np.random.default_rng(1)
    d = []
    for _ in range(200):
        i = rng.integers(0, len(truth), len(truth))
        d.append(roc_auc_score(truth[i], pe[i]) - roc_auc_score(truth[i], ps[i]))
    lo, hi = np.percentile(d, [2.5, 97.5])
    print("the whole-file model %s the sample's: AUC %+.4f (95%% paired bootstrap %+.4f..%+.4f)" % (
        "beats" if lo > 0 else "does not clearly beat" if auc_e > auc_s else "does not beat",
        auc_e - auc_s, lo, hi))
PYEOF
echo "load: $(uptime | sed 's/.*load average/load average/')"
