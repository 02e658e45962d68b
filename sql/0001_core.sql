-- 0001_core.sql — trainyard's tables.
--
-- Tenancy: every row belongs to a workspace; the API reaches rows only
-- through (workspace_id, id). Times are timestamptz; the C side reads them
-- as epoch seconds. Artifacts hold every large blob (datasets, bundles,
-- models) as ordered 1 MiB bytea chunks so that trainers on other hosts
-- need no shared filesystem.

CREATE TABLE workspaces (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only SHA-256(key) is stored; prefix is public (listings, revocation).
CREATE TABLE api_keys (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    prefix        text NOT NULL UNIQUE,
    hash          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE TABLE artifacts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('dataset', 'bundle', 'model')),
    size          bigint NOT NULL DEFAULT 0,
    sha256        text,
    chunks        integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE artifact_chunks (
    artifact_id  uuid NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (artifact_id, seq)
);
-- CSV and UBJ compress poorly for the CPU they cost: store chunks as is.
ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Deleting a dataset keeps its row (jobs and models point to it for
-- provenance) but drops its bytes: deleted_at set, artifact_id NULL.
CREATE TABLE datasets (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          text NOT NULL,
    rows          bigint NOT NULL DEFAULT 0,
    fields        jsonb NOT NULL DEFAULT '[]',
    artifact_id   uuid REFERENCES artifacts(id) ON DELETE SET NULL,
    size          bigint NOT NULL DEFAULT 0,
    sha256        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX datasets_workspace ON datasets (workspace_id, created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE jobs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id       bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    dialect            text NOT NULL CHECK (dialect IN ('akkio', 'workspace', 'strapi')),
    state              text NOT NULL DEFAULT 'queued' CHECK (state IN
                           ('queued', 'building', 'running', 'succeeded', 'failed', 'killed',
                            'timed_out')),
    priority           integer NOT NULL DEFAULT 100,
    spec               jsonb NOT NULL DEFAULT '{}',
    dataset_id         uuid REFERENCES datasets(id),
    bundle_id          uuid REFERENCES artifacts(id) ON DELETE SET NULL,
    user_name          text,
    dedupe_key         text,
    attempts           integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL DEFAULT 3,
    lease_owner        text,              -- trainer holding the lease, NULL when none
    lease_expires_at   timestamptz,
    trainer            text,              -- last trainer that claimed it (kept for psql)
    kill_requested_at  timestamptz,
    progress           double precision NOT NULL DEFAULT 0,
    estimate_seconds   double precision,
    error              text,
    result             jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The claim reads exactly this index: queued jobs by priority then age.
CREATE INDEX jobs_claim ON jobs (priority, created_at) WHERE state = 'queued';
-- The reaper's scan.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state IN ('building', 'running');
CREATE INDEX jobs_workspace ON jobs (workspace_id, created_at DESC);
CREATE INDEX jobs_dedupe ON jobs (workspace_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX jobs_dataset ON jobs (dataset_id) WHERE state IN ('queued', 'building', 'running');

-- One row per line; the global id doubles as the "after" cursor.
CREATE TABLE job_logs (
    id      bigserial PRIMARY KEY,
    job_id  uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    stream  text NOT NULL,
    line    text NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

CREATE TABLE models (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq            bigserial,          -- insertion order = predict-field order
    workspace_id   bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    job_id         uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    dataset_id     uuid,
    predict_field  text NOT NULL,
    task           text NOT NULL,
    metrics        jsonb,
    candidates     jsonb,
    preprocess     jsonb,
    artifact_id    uuid NOT NULL REFERENCES artifacts(id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_job ON models (job_id, seq);

-- Strapi-style documents (seed 000). Column names keep the seed's spelling.
CREATE TABLE trainings (
    id             bigserial PRIMARY KEY,
    workspace_id   bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    uuid           text,
    accuracy       double precision,
    precission     double precision,
    mae            double precision,
    rmse           double precision,
    "binaryPath"   text,
    version        text,
    meta           text,
    job_id         uuid REFERENCES jobs(id) ON DELETE SET NULL,
    published_at   timestamptz,
    created_by     text,
    updated_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, uuid)
);
CREATE INDEX trainings_job ON trainings (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE trainers (
    id       text PRIMARY KEY,
    host     text NOT NULL,
    pid      integer NOT NULL,
    slots    integer NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now()
);
