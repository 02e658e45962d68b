#!/bin/sh
# ml_scale.sh — how the engine's cost grows with the data: seconds and peak
# RSS per million cells for ingest and for training, at 10^4 .. 10^7 rows
# and 10 / 100 / 1,000 columns, beside pandas.read_csv and python3-xgboost
# on the same matrices. Prints figures; never fails.
#
#   bench/ml_scale.sh [duration (unused: bench.sh passes one)] [build dir]
#   ML_SCALE_MAX_CELLS=1e10 bench/ml_scale.sh    # every size (hours, ~40 GB of CSV)
#   ML_SCALE_MIN_CELLS=1e7 ML_SCALE_MAX_CELLS=1e7 bench/ml_scale.sh   # one size again
#   ML_SCALE_ROWS=10000000 ML_SCALE_COLS=100 ML_SCALE_MAX_CELLS=1e9 bench/ml_scale.sh
#                                             # only these row and column counts
#
# By default sizes up to ML_SCALE_MAX_CELLS (2e7) cells run: a loaded
# 2-core box does those in a few minutes. Each size:
# 1. a numeric CSV (ROWS x COLS standard normals, 4 decimals, and a binary
#    target from a noisy linear + interaction rule) under /tmp;
# 2. ingest: bench/ml_bench --ingest (parse + typed columns) against
#    pandas.read_csv, each in its own process: the parse's own seconds and
#    the peak RSS above the process's baseline (interpreter and imports,
#    or our binary and its libraries);
# 3. training: bench/ml_bench with max_models=2 (the linear model, skipped
#    on big data, and the default tree candidate, seeded), then
#    python3-xgboost with the same tree parameters, threads and rounds on
#    the same row counts (QuantileDMatrix from the pandas frame, with the
#    validation set evaluated every round as ours is): the engine's time is
#    its tree candidate's (matrices, rounds, evaluation, validation
#    predictions), its RSS the whole process's above the baseline (the
#    typed columns included, as pandas' frame is on the other side).
# Per million cells: s/Mcell and MB/Mcell; "x" columns are ours / theirs.
set -u
BUILD=${2:-${BUILD:-build}}
PY=/usr/bin/python3
BENCH=$BUILD/bench/ml_bench
MAX_CELLS=${ML_SCALE_MAX_CELLS:-2e7}
MIN_CELLS=${ML_SCALE_MIN_CELLS:-0}
# Always through make: a binary older than the engine would measure the old engine.
make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
DIR=/tmp/trainyard-ml-scale-$$
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT INT TERM

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
# Our process's own baseline RSS (the binary, libxgboost, libgomp): what a
# header-only file costs, taken off every figure as Python's import is.
printf 'x0,target\n1,0\n2,1\n' >"$DIR/empty.csv"
OURS_BASE=$("$BENCH" --ingest "$DIR/empty.csv" 2>/dev/null | sed -n 's/.*peak_rss=\([0-9]*\)MB.*/\1/p')
OURS_BASE=${OURS_BASE:-0}
# ... and a training run's (XGBoost's threads and buffers): 200 rows
awk 'BEGIN { print "x0,x1,target"; srand(1); for (i = 0; i < 200; i++) {
    a = rand(); b = rand(); printf "%.4f,%.4f,%d\n", a, b, (a + b + rand() > 1.5) } }' \
    >"$DIR/base.csv"
OURS_TBASE=$(ML_BENCH_QUIET=1 ML_BENCH_OUT=$DIR/out "$BENCH" "$DIR/base.csv" target 60 0 \
    "$DIR/base.csv" 2 2>/dev/null | sed -n 's/.*train_peak_rss=\([0-9]*\)MB.*/\1/p')
OURS_TBASE=${OURS_TBASE:-0}
echo "baselines taken off: ours ${OURS_BASE} MB (ingest), ${OURS_TBASE} MB (training);" \
    "python: its RSS after import"
printf '%-9s %-5s | %-22s %-22s %-9s | %-22s %-22s %-9s\n' rows cols \
    "ingest ours s,MB/Mc" "pandas s,MB/Mc" "x s,MB" "train ours s,MB/Mc" "xgboost s,MB/Mc" "x s,MB"
for rows in ${ML_SCALE_ROWS:-10000 100000 1000000 10000000}; do
    for cols in ${ML_SCALE_COLS:-10 100 1000}; do
        cells=$((rows * cols))
        awk -v c="$cells" -v m="$MAX_CELLS" -v l="$MIN_CELLS" \
            'BEGIN { exit !(c <= m + 0 && c >= l + 0) }' || continue
        CSV=$DIR/data.csv
        $PY - "$CSV" "$rows" "$cols" <<'PYEOF' || continue
import sys
import numpy as np
path, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
with open(path, "w") as f:
    f.write(",".join("x%d" % j for j in range(p)) + ",target\n")
    for a in range(0, n, 50000):
        X = rng.standard_normal((min(50000, n - a), p)).astype(np.float32)
        z = X[:, 0] + 0.5 * X[:, 1 % p] - 0.7 * X[:, 2 % p] * X[:, 3 % p] \
            + 0.8 * rng.standard_normal(len(X))
        y = (z > 0).astype(int)
        np.savetxt(f, np.column_stack([X, y]), fmt=["%.4f"] * p + ["%d"], delimiter=",")
PYEOF
        mc=$(awk -v c="$cells" 'BEGIN { print c / 1e6 }')
        # ingest: seconds of the parse itself (in-process on both sides) and
        # peak RSS above the process's own baseline (ours: ml_bench on a
        # header-only file; pandas: after import)
        ours_i=$("$BENCH" --ingest "$CSV" | sed -n 's/.* in \([0-9.]*\) s .*peak_rss=\([0-9]*\)MB.*/\1 \2/p')
        pand_i=$($PY - "$CSV" <<'PYEOF'
import resource, sys, time
import pandas as pd
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.time()
pd.read_csv(sys.argv[1])
print("%.3f %d" % (time.time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base))
PYEOF
)
        # training: ours (the tree candidate), then python3-xgboost alike
        head -n 201 "$CSV" >"$DIR/test.csv" # ml_bench scores a test file: keep it small
        ML_BENCH_QUIET=1 ML_BENCH_OUT=$DIR/out "$BENCH" "$CSV" target 3600 0 "$DIR/test.csv" 2 \
            >"$DIR/ours.txt" 2>&1
        ours_t=$($PY - "$DIR/out/result.json" "$DIR/ours.txt" <<'PYEOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
trees = [c for c in r["candidates"] if c["model"] == "tree"]
if not trees:
    sys.exit("no tree candidate: " + open(sys.argv[2]).read()[-300:])
tree = trees[0]
rss = re.search(r"train_peak_rss=(\d+)MB", open(sys.argv[2]).read()).group(1)
nv = re.search(r"\((\d+) rows\)", r["models"][0]["validation"]).group(1)
p = tree["params"]
print(tree["seconds"], rss, tree.get("trained_rounds", tree["rounds"]), nv, p["eta"],
      p["max_depth"], p["min_child_weight"], p["subsample"], p["colsample_bytree"],
      p["lambda"], p.get("nthread", 2))
PYEOF
)
        if [ -z "$ours_t" ]; then
            echo "$rows x $cols: the engine's run gave no figures (above)"
            rm -rf "$CSV" "$DIR/out"
            continue
        fi
        set -- $ours_t
        xgb_t=$(OMP_WAIT_POLICY=passive $PY - "$CSV" "$@" <<'PYEOF'
import resource, sys, time
import pandas as pd, xgboost as xgb
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
path = sys.argv[1]
rounds, nv = int(sys.argv[4]), int(sys.argv[5])
eta, depth, mcw, sub, col, lam, nth = sys.argv[6:13]
df = pd.read_csv(path)
y = df.pop("target").values
ntr = len(df) - nv
params = {"tree_method": "hist", "eta": float(eta), "max_depth": int(depth),
          "min_child_weight": float(mcw), "subsample": float(sub),
          "colsample_bytree": float(col), "lambda": float(lam), "nthread": int(nth),
          "max_cat_to_onehot": 4, "objective": "binary:logistic", "eval_metric": "logloss"}
t = time.time()
dtr = xgb.QuantileDMatrix(df.iloc[:ntr], label=y[:ntr])
dva = xgb.QuantileDMatrix(df.iloc[ntr:], label=y[ntr:], ref=dtr)
b = xgb.train(params, dtr, rounds, evals=[(dva, "valid")], verbose_eval=False)
b.predict(dva)
print("%.3f %d" % (time.time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base))
PYEOF
)
        awk -v rows="$rows" -v cols="$cols" -v mc="$mc" -v oi="$ours_i" -v pi="$pand_i" \
            -v os="$1" -v orss="$(($2 - OURS_TBASE))" -v xt="$xgb_t" -v base="$OURS_BASE" 'BEGIN {
            split(oi, a, " "); split(pi, b, " "); split(xt, c, " ")
            ois = a[1] / mc; oim = (a[2] - base) / mc; pis = b[1] / mc; pim = b[2] / mc
            ots = os / mc; otm = orss / mc; xts = c[1] / mc; xtm = c[2] / mc
            printf "%-9d %-5d | %9.3f %9.1f      %9.3f %9.1f      %4.2f %4.2f | %9.3f %9.1f      %9.3f %9.1f      %4.2f %4.2f\n",
                rows, cols, ois, oim, pis, pim, (pis > 0 ? ois / pis : 0), (pim > 0 ? oim / pim : 0),
                ots, otm, xts, xtm, (xts > 0 ? ots / xts : 0), (xtm > 0 ? otm / xtm : 0) }'
        rm -rf "$CSV" "$DIR/out"
    done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (figures from a shared box: compare ratios, not seconds)"
