-- 0011: job counts by workspace and state without counting the jobs table.
--
-- /metrics used to run count(*) over every job on each scrape. Now a trigger
-- appends one delta row per state change to job_count_deltas (an INSERT
-- only: no row is shared between transactions, so enqueues never queue
-- behind each other on a hot counter row, and no lock order can deadlock),
-- and db_job_counts_compact() folds the deltas into job_counts from time to
-- time (the trainers' housekeeping, the metrics route), under an advisory
-- lock so that one process folds at a time. A reader sums both tables,
-- which are small: one row per workspace and state, plus the deltas since
-- the last fold.

CREATE TABLE job_counts (
    workspace_id  bigint NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    state         text NOT NULL,
    n             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, state)
);

CREATE TABLE job_count_deltas (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL,
    state         text NOT NULL,
    delta         integer NOT NULL
);

CREATE FUNCTION job_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_count_deltas (workspace_id, state, delta)
        VALUES (NEW.workspace_id, NEW.state, 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO job_count_deltas (workspace_id, state, delta)
        VALUES (OLD.workspace_id, OLD.state, -1);
    ELSE
        INSERT INTO job_count_deltas (workspace_id, state, delta)
        VALUES (OLD.workspace_id, OLD.state, -1), (NEW.workspace_id, NEW.state, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert_delete AFTER INSERT OR DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION job_counts_track();
CREATE TRIGGER jobs_count_state AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR
                       OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
    EXECUTE FUNCTION job_counts_track();

-- The jobs that exist already, counted once. (The table is locked against
-- writes meanwhile, so no change slips between the count and the trigger.)
LOCK TABLE jobs IN SHARE MODE;
INSERT INTO job_counts (workspace_id, state, n)
SELECT workspace_id, state, count(*) FROM jobs GROUP BY workspace_id, state;
