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
# Always through make: a binary older than the engine would measure the old engine.
make --no-print-directory BUILD="$BUILD" "$BENCH" >/dev/null || exit 1
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
# Both sides run three times (the box is shared: the best of three is the
# figure least disturbed by neighbours); seeded + max_models=2 makes every
# engine run train the same rounds.
for i in 1 2 3; do
    ML_BENCH_QUIET=1 ML_BENCH_OUT=$OUT.$i "$BENCH" "$DATASETS/diamonds_train.csv" price 60 0 "" 2 \
        >/dev/null
done
# Same process settings as the engine (the trainer runs XGBoost with
# passive OpenMP waiting), same rows, parameters, threads and rounds; the
# matrix build is timed on both sides.
OMP_WAIT_POLICY=passive $PY - "$DATASETS/diamonds_train.csv" $OUT.1/result.json $OUT.2/result.json \
    $OUT.3/result.json <<'PYEOF'
import json, re, sys, time
import numpy as np, pandas as pd, xgboost as xgb
runs = [json.load(open(f)) for f in sys.argv[2:]]
trees = [[c for c in r["candidates"] if c["model"] == "tree"][0] for r in runs]
res = runs[0]
tree = min(trees, key=lambda c: c["seconds"])
p, rounds = tree["params"], tree.get("trained_rounds", tree["rounds"])
nvalid = int(re.search(r"\((\d+) rows\)", res["models"][0]["validation"]).group(1))
df = pd.read_csv(sys.argv[1])
y = df.pop("price").values
for c in ("cut", "color", "clarity"):
    df[c] = df[c].astype("category")
n = len(df); ntr = n - nvalid
params = {"tree_method": "hist", "eta": p["eta"], "max_depth": p["max_depth"],
          "min_child_weight": p["min_child_weight"], "subsample": p["subsample"],
          "colsample_bytree": p["colsample_bytree"], "lambda": p["lambda"],
          "nthread": p.get("nthread", 2), "max_cat_to_onehot": p.get("max_cat_to_onehot", 4),
          "objective": "reg:squarederror", "base_score": float(y[:ntr].mean())}
best = None
for kind in ("DMatrix", "QuantileDMatrix"):
    for rep in range(3):
        t = time.time()
        if kind == "DMatrix":
            dtr = xgb.DMatrix(df.iloc[:ntr], label=y[:ntr], enable_categorical=True)
            dva = xgb.DMatrix(df.iloc[ntr:], label=y[ntr:], enable_categorical=True)
        else:
            dtr = xgb.QuantileDMatrix(df.iloc[:ntr], label=y[:ntr], enable_categorical=True)
            dva = xgb.QuantileDMatrix(df.iloc[ntr:], label=y[ntr:], enable_categorical=True,
                                      ref=dtr)
        b = xgb.train(params, dtr, rounds, evals=[(dva, "valid")], verbose_eval=False)
        b.predict(dva)
        dt = time.time() - t
        print("python3-xgboost %-15s %d rounds in %.2f s (matrices + train with eval set + "
              "validation predict)" % (kind, rounds, dt))
        best = dt if best is None or dt < best else best
print("trainyard candidate:            %d rounds in %s s, best %.2f s (matrices, rounds, per-round "
      "eval, validation predict), nthread=%s" % (rounds, " ".join("%.2f" % c["seconds"] for c in trees),
                                                tree["seconds"], p.get("nthread")))
print("overhead vs the fastest python run: %+.0f%%" % ((tree["seconds"] / best - 1) * 100))
PYEOF
rm -rf "$OUT".1 "$OUT".2 "$OUT".3
