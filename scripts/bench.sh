#!/usr/bin/env bash
# bench.sh — `make bench`: every benchmark, printed side by side with its
# reference. Never fails on speed (only on a benchmark that could not run).
#
# The HTTP benchmarks run against a fresh stack of their own (its own var dir
# and free ports, fsync on as in production, its trainer stopped once it has
# checked in so that queued jobs stay queued and nothing competes for the
# CPU, nginx access log off), never
# against a developer's `make run` stack. Then the ML helper's
# bench/ml_quality.sh and bench/ml_ingest.sh and the queue benchmark
# ($BUILD/bench/queue_bench) run, if present.
#
#   scripts/bench.sh [http|peer|ml|queue|kaos|extmem]...   (default: all but extmem)
#   BENCH_SECONDS=10                       wrk / pgbench duration per figure
#   BENCH_HTTP="http_reads http_predict"   only these HTTP benchmarks
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
BUILD_DIR=${TRAINYARD_BUILD:-${BUILD:-build}}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export TRAINYARD_BUILD=$BUILD_DIR BENCH_ROOT=$ROOT
export BENCH_SECONDS=${BENCH_SECONDS:-10}
export TRAINYARD_DATASETS=${TRAINYARD_DATASETS:-$(cd "$ROOT/.." && pwd)/shared/datasets}
PY=/usr/bin/python3

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(http peer ml queue kaos)
want() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

make --no-print-directory -s BUILD="$BUILD_DIR" programs >/dev/null || exit 1
make --no-print-directory -s BUILD="$BUILD_DIR" bench-programs >/dev/null 2>&1 || true

failures=0
section() { printf '\n== %s ==\n' "$1"; }
# Figures of this run that bench/peer.sh compares with the peer's.
export BENCH_FIGURES=$BUILD_DIR/bench-figures.txt
want http && : > "$BENCH_FIGURES"

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

run_http() {
  BENCH_VAR=$(mktemp -d /tmp/trainyard-bench.XXXXXX)
  chmod 755 "$BENCH_VAR"
  export BENCH_VAR
  TRAINYARD_PORT=$(free_port)
  TRAINYARD_PG_PORT=$(free_port)
  export TRAINYARD_VAR=$BENCH_VAR TRAINYARD_PORT TRAINYARD_PG_PORT
  # One trainer checks in (so /healthz is the healthy path, kept healthy by a
  # long staleness window) and is then stopped: queued jobs stay queued.
  export TRAINYARD_TRAINERS=1 TRAINYARD_TRAINER_STALE_SECONDS=1000000
  export TRAINYARD_QUIET=1 TRAINYARD_RATE_LIMIT=10000000r/s
  export TRAINYARD_NGINX_ACCESS_LOG=off
  unset TRAINYARD_PG_FAST TRAINYARD_DATABASE_URL
  # shellcheck disable=SC2317
  stop_bench() { scripts/stack.sh stop >/dev/null 2>&1; rm -rf "$BENCH_VAR"; }
  trap stop_bench EXIT
  if ! scripts/stack.sh start >/dev/null; then
    echo "bench: the bench stack did not start" >&2
    failures=$((failures + 1))
    return
  fi
  local tpid
  tpid=$(cat "$BENCH_VAR/run/trainer-1.pid" 2>/dev/null) && kill -TERM "$tpid" 2>/dev/null
  sleep 1
  # shellcheck disable=SC1091
  . "$BENCH_VAR/env"
  # The benchmarks' own scratch tables (pgbench's reference) need the owner.
  export BENCH_URL=$TRAINYARD_BASE_URL BENCH_DB_URL=$TRAINYARD_OWNER_DATABASE_URL
  BENCH_KEY=$(cat "$BENCH_VAR/dev-api-key")
  export BENCH_KEY
  local s
  # BENCH_HTTP="http_predict" (names without .sh) runs only those.
  local wanted=${BENCH_HTTP:-http_reads http_writes http_rss http_attack http_upload http_cli http_predict http_explain http_budget http_console http_metrics http_events}
  for s in $wanted; do
    s=bench/$s.sh
    [ -x "$s" ] || continue
    section "$(basename "$s")"
    "$s" || { echo "bench: $s failed" >&2; failures=$((failures + 1)); }
  done
  stop_bench
  trap - EXIT
}

if want http; then run_http; fi

if want peer; then
  section "peer.sh"
  scripts/deps.sh bench || true
  peer_var=$(mktemp -d /tmp/trainyard-peerfig.XXXXXX)
  BENCH_VAR=$peer_var bench/peer.sh \
    || { echo "bench: bench/peer.sh failed" >&2; failures=$((failures + 1)); }
  rm -rf "$peer_var"
fi

if want ml; then
  for s in bench/ml_quality.sh bench/ml_ingest.sh bench/ml_scale.sh; do
    [ -x "$s" ] || [ -f "$s" ] || continue
    section "$(basename "$s")"
    sh "$s" 10 "$BUILD_DIR" || { echo "bench: $s failed" >&2; failures=$((failures + 1)); }
  done
fi

if want queue && [ -x "$BUILD_DIR/bench/queue_bench" ]; then
  section "queue_bench"
  # The queue benchmark gets a stack of its own too (PostgreSQL only matters).
  QVAR=$(mktemp -d /tmp/trainyard-qbench.XXXXXX)
  chmod 755 "$QVAR"
  (
    TRAINYARD_PORT=$(free_port)
    TRAINYARD_PG_PORT=$(free_port)
    export TRAINYARD_VAR=$QVAR TRAINYARD_PORT TRAINYARD_PG_PORT
    export TRAINYARD_TRAINERS=0 TRAINYARD_QUIET=1
    unset TRAINYARD_PG_FAST
    trap 'scripts/stack.sh stop >/dev/null 2>&1; rm -rf "$QVAR"' EXIT
    scripts/stack.sh start >/dev/null || exit 1
    # shellcheck disable=SC1091
    . "$QVAR/env"
    TRAINYARD_DATABASE_URL=$TRAINYARD_DATABASE_URL "$BUILD_DIR/bench/queue_bench"
  ) || { echo "bench: queue_bench failed" >&2; failures=$((failures + 1)); }
fi

if want kaos && [ -x "$BUILD_DIR/bench/kaos_sandbox" ]; then
  section "kaos_sandbox.sh"
  bench/kaos_sandbox.sh "$BUILD_DIR" || { echo "bench: bench/kaos_sandbox.sh failed" >&2; failures=$((failures + 1)); }
fi

# Opt-in (not in the default run: gigabytes of disk and up to an hour):
# scripts/bench.sh extmem, with EXTMEM_GB / EXTMEM_DURATION (bench/ml_extmem.sh).
if want extmem; then
  section "ml_extmem.sh"
  sh bench/ml_extmem.sh "$BUILD_DIR" || { echo "bench: bench/ml_extmem.sh failed" >&2; failures=$((failures + 1)); }
fi

[ "$failures" -eq 0 ] || { echo "bench: $failures benchmark(s) could not run" >&2; exit 1; }
exit 0
