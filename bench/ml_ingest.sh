#!/bin/sh
# ml_ingest.sh — CSV ingest speed against pandas, and training overhead
# against python3-xgboost driven directly. Prints figures; never fails.
#
#   bench/ml_ingest.sh [size MB] [build dir]
#
# 1. Generates a mixed CSV (numbers, categories, booleans, text, missing
#    cells) of about SIZE MB under /tmp, then times our ingest (parse +
#    typed columns, bench/ml_bench --ingest) and pandas.read_csv (Debian
#    python3-pandas via /usr/bin/python3) on it, in MB/s.
# 2. Trains diamonds with max_models=2 (linear + the default tree
#    candidate), then trains the same tree parameters for the same number
#    of rounds with python3-xgboost on the same number of rows, and prints
#    both times: the overhead is everything we do around XGBoost.
set -u
MB=${1:-500}
BUILD=${2:-${BUILD:-build}}
PY=/usr/bin/python3
BENCH=$BUILD/bench/ml_bench
DATASETS=${TRAINYARD_DATASETS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/datasets}
[ -x "$BENCH" ] || make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
CSV=/tmp/trainyard-ml-ingest-$$.csv
trap 'rm -f "$CSV"' EXIT INT TERM

$PY - "$CSV" "$MB" <<'PYEOF'
import random, sys
path, mb = sys.argv[1], float(sys.argv[2])
rnd = random.Random(0)
cities = ["Berlin", "Paris", "Rome", "Oslo", "Lisbon", "Vienna", "Prague", "Dublin"]
lines = []
for i in range(100000):
    lines.append("%d,%.4f,%s,%d,%s,%s,\"note %d, free text\",%s,%.2f\n" % (
        i, rnd.gauss(0, 1), rnd.choice(cities), rnd.randint(0, 99),
        "true" if rnd.random() < 0.5 else "false",
        "" if rnd.random() < 0.05 else "%.3f" % rnd.random(), rnd.randint(0, 10**6),
        rnd.choice(["A", "B", "C", "NA"]), rnd.uniform(0, 1000)))
block = "".join(lines)
with open(path, "w") as f:
    f.write("id,x,city,age,flag,ratio,note,grade,amount\n")
    written = 0
    while written < mb * 1e6:
        f.write(block)
        written += len(block)
PYEOF
echo "--- ingest ($(du -m "$CSV" | cut -f1) MB mixed CSV)"
printf 'trainyard: '
"$BENCH" --ingest "$CSV"
$PY - "$CSV" <<'PYEOF'
import os, resource, sys, time
import pandas as pd
t = time.time()
df = pd.read_csv(sys.argv[1])
dt = time.time() - t
mb = os.path.getsize(sys.argv[1]) / 1e6
print("pandas:    read_csv %.1f MB in %.2f s = %.1f MB/s, %d rows, peak_rss=%dMB" % (
    mb, dt, mb / dt, len(df), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
PYEOF

echo "--- training overhead (diamonds, default tree candidate)"
OUT=/tmp/trainyard-ml-overhead-$$
ML_BENCH_QUIET=1 ML_BENCH_OUT=$OUT "$BENCH" "$DATASETS/diamonds_train.csv" price 60 0 "" 2 >/dev/null
$PY - "$OUT/result.json" "$DATASETS/diamonds_train.csv" <<'PYEOF'
import json, sys, time
import numpy as np, pandas as pd, xgboost as xgb
res = json.load(open(sys.argv[1]))
tree = [c for c in res["candidates"] if c["model"] == "tree"][0]
p, rounds = tree["params"], tree["rounds"]
df = pd.read_csv(sys.argv[2])
y = df.pop("price").values
for c in ("cut", "color", "clarity"):
    df[c] = df[c].astype("category")
n = len(df); ntr = n - round(n * 0.2)
t = time.time()
dtr = xgb.DMatrix(df.iloc[:ntr], label=y[:ntr], enable_categorical=True)
dva = xgb.DMatrix(df.iloc[ntr:], label=y[ntr:], enable_categorical=True)
params = {"tree_method": "hist", "eta": p["eta"], "max_depth": p["max_depth"],
          "min_child_weight": p["min_child_weight"], "subsample": p["subsample"],
          "colsample_bytree": p["colsample_bytree"], "lambda": p["lambda"], "nthread": 2,
          "objective": "reg:squarederror", "base_score": float(y[:ntr].mean())}
xgb.train(params, dtr, rounds, evals=[(dva, "valid")], verbose_eval=False)
py = time.time() - t
print("trainyard candidate: %d rounds in %.2f s (matrices, rounds, per-round eval, validation "
      "predict)" % (rounds, tree["seconds"]))
print("python3-xgboost:     %d rounds in %.2f s (DMatrix + train with eval set)" % (rounds, py))
print("overhead: %+.0f%%" % ((tree["seconds"] / py - 1) * 100))
PYEOF
rm -rf "$OUT"
