#!/usr/bin/env bash
# trainer.sh — trainer daemons against a real PostgreSQL.
#
#   TRAINYARD_DATABASE_URL=... TRAINER=build/trainyard-trainer tests/db/trainer.sh
#
# Needs a migrated scratch database. Checks: N tiny jobs (default 200) raced
# by 3 trainers each run exactly once; a user error fails the job with its
# message; a kill request ends a running job as killed; kill -9 of a trainer
# gets its job requeued after the lease and finished once by another; kill -9
# of a job's child gets the job retried and finished once; SIGTERM releases a
# running job and exits 0.
#
# The trainers run in test mode (TRAINYARD_TEST_MODE=1): a job's
# "test_mode" makes its worker sleep, crash by a signal or exit non-zero
# after loading its data, so that the crash, kill and requeue checks never
# depend on how long the real engine happens to take.
set -u
: "${TRAINYARD_DATABASE_URL:?set TRAINYARD_DATABASE_URL (scratch database)}"
TRAINER=${TRAINER:-build/trainyard-trainer}
N=${N:-200}
TMP=$(mktemp -d /tmp/ty-trainer-test.XXXXXX)
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
    TRAINYARD_DATABASE_URL=$TRAINYARD_DATABASE_URL TRAINYARD_TEST_MODE=1 "$TRAINER" --trainer-id="$name" \
        --lease=3 --heartbeat=0.5 --reap-interval=0.5 --kill-grace=1 "$@" \
        2>"$TMP/$name.log" &
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

# A workspace and a small dataset (one chunk, 200 rows, y depends on x).
WS=$(psqlq "INSERT INTO workspaces (name) VALUES ('trainer-test-$$') RETURNING id")
CSV_SQL="convert_to('x,z,y' || E'\\n' || (SELECT string_agg(i || ',' || (i * 7 % 13) || ',' || (CASE WHEN i % 10 < 5 THEN 'a' ELSE 'b' END), E'\\n') FROM generate_series(1, 200) i) || E'\\n', 'UTF8')"
ART=$(psqlq "INSERT INTO artifacts (workspace_id, kind, size) VALUES ($WS, 'dataset', octet_length($CSV_SQL)) RETURNING id")
psqlq "INSERT INTO artifact_chunks VALUES ('$ART', 0, $CSV_SQL)" >/dev/null
DS=$(psqlq "INSERT INTO datasets (workspace_id, name, rows, artifact_id, size) SELECT $WS, 'small.csv', 200, id, size FROM artifacts WHERE id = '$ART' RETURNING id")

enqueue() { # spec json, count
    psqlq "WITH ins AS (INSERT INTO jobs (workspace_id, dialect, spec, dataset_id)
           SELECT $WS, 'akkio', '$1'::jsonb, '$DS' FROM generate_series(1, ${2:-1}) RETURNING id)
           SELECT id, pg_notify('trainyard_jobs', id::text) FROM ins" | cut -d'|' -f1
}

# 1. race: N tiny jobs over three trainers with two slots each.
start_trainer race-a --slots=2
start_trainer race-b --slots=2
start_trainer race-c --slots=2
t0=$SECONDS
enqueue '{"predict_fields":["y"],"duration":1,"tag":"race"}' "$N" >/dev/null
wait_for 300 "SELECT count(*) = $N FROM jobs WHERE workspace_id = $WS AND spec->>'tag' = 'race' AND finished_at IS NOT NULL"
if [ "$(psqlq "SELECT count(*) FROM jobs WHERE workspace_id = $WS AND spec->>'tag' = 'race' AND state = 'succeeded'")" != "$N" ]; then
    fail "race: not all jobs succeeded: $(psqlq "SELECT state, count(*) FROM jobs WHERE workspace_id = $WS GROUP BY state")"
fi
echo "race: $N jobs in $((SECONDS - t0)) s"
[ "$(psqlq "SELECT count(*) FROM jobs WHERE workspace_id = $WS AND spec->>'tag' = 'race' AND attempts <> 1")" = 0 ] \
    || fail "race: some job ran more than once"
[ "$(psqlq "SELECT count(*) FROM models m JOIN jobs j ON j.id = m.job_id WHERE j.spec->>'tag' = 'race' AND j.workspace_id = $WS")" = "$N" ] \
    || fail "race: models != $N"
[ "$(psqlq "SELECT count(DISTINCT trainer) FROM jobs WHERE workspace_id = $WS AND spec->>'tag' = 'race'")" -ge 2 ] \
    || fail "race: only one trainer worked"
[ "$(psqlq "SELECT count(*) > 0 FROM job_logs l JOIN jobs j ON j.id = l.job_id WHERE j.workspace_id = $WS")" = t ] \
    || fail "race: no job logs stored"
[ "$(psqlq "SELECT count(*) FROM trainers WHERE id LIKE 'race-%'")" = 3 ] || fail "trainers not registered"

# 2. a user error fails the job with the engine's message.
J=$(enqueue '{"predict_fields":["nope"],"duration":1}')
wait_for 30 "SELECT state = 'failed' FROM jobs WHERE id = '$J'" || fail "user error: not failed"
psqlq "SELECT error FROM jobs WHERE id = '$J'" | grep -q nope || fail "user error: message $(psqlq "SELECT error FROM jobs WHERE id = '$J'")"
# 2b. a worker crashing by a signal: retried while attempts remain, then
# failed naming the signal and the attempts; no model; no process left.
J=$(enqueue '{"predict_fields":["y"],"duration":10,"test_mode":{"crash_signal":11}}')
wait_for 60 "SELECT state = 'failed' FROM jobs WHERE id = '$J'" || fail "crash: not failed"
[ "$(psqlq "SELECT error || ' / ' || attempts FROM jobs WHERE id = '$J'")" = "training process crashed (signal 11) on attempt 3 of 3 / 3" ] \
    || fail "crash: error $(psqlq "SELECT error, attempts FROM jobs WHERE id = '$J'")"
[ "$(psqlq "SELECT count(*) FROM models WHERE job_id = '$J'")" = 0 ] || fail "crash: a model was stored"
[ "$(psqlq "SELECT count(*) FROM job_logs WHERE job_id = '$J' AND line LIKE 'test mode (pid %'")" = 3 ] \
    || fail "crash: not three attempts' workers in the log"
# 2c. a worker exiting non-zero fails at once (its own failure, not a crash).
J=$(enqueue '{"predict_fields":["y"],"duration":10,"test_mode":{"exit_code":7}}')
wait_for 60 "SELECT state = 'failed' FROM jobs WHERE id = '$J'" || fail "exit: not failed"
[ "$(psqlq "SELECT error || ' / ' || attempts FROM jobs WHERE id = '$J'")" = "training process exited with status 7 / 1" ] \
    || fail "exit: error $(psqlq "SELECT error, attempts FROM jobs WHERE id = '$J'")"
# Nothing of those jobs is left running under any trainer.
sleep 0.5
for p in "${PIDS[@]}"; do
    [ -z "$(pgrep -P "$p")" ] || fail "trainer $p still has children: $(pgrep -a -P "$p")"
done

# 3. kill a running job.
J=$(enqueue '{"predict_fields":["y"],"duration":60,"test_mode":{"sleep":60}}')
wait_for 20 "SELECT state = 'running' AND progress > 0 FROM jobs WHERE id = '$J'" || fail "kill: never running"
psqlq "UPDATE jobs SET kill_requested_at = now() WHERE id = '$J'; SELECT pg_notify('trainyard_kill', '$J')" >/dev/null
wait_for 10 "SELECT state = 'killed' FROM jobs WHERE id = '$J'" || fail "kill: state $(psqlq "SELECT state FROM jobs WHERE id = '$J'")"
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || fail "trainer $p exit status $?"; done
PIDS=()

# 4. kill -9 of the trainer running a job: requeued after the lease, done once.
start_trainer victim
VICTIM=$LAST_PID
J=$(enqueue '{"predict_fields":["y"],"duration":4,"test_mode":{"sleep":4}}')
wait_for 20 "SELECT state = 'running' FROM jobs WHERE id = '$J'" || fail "kill -9: never running"
kill -KILL "$VICTIM"
wait "$VICTIM" 2>/dev/null
start_trainer rescuer
wait_for 40 "SELECT state = 'succeeded' FROM jobs WHERE id = '$J'" || fail "kill -9: state $(psqlq "SELECT state, attempts FROM jobs WHERE id = '$J'")"
[ "$(psqlq "SELECT attempts || ' ' || trainer FROM jobs WHERE id = '$J'")" = "2 rescuer" ] \
    || fail "kill -9: attempts/trainer $(psqlq "SELECT attempts, trainer FROM jobs WHERE id = '$J'")"
[ "$(psqlq "SELECT count(*) FROM models WHERE job_id = '$J'")" = 1 ] || fail "kill -9: models"

# 4b. kill -9 of the job's child (as the OOM killer would): retried, done once.
RESCUER=$LAST_PID
J=$(enqueue '{"predict_fields":["y"],"duration":3,"test_mode":{"sleep":3}}')
wait_for 20 "SELECT state = 'running' FROM jobs WHERE id = '$J'" || fail "child kill: never running"
CHILD=$(pgrep -P "$RESCUER" | head -n1)
if [ -n "$CHILD" ]; then
    kill -KILL "$CHILD"
    wait_for 40 "SELECT state = 'succeeded' FROM jobs WHERE id = '$J'" \
        || fail "child kill: $(psqlq "SELECT state, attempts, error FROM jobs WHERE id = '$J'")"
    [ "$(psqlq "SELECT attempts || ' ' || (error IS NULL) FROM jobs WHERE id = '$J'")" = "2 true" ] \
        || fail "child kill: attempts/error $(psqlq "SELECT attempts, error FROM jobs WHERE id = '$J'")"
    [ "$(psqlq "SELECT count(*) FROM models WHERE job_id = '$J'")" = 1 ] || fail "child kill: models"
else
    fail "child kill: no child of trainer $RESCUER"
fi

# 5. SIGTERM while running: the job is released, the trainer exits 0.
kill -TERM "$RESCUER"; wait "$RESCUER"; PIDS=()
start_trainer stopper --shutdown-grace=1
J=$(enqueue '{"predict_fields":["y"],"duration":30,"test_mode":{"sleep":30}}')
wait_for 20 "SELECT state = 'running' FROM jobs WHERE id = '$J'" || fail "stop: never running"
kill -TERM "$LAST_PID"
wait "$LAST_PID"; rc=$?
PIDS=()
[ $rc = 0 ] || fail "stop: exit status $rc"
[ "$(psqlq "SELECT state || ' ' || attempts FROM jobs WHERE id = '$J'")" = "queued 0" ] \
    || fail "stop: $(psqlq "SELECT state, attempts FROM jobs WHERE id = '$J'")"
psqlq "UPDATE jobs SET state = 'killed', finished_at = now() WHERE id = '$J'" >/dev/null

if [ $fails -ne 0 ]; then
    echo "trainer.sh: $fails failure(s); trainer logs:"
    tail -n 20 "$TMP"/*.log
    exit 1
fi
echo "trainer.sh: all trainer checks passed"
