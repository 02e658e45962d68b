#!/usr/bin/env bash
# http_cli.sh — `trainyard upload` of a generated CSV (500 MB by default,
# BENCH_CLI_MB=1024 for the 1 GB case) beside curl -T of the same file in
# the same run: the client's rate as a share of curl's (target >= 90%) and
# its peak RSS (target < 32 MB whatever the file's size: it streams).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

SIZE_MB=${BENCH_CLI_MB:-500}
csv=$BENCH_VAR/cli_upload.csv
awk -v target=$((SIZE_MB * 1024 * 1024)) 'BEGIN {
  srand(2)
  print "id,amount,ratio,city,flag"
  split("Berlin,Lisbon,Oslo,Quito,Lagos,Perth,Osaka,Lima", cities, ",")
  n = 0; bytes = 0
  while (bytes < target) {
    line = sprintf("%d,%.2f,%.6f,%s,%s", n, rand() * 10000, rand(),
                   cities[int(rand() * 8) + 1], (rand() < 0.5 ? "true" : "false"))
    print line
    bytes += length(line) + 1
    n++
  }
}' > "$csv"
size=$(stat -c %s "$csv")

# measure CMD... — "<seconds> <peak RSS kB>" of the command (its exit must be 0).
measure() {
  /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print("%.3f %d" % (time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}

read -r cli_s cli_kb < <(TRAINYARD_CONFIG=/nonexistent TRAINYARD_URL=$BENCH_URL \
  TRAINYARD_KEY=$BENCH_KEY measure "$TRAINYARD_BUILD/trainyard" upload "$csv" --name bench-cli --json)
read -r curl_s curl_kb < <(measure curl -sf -o /dev/null -H "X-API-Key: $BENCH_KEY" \
  -H 'Content-Type: text/csv' -X POST -T "$csv" "$BENCH_URL/api/v1/datasets?name=bench-curl")
rm -f "$csv"

mb=$(awk -v b="$size" 'BEGIN { printf "%.0f", b / 1048576 }')
cli_rate=$(awk -v b="$size" -v s="$cli_s" 'BEGIN { printf "%.1f", b / 1048576 / s }')
curl_rate=$(awk -v b="$size" -v s="$curl_s" 'BEGIN { printf "%.1f", b / 1048576 / s }')
cli_mb=$(awk -v k="$cli_kb" 'BEGIN { printf "%.1f", k / 1024 }')
curl_mb=$(awk -v k="$curl_kb" 'BEGIN { printf "%.1f", k / 1024 }')
share=$(ratio "$cli_rate" "$curl_rate")

echo "trainyard upload of a generated ${mb} MB CSV, curl -T of the same file (load: $(cut -d' ' -f1-3 /proc/loadavg))"
row "trainyard upload rate" "$cli_rate" "MB/s" "curl -T: $curl_rate MB/s ($share%; target >= 90%: $(meets "$share" '>=' 90))"
row "trainyard upload peak RSS" "$cli_mb" "MB" "curl -T: $curl_mb MB (target < 32 MB: $(meets "$cli_mb" '<=' 32))"
