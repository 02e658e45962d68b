#!/usr/bin/env bash
# http_writes.sh — POST …/train/new (insert + NOTIFY in one transaction)
# against pgbench doing the same INSERT + pg_notify at the same concurrency
# (16) on the same database; target >= 80%. Then checks that every request
# answered 201 has its row (and nothing else was inserted).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

ds=$(api_json POST "/api/v1/datasets?name=bench-writes" -H 'Content-Type: text/csv' \
       --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)

# The reference: the same write pattern straight into PostgreSQL.
bench_psql -c "CREATE TABLE IF NOT EXISTS bench_enqueue (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  spec jsonb NOT NULL, state text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now())" >/dev/null
pgb_script=$BENCH_VAR/pgbench_enqueue.sql
cat > "$pgb_script" <<SQL
BEGIN;
INSERT INTO bench_enqueue (spec) VALUES ('{"dataset_id":"$ds","predict_fields":["churn"],"duration":10}');
SELECT pg_notify('bench_enqueue', 'x');
END;
SQL
pgb_out=$(pgbench -n -c 16 -j 1 -T "$BENCH_SECONDS" -f "$pgb_script" "$BENCH_DB_URL" 2>&1)
printf '%s\n' "$pgb_out" >> "$BENCH_VAR/log/pgbench.log"
pgb_tps=$(printf '%s\n' "$pgb_out" | awk '/^tps = / {print $3; exit}')

lua=$BENCH_VAR/train_new.lua
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.body = '{"dataset_id":"$ds","predict_fields":["churn"],"duration":10,"force":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$BENCH_KEY"
local threads = {}
function setup(thread) table.insert(threads, thread) end
created = 0
other = 0
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("created=%d other=%d\n", c, o))
end
LUA
before=$(bench_psql -c "SELECT count(*) FROM jobs WHERE dataset_id = '$ds'")
out=$(wrk -t1 -c16 -d"${BENCH_SECONDS}s" -s "$lua" "$BENCH_URL/api/v1/models/train/new" 2>&1)
printf '%s\n' "$out" >> "$BENCH_VAR/log/wrk.log"
rate=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
created=$(printf '%s\n' "$out" | sed -n 's/^created=\([0-9]*\).*/\1/p')
other=$(printf '%s\n' "$out" | sed -n 's/.*other=\([0-9]*\).*/\1/p')
after=$(bench_psql -c "SELECT count(*) FROM jobs WHERE dataset_id = '$ds'")
rows=$((after - before))
r=$(ratio "$rate" "$pgb_tps")

echo "HTTP writes (16 connections, ${BENCH_SECONDS}s)"
row "pgbench INSERT + pg_notify (16 clients)" "$pgb_tps" "tps" "reference (issue: ~2k tps on this disk)"
row "POST /api/v1/models/train/new" "$rate" "req/s" \
    "$r% of pgbench (target >= 80%: $(meets "$r" '>=' 80)); the peer's: see peer.sh"
figure train_new "$rate"
figure pgbench "$pgb_tps"
# wrk stops counting at the deadline while up to 16 requests are in flight:
# those commit without being counted, so rows may exceed the 201s by <= 16.
if [ "$rows" -ge "$created" ] && [ "$rows" -le $((created + 16)) ]; then
  verdict="every accepted request has its row ($((rows - created)) more were in flight at the deadline)"
else verdict="MISMATCH: $created answered 201, $rows rows"; fi
row "accepted (201) / rows inserted / other" "$created/$rows/$other" "" "$verdict"
bench_psql -c "DROP TABLE bench_enqueue" >/dev/null
