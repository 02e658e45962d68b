-- 0012: bounded storage. Finished jobs and their logs are kept N days, the
-- last K models of each dataset are kept unless pinned, and artifacts that
-- nothing refers to any more are collected (db/retention.c, run by
-- `trainyard gc` and every trainer's housekeeping). The defaults are
-- settings (TRAINYARD_RETENTION_DAYS, TRAINYARD_RETENTION_MODELS); a
-- workspace may have its own here (`trainyard retention`).

ALTER TABLE models ADD COLUMN pinned boolean NOT NULL DEFAULT false;

CREATE TABLE workspace_retention (
    workspace_id  bigint PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    keep_days     integer CHECK (keep_days >= 0),    -- NULL: the default; 0: forever
    keep_models   integer CHECK (keep_models >= 0),  -- NULL: the default; 0: all
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- What the collector scans: finished jobs by age, models by dataset, and
-- every reference to an artifact (so that "is it orphaned" is an index probe).
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('succeeded', 'failed', 'killed', 'timed_out');
CREATE INDEX models_dataset ON models (workspace_id, dataset_id, created_at DESC);
CREATE INDEX models_artifact ON models (artifact_id);
CREATE INDEX datasets_artifact ON datasets (artifact_id) WHERE artifact_id IS NOT NULL;
CREATE INDEX jobs_bundle ON jobs (bundle_id) WHERE bundle_id IS NOT NULL;
CREATE INDEX artifacts_created ON artifacts (created_at);
