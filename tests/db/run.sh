#!/usr/bin/env bash
# run.sh — the database-level tests: tests/db/test_queue.c (db/ against a real
# PostgreSQL) and, when a trainer binary is there, tests/db/trainer.sh.
#
#   tests/db/run.sh                 # throwaway PostgreSQL 15 under /tmp
#   TRAINYARD_DATABASE_URL=... tests/db/run.sh   # a scratch database you own
#
# BUILD (default build) names the build dir whose libtrainyard.a is linked;
# TRAINER (default $BUILD/trainyard-trainer) the trainer to exercise, with
# TRAINER_N jobs in its race (default 20; use 200 with the ml_train stub).
# PostgreSQL refuses to run as root, so as root the server runs as `postgres`.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
TMP=$(mktemp -d /tmp/ty-dbtest.XXXXXX)
chmod 755 "$TMP"
STARTED=0

cleanup() {
    if [ $STARTED = 1 ]; then
        as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

if [ -z "${TRAINYARD_DATABASE_URL:-}" ]; then
    [ "$(id -u)" = 0 ] && chown postgres "$TMP"
    as_pg "$PGBIN/initdb" -D "$TMP/data" -A trust -U postgres >"$TMP/initdb.log" 2>&1
    as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/pg.log" -w -o \
        "-c listen_addresses= -c unix_socket_directories=$TMP -c fsync=off" start >/dev/null
    STARTED=1
    "$PGBIN/createdb" -h "$TMP" -U postgres trainyard_test
    export TRAINYARD_DATABASE_URL="postgresql:///trainyard_test?host=$TMP&user=postgres"
fi

make --no-print-directory BUILD="$BUILD" "$BUILD/libtrainyard.a" >/dev/null
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
        -Wmissing-prototypes -Wformat=2 -Wvla -I. $(pkg-config --cflags json-c libpq)"
# shellcheck disable=SC2086
cc $CFLAGS ${SAN:-} -o "$BUILD/test_queue" tests/db/test_queue.c "$BUILD/libtrainyard.a" \
    $(pkg-config --libs json-c libpq libcrypto) -lm
"$BUILD/test_queue" 2>"$TMP/test_queue.log" || { cat "$TMP/test_queue.log"; exit 1; }

TRAINER=${TRAINER:-$BUILD/trainyard-trainer}
if [ -x "$TRAINER" ]; then
    TRAINER=$TRAINER N=${TRAINER_N:-20} STUB=${STUB:-0} tests/db/trainer.sh
else
    echo "run.sh: no trainer at $TRAINER; trainer checks skipped"
fi
