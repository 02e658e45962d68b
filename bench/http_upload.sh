#!/usr/bin/env bash
# http_upload.sh — a generated 500 MB CSV streamed in through nginx into
# PostgreSQL: MB/s (target >= 100) and the API workers' RSS growth while it
# runs (target < 16 MB: the worker holds a chunk, never the file).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

SIZE_MB=${BENCH_UPLOAD_MB:-500}
csv=$BENCH_VAR/upload.csv
awk -v target=$((SIZE_MB * 1024 * 1024)) 'BEGIN {
  srand(1)
  print "id,amount,ratio,city,flag,note"
  split("Berlin,Lisbon,Oslo,Quito,Lagos,Perth,Osaka,Lima", cities, ",")
  n = 0; bytes = 0
  while (bytes < target) {
    line = sprintf("%d,%.2f,%.6f,%s,%s,row %d of the upload benchmark",
                   n, rand() * 10000, rand(), cities[int(rand() * 8) + 1],
                   (rand() < 0.5 ? "true" : "false"), n)
    print line
    bytes += length(line) + 1
    n++
  }
}' > "$csv"
size=$(stat -c %s "$csv")

declare -A base
for pid in $(api_workers); do base[$pid]=$(rss_kb "$pid"); done
peak_file=$BENCH_VAR/upload_peak
echo 0 > "$peak_file"
(
  peak=0
  while [ ! -e "$BENCH_VAR/upload_done" ]; do
    for pid in "${!base[@]}"; do
      kb=$(rss_kb "$pid")
      [ "$kb" -gt 0 ] || continue
      g=$((kb - base[$pid]))
      [ "$g" -gt "$peak" ] && peak=$g && echo "$peak" > "$peak_file"
    done
    sleep 0.1
  done
) &
sampler=$!
rm -f "$BENCH_VAR/upload_done"
# -T streams the file as it sends (--data-binary @file would first read all
# 500 MB into curl's memory, and time that too).
t=$(curl -s -o "$BENCH_VAR/upload_answer.json" -w '%{http_code} %{time_total}' \
      -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: text/csv' \
      -X POST -T "$csv" "$BENCH_URL/api/v1/datasets?name=bench-upload")
touch "$BENCH_VAR/upload_done"
wait "$sampler" || true
code=${t%% *}
secs=${t#* }
mbps=$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.1f", b / 1048576 / s }')
growth=$(awk -v k="$(cat "$peak_file")" 'BEGIN { printf "%.1f", k / 1024 }')
rm -f "$csv"

echo "Upload of a generated $((size / 1048576)) MB CSV (HTTP $code in ${secs}s)"
row "upload rate" "$mbps" "MB/s" "target >= 100 MB/s: $(meets "$mbps" '>=' 100)"
row "largest API worker RSS growth meanwhile" "$growth" "MB" "target < 16 MB: $(meets "$growth" '<=' 16)"
