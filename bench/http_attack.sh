#!/usr/bin/env bash
# http_attack.sh — the API under attack (issue: the FastCGI runtime).
#
#   1. 50 concurrent unauthenticated 32 MB bodies to POST /v1/models (the
#      route whose key may travel in the body): largest API worker RSS while
#      they run (target < 64 MB), answers (all 401), and /healthz answering
#      throughout.
#   2. 20 uploads in flight that trickle a line a second: p99 latency of
#      another client's GET /api/v1/datasets meanwhile (target < 50 ms).
#   3. One authenticated request at the predict route's size limit (32 MB of
#      rows, decoded): the worker's RSS 5 s later against its RSS before
#      (target: back within 2 MB).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"
PY=/usr/bin/python3

all_rss_max() {
  local m=0 kb pid
  for pid in $(api_workers); do
    kb=$(rss_kb "$pid")
    [ "$kb" -gt "$m" ] && m=$kb
  done
  echo "$m"
}

# --- 1. unauthenticated 32 MB bodies ---------------------------------------------
body=$BENCH_VAR/attack_body.json
"$PY" - "$body" <<'PY'
import json, sys
# Long strings: within the route's field cap, so every byte is scanned for
# a key (the worst case for the scan), none found.
json.dump({"id": "x", "data": ["y" * 1000] * (31 * 1024)}, open(sys.argv[1], "w"))
PY
base_kb=$(all_rss_max)
peak_file=$BENCH_VAR/attack_peak
echo 0 > "$peak_file"
( peak=0
  while [ ! -e "$BENCH_VAR/attack_done" ]; do
    kb=$(all_rss_max); [ "$kb" -gt "$peak" ] && peak=$kb && echo "$peak" > "$peak_file"
    sleep 0.05
  done ) &
sampler=$!
( bad=0; n=0
  while [ ! -e "$BENCH_VAR/attack_done" ]; do
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$BENCH_URL/healthz" || echo 000)
    n=$((n + 1)); case "$code" in 200|503) ;; *) bad=$((bad + 1)) ;; esac
    sleep 0.1
  done
  echo "$n $bad" > "$BENCH_VAR/attack_health" ) &
prober=$!
rm -f "$BENCH_VAR/attack_done"
start=$(date +%s.%N)
for i in $(seq 50); do
  curl -s -o /dev/null -w '%{http_code}\n' -m 300 -H 'Content-Type: application/json' \
       --data-binary @"$body" "$BENCH_URL/v1/models" >> "$BENCH_VAR/attack_codes" &
done
wait $(jobs -p | grep -v -e "^$sampler\$" -e "^$prober\$") 2>/dev/null || true
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
touch "$BENCH_VAR/attack_done"
wait "$sampler" "$prober" || true
peak_mb=$(awk -v k="$(cat "$peak_file")" 'BEGIN { printf "%.1f", k / 1024 }')
base_mb=$(awk -v k="$base_kb" 'BEGIN { printf "%.1f", k / 1024 }')
codes=$(sort "$BENCH_VAR/attack_codes" | uniq -c | awk '{printf "%s%s x %s", sep, $1, $2; sep=", "}')
read -r probes probes_bad < "$BENCH_VAR/attack_health"
rm -f "$body"

echo "Attack: 50 concurrent unauthenticated 32 MB bodies to POST /v1/models (${secs}s)"
row "largest API worker RSS meanwhile" "$peak_mb" "MB" \
    "target < 64 MB: $(meets "$peak_mb" '<=' 64) (before: $base_mb MB)"
row "answers" "$codes" "" "expected: all 401"
row "/healthz probes answered meanwhile" "$((probes - probes_bad))/$probes" "" "the stack answers throughout"

# --- 2. trickling uploads ---------------------------------------------------------
"$PY" - "$BENCH_URL" "$BENCH_KEY" 20 25 > "$BENCH_VAR/slow.log" 2>&1 <<'PY' &
import socket, sys, time
from urllib.parse import urlparse
url, key, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
u = urlparse(url)
socks = []
for _ in range(n):
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("POST /api/v1/datasets?name=slow HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
               "Content-Type: text/csv\r\nContent-Length: 100000000\r\n\r\na,b\n" % key).encode())
    socks.append(s)
print("slow uploads in flight:", len(socks), flush=True)
end = time.time() + seconds
while time.time() < end:
    for s in socks:
        s.sendall(b"1,2\n")
    time.sleep(1)
for s in socks:
    s.close()
PY
slow=$!
sleep 3
lat=$(wrk -t1 -c4 -d"${BENCH_SECONDS}s" --latency -H "X-API-Key: $BENCH_KEY" \
        "$BENCH_URL/api/v1/datasets" 2>&1)
printf '%s\n' "$lat" >> "$BENCH_VAR/log/wrk.log"
kill "$slow" 2>/dev/null || true
wait "$slow" 2>/dev/null || true
p99=$(printf '%s\n' "$lat" | awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
  if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v }')
rate=$(printf '%s\n' "$lat" | awk '/^Requests\/sec:/ {print $2}')
echo "Attack: 20 uploads in flight, trickling a line a second"
row "GET /api/v1/datasets p99 meanwhile (wrk -c4)" "$p99" "ms" \
    "target < 50 ms: $(meets "$p99" '<=' 50) ($rate req/s)"

# --- 3. memory back after a request at the size limit --------------------------
big=$BENCH_VAR/big_predict.json
"$PY" - "$big" <<'PY'
import json, sys
rows, row = [], {"tenure": 12, "contract": "Month-to-month", "monthly_charges": 70.5,
                 "internet": "Fiber optic", "paperless": "Yes", "senior": 0}
text = json.dumps({"data": [row] * 1})
per = len(json.dumps(row)) + 2
n = (31 * 1024 * 1024) // per
json.dump({"data": [row] * n}, open(sys.argv[1], "w"))
PY
before=""
declare -A b4
for pid in $(api_workers); do b4[$pid]=$(rss_kb "$pid"); done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: application/json' \
       --data-binary @"$big" "$BENCH_URL/api/v1/models/00000000-0000-0000-0000-000000000000/predict")
sleep 5
worst=0; detail=""
for pid in $(api_workers); do
  [ -n "${b4[$pid]:-}" ] || { detail="$detail $pid:recycled"; continue; }
  d=$(( $(rss_kb "$pid") - b4[$pid] ))
  detail="$detail $pid:${d}kB"
  [ "$d" -gt "$worst" ] && worst=$d
done
rm -f "$big"
worst_mb=$(awk -v k="$worst" 'BEGIN { printf "%.2f", k / 1024 }')
echo "Memory after a 31 MB predict body (HTTP $code: decoded, then no such model)"
row "largest worker RSS growth 5 s later" "$worst_mb" "MB" \
    "target <= 2 MB: $(meets "$worst_mb" '<=' 2) (workers:$detail)"
