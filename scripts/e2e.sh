#!/usr/bin/env bash
# e2e.sh — the end-to-end suite against a throwaway stack.
#
# Starts a separate stack (its own var dir under /tmp, its own free ports, a
# cluster with fsync off) so that it never touches a developer's `make run`
# stack, runs `python3 -m pytest -q tests/e2e` through nginx against it, and
# tears everything down even when the tests fail. Exits with pytest's code.
#
#   scripts/e2e.sh [pytest args...]      e.g. scripts/e2e.sh -k trainings -x
#   TRAINYARD_E2E_KEEP=1                 keep the var dir (logs) afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3

# `make BUILD=x test` exports BUILD; the stack and the tests use the same binaries.
BUILD_DIR=${TRAINYARD_BUILD:-${BUILD:-build}}
make --no-print-directory -s BUILD="$BUILD_DIR" programs web >/dev/null
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export TRAINYARD_BUILD=$BUILD_DIR

# A port the kernel just handed out and we closed again: another process may
# take it before nginx or PostgreSQL binds it. The start below is retried
# with fresh ports when a bind fails, so that race costs a retry, not a run.
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

E2E_VAR=$(mktemp -d /tmp/trainyard-e2e.XXXXXX)
chmod 755 "$E2E_VAR"
export TRAINYARD_VAR=$E2E_VAR
export TRAINYARD_PG_FAST=1
export TRAINYARD_QUIET=1
export TRAINYARD_WORKERS=${TRAINYARD_E2E_WORKERS:-3}
export TRAINYARD_TRAINERS=1
export TRAINYARD_TRAINER_SLOTS=${TRAINYARD_E2E_SLOTS:-2}
# Short leases so that the kill -9 test sees a requeue within seconds.
export TRAINYARD_TRAINER_LEASE=${TRAINYARD_TRAINER_LEASE:-4}
export TRAINYARD_TRAINER_REAP_INTERVAL=1
export TRAINYARD_TRAINER_POLL_INTERVAL=1
export TRAINYARD_TRAINER_SHUTDOWN_GRACE=5
export TRAINYARD_RATE_LIMIT=100000r/s
# The trainer obeys a spec's test_mode (tests/e2e/test_crash.py) and the API takes
# it: only this throwaway stack is started so.
export TRAINYARD_TEST_MODE=1
unset TRAINYARD_DATABASE_URL

teardown() {
  local rc=$?
  scripts/stack.sh stop >/dev/null 2>&1 || true
  # make test-asan-e2e: a sanitizer report anywhere (the API, a trainer, a
  # job's worker: all log to the stack's logs) fails the run, even one in a
  # process whose failure a test expected.
  if [ "${TRAINYARD_E2E_ASAN:-0}" = 1 ] &&
     grep -lE "ERROR: AddressSanitizer|runtime error:" "$E2E_VAR"/log/*.log >/dev/null 2>&1; then
    echo "e2e: sanitizer reports in the stack's logs:" >&2
    grep -hE -A25 "ERROR: AddressSanitizer|runtime error:" "$E2E_VAR"/log/*.log | head -n 200 >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
  # Extra trainers the tests started and did not stop.
  local f
  for f in "$E2E_VAR"/run/extra-*.pid; do
    [ -e "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$E2E_VAR"/log/api.log "$E2E_VAR"/log/trainer-1.log "$E2E_VAR"/log/nginx-error.log; do
      [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 30 "$f"; }
    done >&2
  fi
  if [ "${TRAINYARD_E2E_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "e2e: stack state kept in $E2E_VAR" >&2
  else
    rm -rf "$E2E_VAR"
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start_tries=0
while :; do
  TRAINYARD_PORT=$(free_port)
  TRAINYARD_PG_PORT=$(free_port)
  export TRAINYARD_PORT TRAINYARD_PG_PORT
  echo "e2e: stack in $E2E_VAR on port $TRAINYARD_PORT (PostgreSQL $TRAINYARD_PG_PORT)" >&2
  scripts/stack.sh start >"$E2E_VAR/start.out" 2>&1 && break
  start_tries=$((start_tries + 1))
  # Only a lost race for a port is retried; anything else is a real failure.
  if [ "$start_tries" -ge 5 ] ||
     ! grep -rqs -e "Address already in use" -e "is taken" "$E2E_VAR/start.out" "$E2E_VAR/log"; then
    cat "$E2E_VAR/start.out" >&2
    exit 1
  fi
  echo "e2e: a port was taken before the stack bound it; retrying with new ports" >&2
  scripts/stack.sh stop >/dev/null 2>&1 || true
  find "$E2E_VAR" -mindepth 1 -delete
done

set +e
paths=(tests/e2e)
for a in "$@"; do case "$a" in tests/*) paths=() ;; esac; done
"$PY" -m pytest -q -p no:cacheprovider "${paths[@]}" "$@"
rc=$?
set -e
exit "$rc"
