#!/usr/bin/env bash
# child.sh — a job's training process is unprivileged and bounded.
#
#   TRAINYARD_DATABASE_URL=... TRAINER=build/trainyard-trainer tests/db/child.sh
#
# Needs a migrated scratch database (tests/db/run.sh calls it). Checks, on a
# running job's worker process (`trainyard-job`, the runner's child): it runs
# as TRAINYARD_CHILD_USER's uid when the trainer is root, its environment
# holds no TRAINYARD_ setting (no database URL), it holds no socket and only
# the descriptors it was given, its address space is capped; and a job over
# its wall-clock limit fails saying so, and one whose memory limit is too
# small fails naming it.
set -u
: "${TRAINYARD_DATABASE_URL:?set TRAINYARD_DATABASE_URL (scratch database)}"
TRAINER=${TRAINER:-build/trainyard-trainer}
TMP=$(mktemp -d /tmp/ty-child-test.XXXXXX)
PIDS=()
fails=0

psqlq() { psql "$TRAINYARD_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

start_trainer() { # name, extra flags...
    local name=$1; shift
    "$TRAINER" --trainer-id="$name" --lease=3 --heartbeat=0.5 --reap-interval=0.5 \
        --kill-grace=1 "$@" 2>"$TMP/$name.log" &
    PIDS+=($!)
    LAST_PID=$!
}

wait_for() { # seconds, sql returning t when done
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(psqlq "$2")" = "t" ] && return 0
        sleep 0.2
    done
    return 1
}

children() { # pid -> its children's pids
    local d
    for d in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = "$1" ] && basename "$d"
    done
}

WS=$(psqlq "INSERT INTO workspaces (name) VALUES ('child-test-$$') RETURNING id")
CSV_SQL="convert_to('x,z,y' || E'\\n' || (SELECT string_agg(i || ',' || (i * 7 % 13) || ',' || (CASE WHEN i % 10 < 5 THEN 'a' ELSE 'b' END), E'\\n') FROM generate_series(1, 2000) i) || E'\\n', 'UTF8')"
ART=$(psqlq "INSERT INTO artifacts (workspace_id, kind, size) VALUES ($WS, 'dataset', octet_length($CSV_SQL)) RETURNING id")
psqlq "INSERT INTO artifact_chunks VALUES ('$ART', 0, $CSV_SQL)" >/dev/null
DS=$(psqlq "INSERT INTO datasets (workspace_id, name, rows, artifact_id, size) SELECT $WS, 'child.csv', 2000, id, size FROM artifacts WHERE id = '$ART' RETURNING id")
enqueue() { # spec json
    psqlq "WITH ins AS (INSERT INTO jobs (workspace_id, dialect, spec, dataset_id, max_attempts)
           VALUES ($WS, 'akkio', '$1'::jsonb, '$DS', 1) RETURNING id)
           SELECT id, pg_notify('trainyard_jobs', id::text) FROM ins" | cut -d'|' -f1
}

# 1. The worker of a running job. The search ends early once it has
#    converged (this table is learnt in a second), so the job holds its
#    worker with the trainer's test mode: a sleep that reports progress and
#    obeys a kill, in the worker, after the dataset is loaded.
start_trainer plain --child-memory=3g --test-mode=1
TRAINER_PID=$LAST_PID
J=$(enqueue '{"predict_fields":["y"],"duration":60,"test_mode":{"sleep":30}}')
wait_for 20 "SELECT state = 'running' AND progress > 0 FROM jobs WHERE id = '$J'" || fail "worker: never running"
WORKER=""
for r in $(children "$TRAINER_PID"); do
    for w in $(children "$r"); do
        tr '\0' ' ' < "/proc/$w/cmdline" | grep -q -- '--job-worker' && WORKER=$w
    done
done
if [ -z "$WORKER" ]; then
    fail "worker: no trainyard-job process under trainer $TRAINER_PID"
else
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$WORKER/status")
    if [ "$(id -u)" = 0 ]; then
        [ "$uid" = "$(id -u nobody)" ] || fail "worker: uid $uid, not nobody's"
    fi
    tr '\0' '\n' < "/proc/$WORKER/environ" | grep -q '^TRAINYARD_' \
        && fail "worker: environment holds $(tr '\0' '\n' < "/proc/$WORKER/environ" | grep '^TRAINYARD_' | cut -d= -f1)"
    ls -l "/proc/$WORKER/fd" | grep -q 'socket:' && fail "worker: holds a socket"
    nfd=$(ls "/proc/$WORKER/fd" | wc -l)
    [ "$nfd" -le 6 ] || fail "worker: $nfd descriptors: $(ls -l /proc/$WORKER/fd)"
    grep -q "^Max address space *3221225472" "/proc/$WORKER/limits" \
        || fail "worker: address space $(grep 'Max address space' /proc/$WORKER/limits)"
    grep -q "^Max core file size *0" "/proc/$WORKER/limits" || fail "worker: core dumps allowed"
fi
[ "$(psqlq "SELECT count(*) FROM job_logs WHERE job_id = '$J' AND line LIKE 'training process: uid %, memory 3 GiB%'")" = 1 ] \
    || fail "worker: no log line with its limits"
psqlq "UPDATE jobs SET kill_requested_at = now() WHERE id = '$J'; SELECT pg_notify('trainyard_kill', '$J')" >/dev/null
wait_for 10 "SELECT state = 'killed' FROM jobs WHERE id = '$J'" || fail "worker: kill: $(psqlq "SELECT state FROM jobs WHERE id = '$J'")"
kill -TERM "$TRAINER_PID"; wait "$TRAINER_PID"; PIDS=()

# 2. The wall clock: 60 s x 0.02 + 0.5 s = 1.7 s, ingest and all.
start_trainer hasty --child-wall-factor=0.02 --child-wall-grace=0.5 --test-mode=1
J=$(enqueue '{"predict_fields":["y"],"duration":60,"test_mode":{"sleep":30}}')
wait_for 30 "SELECT state = 'failed' FROM jobs WHERE id = '$J'" || fail "wall clock: $(psqlq "SELECT state FROM jobs WHERE id = '$J'")"
psqlq "SELECT error FROM jobs WHERE id = '$J'" | grep -q '^training exceeded its wall-clock limit of 2 s' \
    || fail "wall clock: error $(psqlq "SELECT error FROM jobs WHERE id = '$J'")"
kill -TERM "$LAST_PID"; wait "$LAST_PID"; PIDS=()

# 3. A memory limit too small to even load the program: the job fails at
#    once, naming the limit (not "ended early").
start_trainer starved --child-memory=16m
J=$(enqueue '{"predict_fields":["y"],"duration":10}')
wait_for 30 "SELECT state = 'failed' FROM jobs WHERE id = '$J'" || fail "memory: $(psqlq "SELECT state FROM jobs WHERE id = '$J'")"
psqlq "SELECT error FROM jobs WHERE id = '$J'" | grep -q 'memory limit is 16 MiB' \
    || fail "memory: error $(psqlq "SELECT error FROM jobs WHERE id = '$J'")"
kill -TERM "$LAST_PID"; wait "$LAST_PID"; PIDS=()

if [ $fails -ne 0 ]; then
    echo "child.sh: $fails failure(s); trainer logs:"
    tail -n 20 "$TMP"/*.log
    exit 1
fi
echo "child.sh: all training-process checks passed"
