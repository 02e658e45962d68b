#!/usr/bin/env bash
# http_explain.sh — the cost of explanations: a 1,000-row prediction batch
# with `explain: true` (per-field TreeSHAP contributions, ml/contrib.c and
# ml/treeshap.c) against the same batch without, both as server time from
# the predict route's Server-Timing header (best of 5 each). Target (issue
# 10): the explained batch within 3x the plain one. The first explained
# batch a worker serves for a model also reads the model's trees and builds
# their tables (kept in the model cache); it is printed apart.
#
# It trains the model it needs as http_predict.sh does: a trainer runs just
# long enough for one 10-second job on wa_churn (numbers and categories),
# then stops, so nothing competes for the CPU.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

train_csv=$TRAINYARD_DATASETS/wa_churn_train.csv
test_csv=$TRAINYARD_DATASETS/wa_churn_test.csv

ds=$(api_json POST "/api/v1/datasets?name=churn-explain" -H 'Content-Type: text/csv' \
       --data-binary @"$train_csv" | json_get dataset_id)
task=$(bench_train explain "$ds" churn)
model=$(api_json GET "/api/v1/models/train/$task/result" | json_get model_id)

# 1,000 rows of the test split (repeated as needed), plain and explained.
json_batch "$test_csv" churn 1000 "$BENCH_VAR/predict1k.json"
json_batch "$test_csv" churn 1000 "$BENCH_VAR/explain1k.json" explain

# best_server_ms FILE — the best of 5 Server-Timing durations for that body.
best_server_ms() { predict_best "$model" "$1" | cut -d' ' -f1; }

first_ms() {
  server_ms "$(curl -s -o /dev/null -D - -X POST -H "X-API-Key: $BENCH_KEY" \
       -H 'Content-Type: application/json' --data-binary @"$1" \
       "$BENCH_URL/api/v1/models/$model/predict")" | cut -d' ' -f1
}
cold=$(first_ms "$BENCH_VAR/explain1k.json")
plain=$(best_server_ms "$BENCH_VAR/predict1k.json")
explained=$(best_server_ms "$BENCH_VAR/explain1k.json")
times=$(awk -v a="$explained" -v b="$plain" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
figure explain_1k_plain_ms "$plain"
figure explain_1k_explain_ms "$explained"
echo "  explain: model $model (wa_churn, 10 s)"
row "POST …/predict, 1,000 rows (server, reference)" "$plain" "ms" "best of 5"
row "POST …/predict, 1,000 rows, explain, first (server)" "${cold:-n/a}" "ms" \
    "once per worker and model: reads the trees, builds their tables"
row "POST …/predict, 1,000 rows, explain (server)" "$explained" "ms" \
    "${times}x the plain batch (target <= 3x: $(meets "$times" '<=' 3))"
