#!/usr/bin/env bash
# peer.sh — the Python peer (../shared/peers/fastapi_celery: FastAPI +
# uvicorn + asyncpg, Celery + Redis) measured in the same `make bench` run,
# and trainyard's figures from this run's HTTP benchmarks put beside it.
#
# Runs after the trainyard stack has stopped (the two never share the CPU):
# the peer's own script starts its PostgreSQL, Redis, nginx and uvicorn
# under a scratch directory, measures static file, /healthz, status and
# train/new, and stops them. Comparisons are ratios within this run:
#   trainyard /healthz through nginx   vs  nginx's static rate (target >= 0.35)
#   trainyard status                   vs  the peer's status   (target >= 2x)
#   trainyard train/new                vs  the peer's train/new (no worker)
# Reads trainyard's figures from $BENCH_FIGURES (written by http_reads.sh
# and http_writes.sh).
set -uo pipefail
. "$(dirname "$0")/http_lib.sh"

PEER_DIR=${PEER_DIR:-$BENCH_ROOT/../shared/peers/fastapi_celery}
[ -x "$PEER_DIR/run.sh" ] || [ -f "$PEER_DIR/run.sh" ] || { echo "peer: $PEER_DIR/run.sh not found" >&2; exit 1; }
base=$(mktemp -d /tmp/trainyard-peer.XXXXXX)
chmod 755 "$base"
trap 'cp "$base/results.tsv" "${BENCH_PEER_RESULTS:-/dev/null}" 2>/dev/null; rm -rf "$base"' EXIT
# One repetition of the API figures, no queue figures (the queue benchmark
# compares those); no waiting for a quiet machine beyond the script's own.
PEER_BASE=$base REPS=1 API_CONFIGS=w2 QUEUE_CONFIGS="" GATE_WAIT=5 ATTEMPTS=1 \
  bash "$PEER_DIR/run.sh" > "$base/peer.log" 2>&1 || {
    echo "peer: the peer's run failed (tail of its log:)" >&2; tail -n 20 "$base/peer.log" >&2; exit 1; }

peer() { # peer MEASURE CONFIG-PREFIX -> the value
  awk -F'\t' -v m="$1" -v c="$2" '$1 == m && index($2, c) == 1 { print $4; exit }' "$base/results.tsv"
}
fig() { awk -v k="$1" '$1 == k { print $2; exit }' "$BENCH_FIGURES" 2>/dev/null; }

p_static=$(peer static_json nginx-w1)
p_health=$(peer healthz uvicorn-w2)
p_status=$(peer status uvicorn-w2)
p_post=$(peer post "uvicorn-w2,no-worker")
p_post_celery=$(peer post "uvicorn-w2+celery")
t_static=$(fig static)
t_health=$(fig healthz)
t_status=$(fig status)
t_post=$(fig train_new)
t_pgbench=$(fig pgbench)

echo "Side by side with the FastAPI + Celery peer (same run, same machine)"
row "peer: nginx static file (1 worker)" "$p_static" "req/s" "the peer's own ceiling"
row "peer: uvicorn /healthz (2 workers, direct)" "$p_health" "req/s" \
    "$(ratio "$p_health" "$p_static")% of its static"
row "trainyard: /healthz through nginx" "$t_health" "req/s" \
    "$(ratio "$t_health" "$t_static")% of our static (target >= 35%: $(meets "$(ratio "$t_health" "$t_static")" '>=' 35))"
row "peer: GET status" "$p_status" "req/s" ""
r=$(awk -v a="$t_status" -v b="$p_status" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
row "trainyard: GET status" "$t_status" "req/s" "${r}x the peer (target >= 2x: $(meets "$r" '>=' 2))"
row "peer: POST train/new (no worker / with Celery)" "$p_post / $p_post_celery" "req/s" ""
r=$(awk -v a="$t_post" -v b="$p_post" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
row "trainyard: POST train/new" "$t_post" "req/s" \
    "${r}x the peer; $(ratio "$t_post" "$t_pgbench")% of pgbench (target >= 80%)"
