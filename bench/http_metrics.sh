#!/usr/bin/env bash
# http_metrics.sh — what the pool-wide /metrics costs (issue 13, part 6):
# the scrape rate beside GET /healthz and nginx's static file in the same run,
# the scrape's size, and the request rate of /healthz while /metrics is
# scraped 10 times a second (the shared counters are atomic adds on every
# request: the rate should not move). No target: the figures are for
# watching, not gating.
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

# Some traffic on a few routes, so the histograms have series.
for _ in 1 2 3; do
  api_json GET /api/v1/datasets >/dev/null
  api_json GET /no/such/route >/dev/null
done
wrk -t1 -c32 -d2s "$BENCH_URL/healthz" >/dev/null 2>&1 # warm-up
bytes=$(curl -s "$BENCH_URL/metrics" | wc -c)
series=$(curl -s "$BENCH_URL/metrics" | grep -vc '^#')
static=$(wrk_rate 32 "$BENCH_URL/index.html")
metrics=$(wrk_rate 8 "$BENCH_URL/metrics")
healthz=$(wrk_rate 32 "$BENCH_URL/healthz")
# /healthz again while a scraper polls /metrics ten times a second.
( end=$((SECONDS + BENCH_SECONDS + 2))
  while [ $SECONDS -lt $end ]; do curl -s -o /dev/null "$BENCH_URL/metrics"; sleep 0.1; done ) &
scraper=$!
healthz_scraped=$(wrk_rate 32 "$BENCH_URL/healthz")
kill "$scraper" 2>/dev/null || true
wait "$scraper" 2>/dev/null || true

echo "/metrics (wrk -t1, ${BENCH_SECONDS}s each; load: $(cut -d' ' -f1-3 /proc/loadavg))"
row "nginx static file" "$static" "req/s" "reference"
row "GET /healthz" "$healthz" "req/s" "$(ratio "$healthz" "$static")% of static"
row "GET /metrics (8 connections)" "$metrics" "req/s" "$(ratio "$metrics" "$healthz")% of /healthz"
row "GET /healthz, /metrics scraped at 10/s" "$healthz_scraped" "req/s" \
    "$(ratio "$healthz_scraped" "$healthz")% of /healthz alone"
row "one scrape" "$bytes" "bytes" "$series samples"
figure metrics "$metrics"
