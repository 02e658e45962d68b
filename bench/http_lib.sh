# shellcheck shell=bash
# http_lib.sh — shared helpers of the HTTP benchmarks (sourced, not run).
#
# Expects the bench stack's coordinates in the environment (scripts/bench.sh
# exports them): BENCH_URL, BENCH_KEY, BENCH_DB_URL, BENCH_VAR, BENCH_SECONDS.
# Every figure is printed next to its reference with the ratio and the
# target; nothing here fails on speed.

: "${BENCH_SECONDS:=10}"
: "${BENCH_THREADS:=1}"

# wrk_rate CONNS URL [LUA] — prints requests/s (1 thread, as the issue fixes).
wrk_rate() {
  local conns=$1 url=$2 lua=${3:-} out
  if [ -n "$lua" ]; then
    out=$(wrk -t"$BENCH_THREADS" -c"$conns" -d"${BENCH_SECONDS}s" -s "$lua" "$url" 2>&1)
  else
    out=$(wrk -t"$BENCH_THREADS" -c"$conns" -d"${BENCH_SECONDS}s" -H "X-API-Key: $BENCH_KEY" "$url" 2>&1)
  fi
  printf '%s\n' "$out" >> "$BENCH_VAR/log/wrk.log"
  local non2xx
  non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx responses/ {print $NF}')
  [ -n "$non2xx" ] && echo "  (note: $non2xx non-2xx answers to $url)" >&2
  printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}'
}

# figure NAME VALUE — keeps a figure of this run for bench/peer.sh.
figure() { [ -n "${BENCH_FIGURES:-}" ] && echo "$1 $2" >> "$BENCH_FIGURES"; return 0; }

# ratio A B — A/B as a percentage with one decimal.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "n/a" }'; }

# meets VALUE OP TARGET — "yes"/"no" (for the printed verdict only).
meets() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
  if (v == "n/a" || v == "") { print "n/a"; exit }
  ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "yes" : "NO" }'; }

# row NAME VALUE UNIT REFERENCE — one printed line.
row() { printf '  %-44s %12s %-8s %s\n' "$1" "$2" "$3" "$4"; }

# The API pool's worker pids (children of the master).
api_workers() {
  local master
  master=$(cat "$BENCH_VAR/run/api.pid")
  ps -o pid= --ppid "$master" | tr -d ' '
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

bench_psql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$BENCH_DB_URL" "$@"; }

api_json() { # METHOD PATH [curl args...]
  local m=$1 p=$2; shift 2
  curl -s -X "$m" -H "X-API-Key: $BENCH_KEY" "$@" "$BENCH_URL$p"
}

json_get() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# bench_train NAME DATASET_ID FIELD [extra spec JSON members [duration]] —
# trains one model and prints its task id. The bench stack's trainer is
# stopped, so a trainer of our own runs just long enough for this one job
# (duration 10 unless given; what
# other benchmarks queued is cancelled first: the stack is throwaway), then
# stops, so nothing competes for the CPU with the measurement. Exits with
# the trainer's last words if the job does not succeed.
bench_train() {
  local name=$1 ds=$2 field=$3 extra=${4:-} duration=${5:-10} trainer task st=PENDING
  local log="$BENCH_VAR/log/$name-trainer.log"
  bench_psql -c "UPDATE jobs SET state = 'killed', finished_at = now() WHERE state = 'queued'" >/dev/null
  TRAINYARD_DATABASE_URL=$BENCH_DB_URL "$TRAINYARD_BUILD/trainyard-trainer" \
    --trainer-id="bench-$name" >> "$log" 2>&1 &
  trainer=$!
  task=$(api_json POST /api/v1/models/train/new -H 'Content-Type: application/json' \
           -d "{\"dataset_id\":\"$ds\",\"predict_fields\":[\"$field\"],\"duration\":$duration$extra}" |
         json_get task_id)
  for _ in $(seq 1 240); do
    st=$(api_json GET "/api/v1/models/train/$task/status" | json_get status)
    [ "$st" = SUCCEEDED ] || [ "$st" = FAILED ] && break
    sleep 0.5
  done
  kill -TERM "$trainer" 2>/dev/null; wait "$trainer" 2>/dev/null || true
  if [ "$st" != SUCCEEDED ]; then
    echo "$name: training ended $st; the trainer said:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "$task"
}

# json_batch TEST_CSV TARGET N OUT [explain] — a prediction body of N rows
# of a test split (repeated as needed), the target left out, numbers as
# JSON numbers and empty cells as null; with "explain" it asks for
# explanations too.
json_batch() {
  /usr/bin/python3 - "$@" <<'PYEOF'
import csv, json, sys
src, target, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = []
for r in csv.DictReader(open(src)):
    r.pop(target, None)
    row = {}
    for k, v in r.items():
        try:
            row[k] = float(v) if v != "" else None
        except ValueError:
            row[k] = v
    rows.append(row)
body = {"data": (rows * (n // len(rows) + 1))[:n]}
if len(sys.argv) > 5 and sys.argv[5] == "explain":
    body["explain"] = True
json.dump(body, open(out, "w"))
PYEOF
}

# server_ms HEADERS — the predict route's server time from its
# Server-Timing header: the body's reading in the handler (decode) plus the
# prediction after it, and the decode part, space-separated (ms).
server_ms() {
  printf '%s\n' "$1" | tr -d '\r' | awk '/^Server-Timing:/ {
    d = $0; sub(/.*decode;dur=/, "", d); sub(/[^0-9.].*/, "", d)
    p = $0; sub(/.*predict;dur=/, "", p); sub(/[^0-9.].*/, "", p)
    if ($0 !~ /decode;dur=/) d = 0
    printf "%.3f %.3f\n", d + p, d }'
}

# predict_best MODEL FILE — posts that JSON body 5 times and prints the
# best server time (server_ms), the client total of that request and the
# server's decode part of it (ms), space-separated ("n/a n/a n/a" if none
# answered).
predict_best() {
  local model=$1 file=$2 best="" total="" decode="" out ms
  for _ in 1 2 3 4 5; do
    out=$(curl -s -o /dev/null -D - -w 'TOTAL %{time_total}\n' -X POST \
            -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: application/json' \
            --data-binary @"$file" "$BENCH_URL/api/v1/models/$model/predict")
    read -r ms dec < <(server_ms "$out")
    [ -n "${ms:-}" ] || continue
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$ms; decode=$dec
      total=$(printf '%s\n' "$out" | awk '/^TOTAL/ {printf "%.1f", $2 * 1000}')
    fi
  done
  echo "${best:-n/a} ${total:-n/a} ${decode:-n/a}"
}
