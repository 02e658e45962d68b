-- 0004: sharing between workspaces — per-workspace limits, the counters that
-- enforce them, the index the fair claim reads, and key revocation by SQL.
--
-- Limits live on the workspace (the tenant); defaults are generous enough
-- that a single team never meets them by accident, and `trainyard limits set`
-- changes them. Usage counters live in a table of their own so that the hot
-- updates never touch workspaces rows (read by every key check).
--
-- Enforcement is in the database, so that every path (every dialect, psql)
-- meets the same rule, exactly, under any concurrency (see the jobs trigger
-- below for how, without a counter every enqueue would queue behind).

ALTER TABLE workspaces
    ADD COLUMN max_queued   integer NOT NULL DEFAULT 100000 CHECK (max_queued > 0),
    ADD COLUMN max_running  integer NOT NULL DEFAULT 64 CHECK (max_running > 0),
    ADD COLUMN max_bytes    bigint  NOT NULL DEFAULT 107374182400 CHECK (max_bytes > 0),
    ADD COLUMN max_datasets integer NOT NULL DEFAULT 10000 CHECK (max_datasets > 0);

-- Every move of a job into 'queued' (an insert, a requeue) takes a number
-- from this sequence, whatever its workspace: a counter that never waits
-- for anyone (sequences are not transactional) and so never serializes
-- enqueues the way a counter row would.
CREATE SEQUENCE jobs_enqueued;
SELECT nextval('jobs_enqueued');

CREATE TABLE workspace_usage (
    workspace_id    bigint PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    queued_recount  bigint NOT NULL DEFAULT 0,  -- jobs queued when last counted
    seq_recount     bigint NOT NULL DEFAULT 0,  -- jobs_enqueued's value then
    bytes           bigint NOT NULL DEFAULT 0,  -- sum of artifacts.size
    datasets        bigint NOT NULL DEFAULT 0   -- datasets not deleted
);
-- Updated on every upload: leave room for HOT updates.
ALTER TABLE workspace_usage SET (fillfactor = 50);

INSERT INTO workspace_usage (workspace_id, queued_recount, seq_recount, bytes, datasets)
SELECT w.id,
       (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id AND j.state = 'queued'),
       (SELECT last_value FROM jobs_enqueued),
       (SELECT coalesce(sum(a.size), 0) FROM artifacts a WHERE a.workspace_id = w.id),
       (SELECT count(*) FROM datasets d WHERE d.workspace_id = w.id AND d.deleted_at IS NULL)
  FROM workspaces w;

CREATE FUNCTION trainyard_usage_new_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO workspace_usage (workspace_id, seq_recount)
    VALUES (NEW.id, (SELECT last_value FROM jobs_enqueued));
    RETURN NULL;
END $$;
CREATE TRIGGER workspaces_usage AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION trainyard_usage_new_workspace();

-- Jobs: a new queued job must fit under max_queued.
--
-- Neither enqueue nor claim writes a shared counter: a counter row would be
-- held from the insert to the end of its commit, so enqueues of a workspace
-- (and claims, if they counted down) would wait for each other's commits
-- instead of overlapping them; measured, that halved both rates.
--
-- Instead, queued_recount + (jobs_enqueued now - seq_recount) bounds the
-- workspace's queue from above: it was exact at the last count, and since
-- then the sequence has counted every move into 'queued' (of every
-- workspace, so it over-counts, never under-counts; claims and kills only
-- shrink the queue). While the bound leaves room, the job goes in at once.
-- When it does not, the queue is counted for real (at most max_queued
-- index entries) and the bound reset to that count.
--
-- Exactness: the quick path holds a shared advisory lock on the workspace
-- from before it takes its number until it commits; the count takes the
-- exclusive one, so it waits until every job numbered before it is
-- committed (and visible to the count: each statement of a plpgsql function
-- takes a fresh snapshot) or gone, and no job gets a number meanwhile. Two
-- counts of one workspace take turns. The price: a quick path that finds
-- the bound crossed by others between its look and its number refuses
-- rather than count (it holds the shared lock), so right at the moment the
-- bound reaches the limit a job may be refused that would just have fitted.
-- Never the other way round.
--
-- A refusal does not raise: the trigger skips the row (RETURN NULL) and
-- leaves the limit in trainyard.refused for db/jobs.c to report as 429, so
-- that the count it has just made is kept and a client hammering a full
-- queue costs one look per request, not one count.
CREATE FUNCTION trainyard_jobs_admit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lim integer;
    qr  bigint;
    sr  bigint;
    n   bigint;
    k   integer := (NEW.workspace_id % 2147483647)::integer;
BEGIN
    SELECT w.max_queued, u.queued_recount, u.seq_recount INTO lim, qr, sr
      FROM workspaces w JOIN workspace_usage u ON u.workspace_id = w.id
     WHERE w.id = NEW.workspace_id;
    IF NOT FOUND THEN
        RETURN NEW; -- no such workspace: the foreign key says so
    END IF;
    IF qr + (SELECT last_value FROM jobs_enqueued) - sr < lim THEN
        PERFORM pg_advisory_xact_lock_shared(7311955, k);
        n := nextval('jobs_enqueued');
        SELECT u.queued_recount, u.seq_recount INTO qr, sr
          FROM workspace_usage u WHERE u.workspace_id = NEW.workspace_id;
        IF qr + n - sr <= lim THEN
            RETURN NEW;
        END IF;
    ELSE
        PERFORM pg_advisory_xact_lock(7311955, k);
        SELECT count(*) INTO qr FROM (SELECT 1 FROM jobs
            WHERE workspace_id = NEW.workspace_id AND state = 'queued' LIMIT lim) q;
        n := nextval('jobs_enqueued');
        IF qr < lim THEN
            UPDATE workspace_usage SET queued_recount = qr + 1, seq_recount = n
             WHERE workspace_id = NEW.workspace_id;
            RETURN NEW;
        END IF;
        UPDATE workspace_usage SET queued_recount = qr, seq_recount = n
         WHERE workspace_id = NEW.workspace_id;
    END IF;
    PERFORM set_config('trainyard.refused', lim::text, false);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_admit BEFORE INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION trainyard_jobs_admit();

-- Requeues (reaper, release, crash retry: rare) are never refused, only
-- numbered, under the shared lock like any quick path.
CREATE FUNCTION trainyard_jobs_requeued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7311955, (NEW.workspace_id % 2147483647)::integer);
    PERFORM nextval('jobs_enqueued');
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_requeued AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION trainyard_jobs_requeued();

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
