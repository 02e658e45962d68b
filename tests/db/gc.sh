#!/usr/bin/env bash
# gc.sh — retention and the storage collector (`trainyard gc`) against a
# migrated scratch database (tests/db/run.sh calls it).
#
# One workspace with its own policy (keep 30 days, 1 model per dataset);
# everything else in the database is left alone (defaults: forever, all).
# After one pass: the newest and the pinned model of the dataset remain, the
# middle one and its bytes are gone; an old finished job without models is
# gone with its logs; an old job that owns a kept model stays but loses its
# logs; a recent job stays whole; an old unreferenced artifact (a rejected
# upload's leftovers) is gone with its chunks, a fresh one is not yet.
set -u
: "${TRAINYARD_DATABASE_URL:?set TRAINYARD_DATABASE_URL (scratch database)}"
CLI=${CLI:-build/trainyard}
fails=0
psqlq() { psql "$TRAINYARD_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

WSNAME=gc-test-$$
WS=$(psqlq "INSERT INTO workspaces (name) VALUES ('$WSNAME') RETURNING id")
art() { # age (interval) -> artifact id, with one chunk
    local a
    a=$(psqlq "INSERT INTO artifacts (workspace_id, kind, size, created_at) VALUES ($WS, 'model', 3, now() - interval '$1') RETURNING id")
    psqlq "INSERT INTO artifact_chunks VALUES ('$a', 0, 'abc')" >/dev/null
    echo "$a"
}
job() { # finished age -> job id, with two log lines
    local j
    j=$(psqlq "INSERT INTO jobs (workspace_id, dialect, state, finished_at) VALUES ($WS, 'akkio', 'succeeded', now() - interval '$1') RETURNING id")
    psqlq "INSERT INTO job_logs (job_id, stream, line) VALUES ('$j', 'train', 'a'), ('$j', 'train', 'b')" >/dev/null
    echo "$j"
}
model() { # job, artifact, age -> model id
    psqlq "INSERT INTO models (workspace_id, job_id, dataset_id, predict_field, task, artifact_id, created_at) VALUES ($WS, '$1', '$DS', 'y', 'binary', '$2', now() - interval '$3') RETURNING id"
}

DART=$(art '2 hours')
DS=$(psqlq "INSERT INTO datasets (workspace_id, name, artifact_id) VALUES ($WS, 'd.csv', '$DART') RETURNING id")
J_OLD_BARE=$(job '40 days')
J_OLD_KEPT=$(job '40 days')
J_NEW=$(job '1 day')
M_PINNED=$(model "$J_OLD_KEPT" "$(art '3 hours')" '3 hours')
M_MIDDLE_ART=$(art '2 hours')
M_MIDDLE=$(model "$J_NEW" "$M_MIDDLE_ART" '2 hours')
M_NEW=$(model "$J_NEW" "$(art '2 hours')" '1 hour')
ORPHAN_OLD=$(art '2 hours')
ORPHAN_NEW=$(art '1 minute')

"$CLI" model pin "$M_PINNED" || fail "pin"
"$CLI" retention "$WSNAME" 30 1 || fail "retention"
"$CLI" retention no-such-workspace 1 1 2>/dev/null && fail "retention: unknown workspace accepted"
out=$(TRAINYARD_RETENTION_DAYS=0 TRAINYARD_RETENTION_MODELS=0 TRAINYARD_GC_ORPHAN_GRACE=3600 "$CLI" gc) \
    || fail "gc failed"
echo "gc: $out"

exists() { [ "$(psqlq "SELECT count(*) FROM $1 WHERE id = '$2'")" = 1 ]; }
exists models "$M_PINNED" || fail "the pinned model was deleted"
exists models "$M_NEW" || fail "the newest model was deleted"
exists models "$M_MIDDLE" && fail "the middle model was kept (keep 1)"
exists artifacts "$M_MIDDLE_ART" && fail "the deleted model's artifact was kept"
exists jobs "$J_OLD_BARE" && fail "an expired job without models was kept"
[ "$(psqlq "SELECT count(*) FROM job_logs WHERE job_id = '$J_OLD_BARE'")" = 0 ] || fail "its logs were kept"
exists jobs "$J_OLD_KEPT" || fail "a job owning a kept model was deleted"
[ "$(psqlq "SELECT count(*) FROM job_logs WHERE job_id = '$J_OLD_KEPT'")" = 0 ] || fail "its expired logs were kept"
exists jobs "$J_NEW" || fail "a recent job was deleted"
[ "$(psqlq "SELECT count(*) FROM job_logs WHERE job_id = '$J_NEW'")" = 2 ] || fail "a recent job lost its logs"
exists artifacts "$ORPHAN_OLD" && fail "an old orphaned artifact was kept"
[ "$(psqlq "SELECT count(*) FROM artifact_chunks WHERE artifact_id = '$ORPHAN_OLD'")" = 0 ] || fail "its chunks were kept"
exists artifacts "$ORPHAN_NEW" || fail "a fresh unreferenced artifact was collected within the grace"
exists artifacts "$DART" || fail "a dataset's artifact was collected"
"$CLI" model unpin "$M_PINNED" || fail "unpin"
"$CLI" model pin 00000000-0000-4000-8000-000000000000 2>/dev/null && fail "pin: unknown model accepted"

[ $fails -eq 0 ] || { echo "gc.sh: $fails failure(s)"; exit 1; }
echo "gc.sh: retention and collection checks passed"
