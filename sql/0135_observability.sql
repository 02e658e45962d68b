-- 0135: what operators trace and measure (issue 13, parts 6 and 7).
--
-- jobs.request_id: the X-Request-Id of the request that created the job
-- (nginx sets one when the client sent none), so an access-log line, the
-- API's log line and the job's own logs can be tied together.
--
-- Job durations by outcome, for /metrics' histogram, without scanning the
-- jobs table on each scrape: as in 0011, a trigger appends one row per job
-- reaching a final state (an INSERT only: no hot row shared between
-- finishing trainers), and db_job_counts_compact folds them into per-bucket
-- totals. The bucket bounds live in one place, db/counters.c, which passes
-- them to the fold and the read.

ALTER TABLE jobs ADD COLUMN request_id text;

CREATE TABLE job_duration_deltas (
    id        bigserial PRIMARY KEY,
    outcome   text NOT NULL,
    seconds   double precision NOT NULL
);

CREATE TABLE job_durations (
    outcome   text NOT NULL,
    le        double precision NOT NULL,   -- bucket upper bound, 'Infinity' for the last
    n         bigint NOT NULL DEFAULT 0,   -- jobs in this bucket only (not cumulative)
    seconds   double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (outcome, le)
);

-- The time a job ran: from its first claim to its end (0 for a job
-- cancelled or expired before any trainer claimed it).
CREATE FUNCTION job_durations_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_duration_deltas (outcome, seconds)
    VALUES (NEW.state, greatest(0, coalesce(extract(epoch FROM
            coalesce(NEW.finished_at, now()) - NEW.started_at), 0)));
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_duration_done AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IN ('queued', 'building', 'running') AND
                       NEW.state IN ('succeeded', 'failed', 'killed', 'timed_out'))
    EXECUTE FUNCTION job_durations_track();
