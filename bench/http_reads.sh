#!/usr/bin/env bash
# http_reads.sh — read rates through nginx, against nginx's own static-file
# rate measured in the same run: GET …/status (one indexed read, target
# >= 35% of static) and GET /healthz (target >= 60%). wrk, 1 thread, 32
# connections.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

ds=$(api_json POST "/api/v1/datasets?name=bench-reads" -H 'Content-Type: text/csv' \
       --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)
task=$(api_json POST /api/v1/models/train/new -H 'Content-Type: application/json' \
         -d "{\"dataset_id\":\"$ds\",\"predict_fields\":[\"churn\"],\"duration\":10}" | json_get task_id)

static=$(wrk_rate 32 "$BENCH_URL/index.html")
status=$(wrk_rate 32 "$BENCH_URL/api/v1/models/train/$task/status")
healthz=$(wrk_rate 32 "$BENCH_URL/healthz")
r_status=$(ratio "$status" "$static")
r_health=$(ratio "$healthz" "$static")

echo "HTTP reads (wrk -t1 -c32 -d${BENCH_SECONDS}s)"
row "nginx static file" "$static" "req/s" "reference (issue: 43-56k on this machine)"
row "GET /api/v1/models/train/{id}/status" "$status" "req/s" \
    "$r_status% of static (target >= 35%: $(meets "$r_status" '>=' 35)); FastAPI peer 5.4-6.2k"
row "GET /healthz" "$healthz" "req/s" "$r_health% of static (target >= 60%: $(meets "$r_health" '>=' 60))"
