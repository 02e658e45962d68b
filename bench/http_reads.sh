#!/usr/bin/env bash
# http_reads.sh — read rates through nginx, against nginx's own static-file
# rate measured in the same run: GET /healthz (target >= 35% of static; it
# may reuse a database check up to 1 s old) and GET …/status (one indexed
# read; bench/peer.sh puts it beside the FastAPI peer's, target >= 2x).
# wrk, 1 thread, 32 connections, kept-alive FastCGI connections behind nginx.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

ds=$(api_json POST "/api/v1/datasets?name=bench-reads" -H 'Content-Type: text/csv' \
       --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)
task=$(api_json POST /api/v1/models/train/new -H 'Content-Type: application/json' \
         -d "{\"dataset_id\":\"$ds\",\"predict_fields\":[\"churn\"],\"duration\":10}" | json_get task_id)

wrk -t1 -c32 -d2s "$BENCH_URL/healthz" >/dev/null 2>&1 # warm-up: every worker, every connection
static=$(wrk_rate 32 "$BENCH_URL/index.html")
status=$(wrk_rate 32 "$BENCH_URL/api/v1/models/train/$task/status")
healthz=$(wrk_rate 32 "$BENCH_URL/healthz")
r_status=$(ratio "$status" "$static")
r_health=$(ratio "$healthz" "$static")

echo "HTTP reads (wrk -t1 -c32 -d${BENCH_SECONDS}s)"
row "nginx static file" "$static" "req/s" "reference (issue: 43-56k on this machine)"
row "GET /api/v1/models/train/{id}/status" "$status" "req/s" \
    "$r_status% of static (the peer's rate: see peer.sh)"
row "GET /healthz" "$healthz" "req/s" "$r_health% of static (target >= 35%: $(meets "$r_health" '>=' 35))"
figure static "$static"
figure status "$status"
figure healthz "$healthz"
