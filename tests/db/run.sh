#!/usr/bin/env bash
# run.sh — the database-level tests: tests/db/test_queue.c (db/ against a real
# PostgreSQL) and, when a trainer binary is there, tests/db/trainer.sh and a
# PostgreSQL outage under a running job (on the server this script starts).
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

# The throwaway cluster is set up like the local stack's (scripts/stack.sh):
# no trust, the socket in a private directory, the superuser by peer only,
# and two password roles: trainyard owns the database and migrates,
# trainyard_app (everything else here) has only sql/0010's grants.
if [ -z "${TRAINYARD_DATABASE_URL:-}" ]; then
    OSUSER=$(id -un)
    [ "$(id -u)" = 0 ] && OSUSER=postgres
    mkdir -p "$TMP/sock"
    chmod 700 "$TMP/sock"
    [ "$(id -u)" = 0 ] && chown postgres "$TMP" "$TMP/sock"
    as_pg "$PGBIN/initdb" -D "$TMP/data" -U postgres --auth-local=peer \
        --auth-host=scram-sha-256 >"$TMP/initdb.log" 2>&1
    as_pg sh -c "printf 'local all postgres peer map=owner\nlocal all all scram-sha-256\n' \
        > '$TMP/data/pg_hba.conf' && printf 'owner $OSUSER postgres\n' > '$TMP/data/pg_ident.conf'"
    as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/pg.log" -w -o \
        "-c listen_addresses= -c unix_socket_directories=$TMP/sock -c fsync=off" start >/dev/null
    STARTED=1
    OWNER_PW=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 24)
    APP_PW=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 24)
    (umask 077 && printf '*:*:*:trainyard:%s\n*:*:*:trainyard_app:%s\n' "$OWNER_PW" "$APP_PW" \
        > "$TMP/pgpass")
    as_pg "$PGBIN/psql" -X -q -h "$TMP/sock" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE trainyard LOGIN PASSWORD '$OWNER_PW'" \
        -c "CREATE ROLE trainyard_app LOGIN NOINHERIT PASSWORD '$APP_PW'" \
        -c "CREATE DATABASE trainyard_test OWNER trainyard" >/dev/null
    export TRAINYARD_DATABASE_URL="postgresql:///trainyard_test?host=$TMP/sock&user=trainyard_app&passfile=$TMP/pgpass"
    export TRAINYARD_OWNER_DATABASE_URL="postgresql:///trainyard_test?host=$TMP/sock&user=trainyard&passfile=$TMP/pgpass"
fi

make --no-print-directory BUILD="$BUILD" "$BUILD/libtrainyard.a" >/dev/null
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
        -Wmissing-prototypes -Wformat=2 -Wvla -I. $(pkg-config --cflags json-c libpq)"
# shellcheck disable=SC2086
cc $CFLAGS ${SAN:-} -o "$BUILD/test_queue" tests/db/test_queue.c "$BUILD/libtrainyard.a" \
    $(pkg-config --libs json-c libpq libcrypto) -lm
"$BUILD/test_queue" 2>"$TMP/test_queue.log" || { cat "$TMP/test_queue.log"; exit 1; }

CLI=$BUILD/trainyard tests/db/gc.sh
tests/db/accounts.sh || exit 1

TRAINER=${TRAINER:-$BUILD/trainyard-trainer}
if [ -x "$TRAINER" ]; then
    TRAINER=$TRAINER N=${TRAINER_N:-20} tests/db/trainer.sh
    TRAINER=$TRAINER tests/db/child.sh
else
    echo "run.sh: no trainer at $TRAINER; trainer checks skipped"
fi

# PostgreSQL away for a while (only on the server this script started): a
# running job must neither fail nor be lost. The trainer keeps its child
# training, the child waits to store its models, the trainer renews the
# lease when the server is back, and the job succeeds on its first attempt.
if [ -x "$TRAINER" ] && [ $STARTED = 1 ]; then
    q() { psql "$TRAINYARD_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
    WS=$(q "INSERT INTO workspaces (name) VALUES ('outage-$$') RETURNING id")
    CSV="convert_to('x,z,y' || E'\\n' || (SELECT string_agg(i || ',' || (i * 7 % 13) || ',' || (CASE WHEN i % 10 < 5 THEN 'a' ELSE 'b' END), E'\\n') FROM generate_series(1, 200) i) || E'\\n', 'UTF8')"
    ART=$(q "INSERT INTO artifacts (workspace_id, kind, size) VALUES ($WS, 'dataset', octet_length($CSV)) RETURNING id")
    q "INSERT INTO artifact_chunks VALUES ('$ART', 0, $CSV)" >/dev/null
    DS=$(q "INSERT INTO datasets (workspace_id, name, rows, artifact_id, size) SELECT $WS, 'o.csv', 200, id, size FROM artifacts WHERE id = '$ART' RETURNING id")
    "$TRAINER" --trainer-id=outage --lease=3 --heartbeat=0.5 --reap-interval=0.5 2>"$TMP/outage.log" &
    TPID=$!
    J=$(q "INSERT INTO jobs (workspace_id, dialect, spec, dataset_id) VALUES ($WS, 'akkio', '{\"predict_fields\":[\"y\"],\"duration\":6}', '$DS') RETURNING id")
    q "SELECT pg_notify('trainyard_jobs', '$J')" >/dev/null
    for _ in $(seq 50); do [ "$(q "SELECT state FROM jobs WHERE id = '$J'")" = running ] && break; sleep 0.2; done
    as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null
    sleep 8 # past the lease and past the job's budget: it waits to store
    as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/pg.log" -w -o \
        "-c listen_addresses= -c unix_socket_directories=$TMP/sock -c fsync=off" start >/dev/null
    st=""
    for _ in $(seq 150); do
        st=$(q "SELECT state || ' ' || attempts FROM jobs WHERE id = '$J'" 2>/dev/null)
        case "$st" in succeeded*|failed*|killed*|timed_out*) break ;; esac
        sleep 0.2
    done
    kill -TERM $TPID; wait $TPID
    if [ "$st" != "succeeded 1" ]; then
        echo "FAIL: PostgreSQL outage: job ended '$st' (want 'succeeded 1')"
        tail -n 20 "$TMP/outage.log"
        exit 1
    fi
    echo "outage: a running job survived 8 s without PostgreSQL (succeeded, attempt 1)"
fi

# The compose stack's migrate one-shot: as a role that may create roles, with
# TRAINYARD_APP_DB_PASSWORD, `trainyard migrate` gives the application role
# that password (sent as a SCRAM verifier, never as text).
if [ "$STARTED" = 1 ]; then
    CLI_BIN=$BUILD/trainyard
    case "$CLI_BIN" in /*) ;; *) CLI_BIN=$(pwd)/$CLI_BIN ;; esac
    NEW_PW=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 24)
    as_pg env -u TRAINYARD_OWNER_DATABASE_URL \
        TRAINYARD_DATABASE_URL="postgresql:///trainyard_test?host=$TMP/sock&user=postgres" \
        TRAINYARD_APP_DB_PASSWORD="$NEW_PW" "$CLI_BIN" migrate 2>"$TMP/role.log" \
        || { cat "$TMP/role.log"; echo "run.sh: migrate with TRAINYARD_APP_DB_PASSWORD failed"; exit 1; }
    [ "$(PGPASSWORD=$NEW_PW psql -X -w -Atc 'SELECT current_user' \
        "postgresql:///trainyard_test?host=$TMP/sock&user=trainyard_app")" = trainyard_app ] \
        || { echo "run.sh: the application role does not log in with the new password"; exit 1; }
    as_pg "$PGBIN/psql" -X -q -h "$TMP/sock" -U postgres -d postgres -Atc \
        "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'trainyard_app'" \
        | grep -qx t || { echo "run.sh: the password is not stored as SCRAM"; exit 1; }
    grep -q "$NEW_PW" "$TMP/pg.log" && { echo "run.sh: the password reached the server log"; exit 1; }
    echo "run.sh: migrate set the application role's password"
fi
