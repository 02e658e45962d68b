#!/usr/bin/env bash
# http_predict.sh — predictions through nginx: single-row requests against
# nginx's static-file rate (target >= 30%), and a 10,000-row batch (target
# <= 100 ms of server time, read from the Server-Timing header: the body's
# reading in the handler plus the prediction; the client's total beside it).
# JSON batches are plain (every row the model's fields), which the route
# reads straight from the text (ml/rowjson.h).
#
# It trains the model it needs: a trainer runs just long enough for one
# 10-second job on wa_churn, then stops, so nothing competes for the CPU.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

PY=/usr/bin/python3
train_csv=$TRAINYARD_DATASETS/wa_churn_train.csv
test_csv=$TRAINYARD_DATASETS/wa_churn_test.csv

ds=$(api_json POST "/api/v1/datasets?name=churn" -H 'Content-Type: text/csv' \
       --data-binary @"$train_csv" | json_get dataset_id)
task=$(bench_train predict "$ds" churn)
model=$(api_json GET "/api/v1/models/train/$task/result" | json_get model_id)

# Bodies from the test split: one row, and 10,000 rows (the split repeated).
json_batch "$test_csv" churn 1 "$BENCH_VAR/predict1.json"
json_batch "$test_csv" churn 10000 "$BENCH_VAR/predict10k.json"

lua=$BENCH_VAR/predict.lua
body=$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$BENCH_VAR/predict1.json")
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.body = $body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$BENCH_KEY"
LUA

static=$(wrk_rate 32 "$BENCH_URL/")
single=$(wrk_rate 32 "$BENCH_URL/api/v1/models/$model/predict" "$lua")
pct=$(ratio "$single" "$static")
echo "  predict: model $model (wa_churn, 10 s)"
row "nginx static file (reference)" "$static" "req/s" ""
row "POST …/predict, one row" "$single" "req/s" \
    "$pct% of static (target >= 30%: $(meets "$pct" '>=' 30))"

size=$(stat -c %s "$BENCH_VAR/predict10k.json")
read -r best best_total best_decode < <(predict_best "$model" "$BENCH_VAR/predict10k.json")
row "POST …/predict, 10,000 rows (server)" "$best" "ms" \
    "target <= 100 ms: $(meets "$best" '<=' 100) (of which reading the body $best_decode ms; client total incl. $((size / 1024)) KiB upload: $best_total ms; best of 5)"

# The same 10,000-row batch against blends (issue 14: <= 100 ms on the
# server): credit_data with seed 1 and 8 candidates blends two trees and
# the linear model (as tests/e2e/test_models.py pins it), and diamonds at
# 10 s with seed 0 (as bench/ml_quality.sh runs it) blends its biggest
# trees when the search makes one; digits at 10 s with seed 0 pairs its
# default tree (hundreds of rounds x 10 classes, no cap: the search would
# serve it alone) with the linear model as a dot product over 64 fields, so
# its row shows what the pair costs where JSON is 64 fields x 10 classes.
# Each model's preprocess.json says
# whether it is a blend and of how many members, so the row says what it
# measured.
blend_row() { # NAME DATASET TARGET EXTRA DURATION
  local name=$1 stem=$2 target=$3 extra=$4 dur=$5 ds task model members best total decode
  ds=$(api_json POST "/api/v1/datasets?name=$name" -H 'Content-Type: text/csv' \
         --data-binary @"$TRAINYARD_DATASETS/${stem}_train.csv" | json_get dataset_id)
  task=$(bench_train "$name" "$ds" "$target" "$extra" "$dur")
  model=$(api_json GET "/api/v1/models/train/$task/result" | json_get model_id)
  members=$(curl -s -H "X-API-Key: $BENCH_KEY" "$BENCH_URL/api/v1/models/$model/download" |
    tar -xzO preprocess.json | "$PY" -c 'import json, sys
e = json.load(sys.stdin).get("ensemble")
print(", ".join(m.get("model", "tree") for m in e["members"]) if e else "not a blend")' \
    2>/dev/null || echo "?")
  json_batch "$TRAINYARD_DATASETS/${stem}_test.csv" "$target" 10000 "$BENCH_VAR/$name.json"
  read -r best total decode < <(predict_best "$model" "$BENCH_VAR/$name.json")
  row "…/predict, 10,000 rows, blend: $stem" "$best" "ms" \
      "target <= 100 ms: $(meets "$best" '<=' 100) (members: $members; reading the body $decode ms; client total $total ms; best of 5)"
}
blend_row blend-credit credit_data Status ',"seed":1,"max_models":8' 60
blend_row blend-diamonds diamonds price ',"seed":0' 10

# Batch scoring as CSV (handlers/batch.h): the same 10,000 rows as text/csv
# against the JSON batch above (client totals, best of 5), and 500,000 rows
# (past the 32 MB JSON cap) streamed through one worker, whose peak RSS is
# printed beside the 64 MB worker bound.
"$PY" - "$test_csv" "$BENCH_VAR" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
head, rows = lines[0], lines[1:]
for n, name in ((10000, "predict10k.csv"), (500000, "predict500k.csv")):
    batch = (rows * (n // len(rows) + 1))[:n]
    open(sys.argv[2] + "/" + name, "w").write(head + "\n" + "\n".join(batch) + "\n")
PYEOF
csv_best=""
for _ in 1 2 3 4 5; do
  t=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "X-API-Key: $BENCH_KEY" \
        -H 'Content-Type: text/csv' --data-binary @"$BENCH_VAR/predict10k.csv" \
        "$BENCH_URL/api/v1/models/$model/predict" | awk '{printf "%.1f", $1 * 1000}')
  if [ -z "$csv_best" ] || awk -v a="$t" -v b="$csv_best" 'BEGIN { exit !(a < b) }'; then
    csv_best=$t
  fi
done
row "POST …/predict, 10,000 rows as text/csv" "$csv_best" "ms" \
    "JSON batch (reference, client total): $best_total ms; CSV/JSON $(ratio "$csv_best" "$best_total")%"
peak_rss() {
  local p k hwm=0
  for p in $(api_workers); do
    k=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    [ "${k:-0}" -gt "$hwm" ] && hwm=$k
  done
  echo "$hwm"
}
before=$(peak_rss)
size=$(stat -c %s "$BENCH_VAR/predict500k.csv")
lines=$(curl -s -X POST -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: text/csv' \
          --data-binary @"$BENCH_VAR/predict500k.csv" -w '\nTOTAL %{time_total}\n' \
          "$BENCH_URL/api/v1/models/$model/predict" | tee "$BENCH_VAR/predict500k.out" | wc -l)
secs=$(awk '/^TOTAL/ {print $2}' "$BENCH_VAR/predict500k.out")
rate=$(awk -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", 500000 / s; else print "n/a" }')
hwm=$(peak_rss)
row "text/csv, 500,000 rows ($((size / 1048576)) MiB) streamed" "$rate" "rows/s" \
    "$((lines - 3)) rows answered; workers' peak RSS $((hwm / 1024)) MB after, $((before / 1024)) MB before it (the JSON batches) (bound 64 MB: $(meets "$((hwm / 1024))" '<=' 64))"

# Last: its 64-field JSON batches would raise the workers' peak RSS that
# the streaming figure above reads.
blend_row blend-digits digits target ',"seed":0' 10
