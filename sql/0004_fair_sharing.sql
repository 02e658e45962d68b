-- 0004: sharing between workspaces — per-workspace limits, the counters that
-- enforce them, the index the fair claim reads, and key revocation by SQL.
--
-- Limits live on the workspace (the tenant); defaults are generous enough
-- that a single team never meets them by accident, and `trainyard limits set`
-- changes them. Usage counters live in a table of their own so that the hot
-- updates never touch workspaces rows (read by every key check).
--
-- Enforcement is in the database, so that every path (every dialect, psql)
-- meets the same rule, exactly, under any concurrency: the trigger takes the
-- workspace's usage row lock, so two enqueues racing for the last free place
-- serialize and the second one sees the first. Errors use SQLSTATE class
-- "TY" (TY429, TY413); db/db.c turns them into that HTTP status with the
-- message below, which names the limit and its value.

ALTER TABLE workspaces
    ADD COLUMN max_queued   integer NOT NULL DEFAULT 100000 CHECK (max_queued > 0),
    ADD COLUMN max_running  integer NOT NULL DEFAULT 64 CHECK (max_running > 0),
    ADD COLUMN max_bytes    bigint  NOT NULL DEFAULT 107374182400 CHECK (max_bytes > 0),
    ADD COLUMN max_datasets integer NOT NULL DEFAULT 10000 CHECK (max_datasets > 0);

CREATE TABLE workspace_usage (
    workspace_id  bigint PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    queued_bound  bigint NOT NULL DEFAULT 0,  -- never less than the jobs queued (below)
    bytes         bigint NOT NULL DEFAULT 0,  -- sum of artifacts.size
    datasets      bigint NOT NULL DEFAULT 0   -- datasets not deleted
);
-- Updated on every enqueue: leave room for HOT updates.
ALTER TABLE workspace_usage SET (fillfactor = 50);

INSERT INTO workspace_usage (workspace_id, queued_bound, bytes, datasets)
SELECT w.id,
       (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id AND j.state = 'queued'),
       (SELECT coalesce(sum(a.size), 0) FROM artifacts a WHERE a.workspace_id = w.id),
       (SELECT count(*) FROM datasets d WHERE d.workspace_id = w.id AND d.deleted_at IS NULL)
  FROM workspaces w;

CREATE FUNCTION trainyard_usage_new_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO workspace_usage (workspace_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER workspaces_usage AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION trainyard_usage_new_workspace();

-- Jobs: a new queued job must fit under max_queued.
--
-- The claim path stays free of any counter: an exact "queued" count kept
-- by triggers would put one hot row under every claim, serializing claims
-- through their commits (it halved claim throughput when measured). So the
-- count kept is an upper bound: it grows with every move into 'queued'
-- (insert, reaper requeue, release, retry) and is left alone by moves out
-- of it (claim, kill). While the bound is below the limit the job fits for
-- sure; when it is not, the trigger counts the queue for real (at most
-- max_queued + 1 index entries) and resets the bound to that count. The
-- count is exact: the bound's row lock is held (no other enqueue or requeue
-- of this workspace is in flight), and each statement of a plpgsql function
-- takes a fresh snapshot, so every committed change is seen.
CREATE FUNCTION trainyard_usage_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n   bigint;
    lim integer;
BEGIN
    UPDATE workspace_usage u SET queued_bound = u.queued_bound + 1 FROM workspaces w
     WHERE u.workspace_id = NEW.workspace_id AND w.id = u.workspace_id
    RETURNING u.queued_bound, w.max_queued INTO n, lim;
    IF TG_OP <> 'INSERT' OR n <= lim THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM (SELECT 1 FROM jobs
        WHERE workspace_id = NEW.workspace_id AND state = 'queued' LIMIT lim + 1) q;
    UPDATE workspace_usage SET queued_bound = n WHERE workspace_id = NEW.workspace_id;
    IF n > lim THEN
        RAISE EXCEPTION 'limit reached: at most % queued jobs per workspace (max_queued = %)',
            lim, lim USING ERRCODE = 'TY429';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_usage_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION trainyard_usage_jobs();
-- Requeues only (rare); heartbeats, claims and finishes call no trigger.
CREATE TRIGGER jobs_usage_requeue AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION trainyard_usage_jobs();

-- Artifacts: bytes are counted when an artifact's size is recorded (its
-- writer finishing), for every kind. Only uploads through the API are
-- refused (db_limits_check_upload), so that a trainer never fails a job for
-- storing the model it was asked to train.
CREATE FUNCTION trainyard_usage_artifacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE workspace_usage SET bytes = bytes - OLD.size WHERE workspace_id = OLD.workspace_id;
    ELSIF TG_OP = 'INSERT' THEN
        UPDATE workspace_usage SET bytes = bytes + NEW.size WHERE workspace_id = NEW.workspace_id;
    ELSE
        UPDATE workspace_usage SET bytes = bytes + NEW.size - OLD.size
         WHERE workspace_id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER artifacts_usage_insert AFTER INSERT ON artifacts
    FOR EACH ROW WHEN (NEW.size <> 0) EXECUTE FUNCTION trainyard_usage_artifacts();
CREATE TRIGGER artifacts_usage_update AFTER UPDATE OF size ON artifacts
    FOR EACH ROW WHEN (OLD.size <> NEW.size) EXECUTE FUNCTION trainyard_usage_artifacts();
CREATE TRIGGER artifacts_usage_delete AFTER DELETE ON artifacts
    FOR EACH ROW WHEN (OLD.size <> 0) EXECUTE FUNCTION trainyard_usage_artifacts();

CREATE FUNCTION trainyard_usage_datasets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE workspace_usage SET datasets = datasets + 1 WHERE workspace_id = NEW.workspace_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE workspace_usage SET datasets = datasets - 1 WHERE workspace_id = OLD.workspace_id;
    ELSE
        UPDATE workspace_usage SET datasets = datasets
             + (CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE 0 END)
             - (CASE WHEN OLD.deleted_at IS NULL THEN 1 ELSE 0 END)
         WHERE workspace_id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER datasets_usage_insert AFTER INSERT ON datasets
    FOR EACH ROW WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION trainyard_usage_datasets();
CREATE TRIGGER datasets_usage_update AFTER UPDATE OF deleted_at ON datasets
    FOR EACH ROW WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION trainyard_usage_datasets();
CREATE TRIGGER datasets_usage_delete AFTER DELETE ON datasets
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION trainyard_usage_datasets();

-- The fair claim walks workspaces, then each one's queue by priority then
-- age: this index serves both the head-of-queue look and the locking pick.
CREATE INDEX jobs_claim_ws ON jobs (workspace_id, priority, created_at) WHERE state = 'queued';
DROP INDEX IF EXISTS jobs_claim;
-- ... and breaks ties between workspaces round-robin: the one whose last
-- job started longest ago goes first.
CREATE INDEX jobs_started ON jobs (workspace_id, started_at) WHERE started_at IS NOT NULL;

-- A key revoked or deleted with SQL reaches every API worker's key cache at
-- once, by the same NOTIFY the CLI's revoke relies on (payload: the prefix).
CREATE FUNCTION trainyard_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trainyard_keys', OLD.prefix);
    IF TG_OP = 'UPDATE' AND NEW.prefix <> OLD.prefix THEN
        PERFORM pg_notify('trainyard_keys', NEW.prefix);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION trainyard_keys_changed();
