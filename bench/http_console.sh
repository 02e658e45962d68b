#!/usr/bin/env bash
# http_console.sh — what the web console costs, in figures beside their
# references from the same run:
#  - the bytes a browser fetches for the first page (gzip, as nginx sends
#    them) and for /docs, against a 300 KB budget for the console;
#  - GET /api/v1/datasets/{id}/preview on a 500-row dataset and on a ~50 MB
#    one (diamonds x 25), against GET /api/v1/datasets/{id} (one indexed
#    read): the preview reads the first chunk only, so its rate must not
#    fall with the dataset's size (target: large >= 80% of small);
#  - the chart data's share of a training result document (churn, binary:
#    confusion matrix + ROC + PR points), against the document without it.
# wrk, 1 thread, 8 connections (BENCH_SECONDS each).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

gz() { curl -s --compressed -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$BENCH_URL$1"; }
console=0
for p in / /assets/app.js /assets/app.css /assets/vendor/chart.umd.js /assets/vendor/papaparse.min.js; do
  console=$((console + $(gz "$p")))
done
docs=0
for p in /docs /assets/docs.js /assets/vendor/swagger-ui/swagger-ui-bundle.js /assets/vendor/swagger-ui/swagger-ui.css; do
  docs=$((docs + $(gz "$p")))
done

small=$(api_json POST "/api/v1/datasets?name=bench-console-small" -H 'Content-Type: text/csv' \
          --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)
big_csv=$BENCH_VAR/console-big.csv
src=${TRAINYARD_DATASETS:-$BENCH_ROOT/../shared/datasets}/diamonds_train.csv
{ head -n 1 "$src"; for _ in $(seq 25); do tail -n +2 "$src"; done; } > "$big_csv"
big_bytes=$(stat -c %s "$big_csv")
big=$(api_json POST "/api/v1/datasets?name=bench-console-big" -H 'Content-Type: text/csv' \
        --data-binary @"$big_csv" | json_get dataset_id)
rm -f "$big_csv"

show=$(wrk_rate 8 "$BENCH_URL/api/v1/datasets/$small")
pv_small=$(wrk_rate 8 "$BENCH_URL/api/v1/datasets/$small/preview?rows=20")
pv_big=$(wrk_rate 8 "$BENCH_URL/api/v1/datasets/$big/preview?rows=20")

task=$(bench_train console "$small" churn ',"force":true')
read -r doc_full doc_bare < <(api_json GET "/api/v1/models/train/$task/result" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
full = len(json.dumps(d, separators=(",", ":")))
for m in d.get("models", []):
    m.pop("charts", None)
print(full, len(json.dumps(d, separators=(",", ":"))))')

echo "Web console (wrk -t1 -c8 -d${BENCH_SECONDS}s; sizes gzip as sent)"
row "console first load (html+js+css+libs)" "$((console / 1024))" "KiB" "budget 300 KiB: $(meets "$((console / 1024))" '<=' 300)"
row "/docs first load (Swagger UI)" "$((docs / 1024))" "KiB" "reference: swagger-ui-dist's own bundle"
row "GET /api/v1/datasets/{id} (500 rows)" "$show" "req/s" "reference"
row "GET …/preview?rows=20 (500 rows)" "$pv_small" "req/s" "$(ratio "$pv_small" "$show")% of show"
row "GET …/preview?rows=20 ($((big_bytes / 1048576)) MB)" "$pv_big" "req/s" \
    "$(ratio "$pv_big" "$pv_small")% of the small preview (target >= 80%: $(meets "$(ratio "$pv_big" "$pv_small")" '>=' 80))"
row "result document with chart data" "$doc_full" "bytes" \
    "$(ratio "$((doc_full - doc_bare))" "$doc_bare")% over the $doc_bare bytes without it"
figure console_kib "$((console / 1024))"
figure preview_small "$pv_small"
figure preview_big "$pv_big"
