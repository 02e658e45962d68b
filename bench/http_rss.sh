#!/usr/bin/env bash
# http_rss.sh — API worker memory after 100k requests (target <= 12 MB RSS
# per worker): a mix of status reads, trainings listings, 404s and
# validation errors, so that every code path's arena is exercised.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

TARGET_REQUESTS=${BENCH_RSS_REQUESTS:-100000}
ds=$(api_json POST "/api/v1/datasets?name=bench-rss" -H 'Content-Type: text/csv' \
       --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)
task=$(api_json POST /api/v1/models/train/new -H 'Content-Type: application/json' \
         -d "{\"dataset_id\":\"$ds\",\"predict_fields\":[\"churn\"],\"duration\":10}" | json_get task_id)

lua=$BENCH_VAR/rss_mix.lua
cat > "$lua" <<LUA
local paths = {
  {"GET", "/api/v1/models/train/$task/status", nil},
  {"GET", "/trainings?_limit=5", nil},
  {"GET", "/api/v1/datasets/$ds", nil},
  {"GET", "/api/v1/models/train/00000000-0000-0000-0000-000000000000/status", nil},
  {"POST", "/api/v1/models/train/new", '{"dataset_id":"$ds","predict_fields":["churn"],"duration":7}'},
  {"GET", "/healthz", nil},
}
local i = 0
function request()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  local h = {["X-API-Key"] = "$BENCH_KEY", ["Content-Type"] = "application/json"}
  return wrk.format(p[1], p[2], h, p[3])
end
LUA
before=""
for pid in $(api_workers); do before="$before $pid:$(rss_kb "$pid")"; done
total=0
rounds=0
while [ "$total" -lt "$TARGET_REQUESTS" ] && [ "$rounds" -lt 40 ]; do
  out=$(wrk -t1 -c32 -d5s -s "$lua" "$BENCH_URL" 2>&1)
  n=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
  total=$((total + ${n:-0}))
  rounds=$((rounds + 1))
done
max=0
detail=""
for pid in $(api_workers); do
  kb=$(rss_kb "$pid")
  detail="$detail $pid:$((kb / 1024))MB"
  [ "$kb" -gt "$max" ] && max=$kb
done
mb=$(awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }')

echo "API worker memory"
row "requests served (mixed routes)" "$total" "req" ""
row "largest worker RSS after them" "$mb" "MB" \
    "target <= 12 MB: $(meets "$mb" '<=' 12); FastAPI peer 49 MB (workers:$detail)"
