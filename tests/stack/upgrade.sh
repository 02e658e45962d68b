#!/usr/bin/env bash
# upgrade.sh — `make start` on a var/ made by the version before least
# privilege (a trust cluster, one passwordless owner role, a 0755 socket
# directory) converts it and keeps its data; then stop/start cycles work.
#
#   BUILD=build tests/stack/upgrade.sh      (tests/e2e/test_stack.py runs it)
#
# Uses its own var dir under /tmp and free ports; leaves nothing running.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${TRAINYARD_BUILD:-${BUILD:-build}}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
PG_BIN=/usr/lib/postgresql/15/bin
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

VAR=$(mktemp -d /tmp/ty-upgrade.XXXXXX)
chmod 755 "$VAR"
export TRAINYARD_VAR=$VAR TRAINYARD_BUILD=$BUILD TRAINYARD_PG_FAST=1 TRAINYARD_QUIET=1
export TRAINYARD_PORT=$(free_port) TRAINYARD_PG_PORT=$(free_port) TRAINYARD_WORKERS=1 TRAINYARD_TRAINERS=1
unset TRAINYARD_DATABASE_URL TRAINYARD_OWNER_DATABASE_URL
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
cleanup() {
  scripts/stack.sh stop >/dev/null 2>&1 || true
  as_pg "$PG_BIN/pg_ctl" -D "$VAR/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$VAR"
}
trap cleanup EXIT
fail() { echo "upgrade.sh: FAIL: $*" >&2; exit 1; }

# --- the old layout, as the previous scripts/stack.sh made it -------------------
mkdir -p "$VAR/pg" "$VAR/run/pg" "$VAR/log"
chmod 700 "$VAR/pg"; chmod 755 "$VAR/run/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$VAR/pg" "$VAR/run/pg" "$VAR/log"
as_pg "$PG_BIN/initdb" -D "$VAR/pg" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$VAR/pg" -l "$VAR/log/postgres.log" -w \
  -o "-p $TRAINYARD_PG_PORT -k $VAR/run/pg -c listen_addresses=127.0.0.1" start >/dev/null
psql -X -q -h "$VAR/run/pg" -p "$TRAINYARD_PG_PORT" -U postgres -d postgres \
  -c "CREATE ROLE trainyard LOGIN" -c "CREATE DATABASE trainyard OWNER trainyard"
OLD_URL="postgresql://trainyard@$(printf '%s' "$VAR/run/pg" | sed 's|/|%2F|g'):$TRAINYARD_PG_PORT/trainyard"
OLDSQL=$VAR/oldsql; mkdir -p "$OLDSQL"; cp sql/0001_* sql/0002_* sql/0003_* "$OLDSQL/"
TRAINYARD_SQL_DIR=$OLDSQL TRAINYARD_DATABASE_URL=$OLD_URL "$BUILD/trainyard" migrate 2>/dev/null
# The old CLI's key, made with the old schema's SQL (today's CLI writes
# columns the old schema lacks): ty_<12 hex>_<64 hex>, stored as SHA-256.
PREFIX=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEY="ty_${PREFIX}_${SECRET}"
HASH=$(printf '%s' "$KEY" | sha256sum | cut -c1-64)
psql -X -q -v ON_ERROR_STOP=1 "$OLD_URL" -c "INSERT INTO workspaces (name) VALUES ('dev')" \
  -c "INSERT INTO api_keys (workspace_id, prefix, hash) SELECT id, '$PREFIX', decode('$HASH', 'hex') FROM workspaces WHERE name = 'dev'"
(umask 077; echo "$KEY" > "$VAR/dev-api-key")
printf 'TRAINYARD_DATABASE_URL=%s\n' "$OLD_URL" > "$VAR/env"
as_pg "$PG_BIN/pg_ctl" -D "$VAR/pg" -m fast -w stop >/dev/null

# --- the upgrade ----------------------------------------------------------------
# The old version's nginx error log quoted keys as they came.
old_line='request: "POST /v1/datasets?api_key=ty_old_secretkey HTTP/1.1", referrer: "http://h/kaos/ty_old_secretpath/train"'
echo "$old_line" > "$VAR/log/nginx-error.log.1"

out=$(scripts/stack.sh start 2>&1) || { echo "$out" >&2; fail "start on the old var/ failed"; }
grep -rq "ty_old_secret" "$VAR/log" && fail "an old log still holds a key"
grep -q 'api_key=REDACTED HTTP/1.1", referrer: "http://h/kaos/REDACTED/train"' \
  "$VAR/log/nginx-error.log.1" || fail "the old error log lost its line: $(cat "$VAR/log/nginx-error.log.1")"
echo "$out" | grep -q "converting .* to password" || fail "no word about the conversion: $out"
grep -Eq '^[^#]*trust' "$VAR/pg/pg_hba.conf" && fail "pg_hba.conf still trusts"
[ "$(stat -c %a "$VAR/run/pg")" = 700 ] || fail "socket dir is $(stat -c %a "$VAR/run/pg")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY" "http://127.0.0.1:$TRAINYARD_PORT/api/v1/datasets")
[ "$code" = 200 ] || fail "the old key gets $code"
PGPASSFILE=/nonexistent psql -X -w -Atc "SELECT 1" "$OLD_URL" >/dev/null 2>&1 && fail "the old passwordless URL still logs in"
. "$VAR/env"
[ "$(psql -X -Atc "SELECT current_user" "$TRAINYARD_DATABASE_URL")" = trainyard_app ] || fail "app role"

# --- stop and start again, back to back ----------------------------------------
for i in 1 2 3; do
  scripts/stack.sh stop >/dev/null 2>&1 || fail "stop $i"
  scripts/stack.sh start >/dev/null 2>"$VAR/start.err" || { cat "$VAR/start.err" >&2; fail "start $i after stop"; }
done
echo "upgrade.sh: old var/ converted, data kept, stop/start x3"
