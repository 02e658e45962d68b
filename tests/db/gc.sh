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
# Then every dependency an unfinished job has (below) keeps what it needs.
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

# --- dependencies: what an unfinished job needs survives the collector ------
# (db/retention.c lists every reference in sql/ and where it is honoured.)
# Each case is next to a twin without the dependency, which must go: the
# test fails both when the collector deletes too much and when it no longer
# deletes at all.
ujob() { # state, spec (JSON) -> job id, created now, unfinished unless told
    psqlq "INSERT INTO jobs (workspace_id, dialect, state, spec, finished_at) VALUES ($WS, 'akkio', '$1', '$2'::jsonb, CASE WHEN '$1' IN ('queued', 'building', 'running') THEN NULL ELSE now() - interval '40 days' END) RETURNING id"
}
dmodel() { # dataset, job, age -> model id (with its own artifact)
    psqlq "INSERT INTO models (workspace_id, job_id, dataset_id, predict_field, task, artifact_id, created_at) VALUES ($WS, '$2', '$1', 'y', 'binary', '$(art '3 hours')', now() - interval '$3') RETURNING id"
}
newds() { psqlq "INSERT INTO datasets (workspace_id, name, artifact_id) VALUES ($WS, '$1', '$(art '2 hours')') RETURNING id"; }

# 1. A model whose own job has not finished (a grid job stores its first
#    models before it ends), beyond keep 1: kept; its twin of a finished job: gone.
DS1=$(newds grid.csv)
J_GRID=$(ujob running '{}')
J_DONE=$(ujob succeeded '{}')
M_GRID_OLD=$(dmodel "$DS1" "$J_GRID" '3 hours')
M_DONE_OLD=$(dmodel "$DS1" "$J_DONE" '2 hours')
M_DS1_NEW=$(dmodel "$DS1" "$J_DONE" '1 hour')
# 2. A model an unfinished job names in its spec (here a warm start, nested),
#    beyond keep 1: kept. Named only by a finished job, or by an unfinished
#    job of another workspace (which cannot use it): gone.
DS2=$(newds warm.csv)
M_WARM=$(dmodel "$DS2" "$J_DONE" '3 hours')
M_COLD=$(dmodel "$DS2" "$J_DONE" '2 hours')
M_FOREIGN=$(dmodel "$DS2" "$J_DONE" '2 hours 30 minutes')
M_DS2_NEW=$(dmodel "$DS2" "$J_DONE" '1 hour')
J_WARM=$(ujob queued "{\"predict_fields\": [\"y\"], \"init\": {\"model_id\": \"$M_WARM\"}}")
ujob failed "{\"base_model\": \"$M_COLD\"}" >/dev/null
OTHER_WS=$(psqlq "INSERT INTO workspaces (name) VALUES ('gc-other-$$') RETURNING id")
psqlq "INSERT INTO jobs (workspace_id, dialect, state, spec) VALUES ($OTHER_WS, 'akkio', 'queued', '{\"base_model\": \"$M_FOREIGN\"}'::jsonb)" >/dev/null
# 3. Dataset bytes a queued job was submitted on (sql/0033: an append has
#    since pointed the dataset at new bytes): kept; bytes only a finished
#    job was submitted on: gone.
A_PINNED=$(art '2 hours')
A_UNPINNED=$(art '2 hours')
psqlq "INSERT INTO jobs (workspace_id, dialect, state, dataset_id, dataset_artifact_id) VALUES ($WS, 'akkio', 'queued', '$DS', '$A_PINNED')" >/dev/null
psqlq "INSERT INTO jobs (workspace_id, dialect, state, dataset_id, dataset_artifact_id, finished_at) VALUES ($WS, 'akkio', 'succeeded', '$DS', '$A_UNPINNED', now())" >/dev/null
# 4. A job's bundle and a KAOS bundle: kept (their rows refer to them).
A_BUNDLE=$(art '2 hours')
psqlq "INSERT INTO jobs (workspace_id, dialect, state, bundle_id, finished_at) VALUES ($WS, 'workspace', 'succeeded', '$A_BUNDLE', now())" >/dev/null
A_KAOS=$(art '2 hours')
psqlq "INSERT INTO kaos_bundles (workspace_id, kind, artifact_id, format) VALUES ($WS, 'code', '$A_KAOS', 'zip')" >/dev/null
# 5. A Strapi document outlives its expired job (trainings.job_id is ON
#    DELETE SET NULL by design): the job goes, the document stays.
J_STRAPI=$(job '40 days')
T_STRAPI=$(psqlq "INSERT INTO trainings (workspace_id, uuid, accuracy, job_id) VALUES ($WS, 'gc-$$', 0.9, '$J_STRAPI') RETURNING id")

out=$(TRAINYARD_RETENTION_DAYS=0 TRAINYARD_RETENTION_MODELS=0 TRAINYARD_GC_ORPHAN_GRACE=3600 "$CLI" gc) \
    || fail "gc (dependencies) failed"
echo "gc (dependencies): $out"
exists models "$M_GRID_OLD" || fail "a model of a job still running was deleted"
exists models "$M_DONE_OLD" && fail "an old model of a finished job was kept (keep 1)"
exists models "$M_DS1_NEW" || fail "the newest model of dataset 1 was deleted"
exists models "$M_WARM" || fail "a model a queued job names in its spec was deleted"
exists models "$M_COLD" && fail "a model named only by a finished job was kept"
exists models "$M_FOREIGN" && fail "another workspace's job kept this workspace's model"
exists models "$M_DS2_NEW" || fail "the newest model of dataset 2 was deleted"
exists artifacts "$A_PINNED" || fail "dataset bytes a queued job pins were collected"
exists artifacts "$A_UNPINNED" && fail "dataset bytes only a finished job pinned were kept"
exists artifacts "$A_BUNDLE" || fail "a job's bundle was collected"
exists artifacts "$A_KAOS" || fail "a KAOS bundle was collected"
exists jobs "$J_STRAPI" && fail "an expired job without models was kept for its training"
[ "$(psqlq "SELECT coalesce(job_id::text, 'none') FROM trainings WHERE id = $T_STRAPI")" = none ] \
    || fail "the training document was lost or still points at a deleted job"
# Once the warm-starting job is over, the next pass collects its model.
psqlq "UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE id IN ('$J_WARM', '$J_GRID')" >/dev/null
TRAINYARD_RETENTION_DAYS=0 TRAINYARD_RETENTION_MODELS=0 TRAINYARD_GC_ORPHAN_GRACE=3600 "$CLI" gc >/dev/null \
    || fail "gc (after the jobs) failed"
exists models "$M_WARM" && fail "the warm-start model outlived its job"
exists models "$M_GRID_OLD" && fail "the grid model outlived its job (keep 1)"
# Leave no queued job behind for the trainer tests that share this database.
psqlq "UPDATE jobs SET state = 'killed', finished_at = now() WHERE workspace_id IN ($WS, $OTHER_WS) AND state IN ('queued', 'building', 'running')" >/dev/null

[ $fails -eq 0 ] || { echo "gc.sh: $fails failure(s)"; exit 1; }
echo "gc.sh: retention and collection checks passed"
